"""Privacy: what labd keeps of customers, for how long, and what it can show about it.

- :mod:`labd.privacy.retention`: retention periods, legal holds and erasure on request,
  each step journaled, with a tombstone that holds no personal data
- :mod:`labd.privacy.report`: the supervisor's daily and weekly report, and the record of
  processing activities (GDPR Art. 30) drawn from the configuration
"""
