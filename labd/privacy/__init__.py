"""Privacy: what labd keeps of customers, for how long, and what it can show about it.

- :mod:`labd.privacy.retention`: the retention schedule (what is due, purging it) and the
  one object callers hold for all of the below; the tables of them all
- :mod:`labd.privacy.holds`: legal holds, placed and released, that stop deletion
- :mod:`labd.privacy.purge`: the crash-safe purge of one job's files and personal data
- :mod:`labd.privacy.erasure`: erasure on request, with a tombstone that holds no
  personal data
- :mod:`labd.privacy.model`: the errors and records these share (no I/O)
- :mod:`labd.privacy.records`: the record of processing activities (GDPR Art. 30) drawn
  from the configuration, with the lab's ``[controller]``
"""
