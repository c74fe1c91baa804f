"""Secure waste: misprints, uncollected orders and destroyed carriers, to the certificate.

- :mod:`labd.waste.model`: containers, entries and their life cycle (no I/O)
- :mod:`labd.waste.ledger`: the waste ledger callers hold, composing the parts below
- :mod:`labd.waste.containers`: a container's life cycle, open to certified
- :mod:`labd.waste.entries`: the entry register, written and read in one place
- :mod:`labd.waste.misprints`: misprints and the possible duplicates printing reports
- :mod:`labd.waste.uncollected`: finished orders nobody picked up
- :mod:`labd.waste.reports`: manifests, the certificates register, waste per reason
- :mod:`labd.waste.tables`: the waste tables and their rows
"""
