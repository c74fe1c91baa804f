"""Secure waste: misprints, uncollected orders and destroyed carriers, to the certificate.

- :mod:`labd.waste.model`: containers, entries and their life cycle (no I/O)
- :mod:`labd.waste.ledger`: the waste ledger in the journal, its tables and its SQL
"""
