"""Alerts: nobody has to watch labd.  Mail and a signed webhook, a daily digest.

- :mod:`labd.alerts.model`: kinds, conditions, errors (no I/O)
- :mod:`labd.alerts.settings`: ``[alerts]`` (parsed by :mod:`labd.config`)
- :mod:`labd.alerts.conditions`: what is true of the lab now, from the journal, the ledgers
  and the running daemon, each with a stable key and the hint ``labd status`` gives
- :mod:`labd.alerts.outbox`: the open alerts and the outbox, tables in the journal
- :mod:`labd.alerts.compose`: messages as people read them, grouped
- :mod:`labd.alerts.send`: SMTP (smtplib) and the webhook (urllib), the only network users
- :mod:`labd.alerts.digest`: the daily digest with the journal's head
- :mod:`labd.alerts.service`: one pass of the daemon's alerts loop, and ``labd alerts``

This package imports nothing at its top: :mod:`labd.config` reads
:mod:`labd.alerts.settings`, which must not wait for the rest of labd to load.
"""
