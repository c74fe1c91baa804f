"""Customer media: the carriers orders arrive on, returned with the order or destroyed.

- :mod:`labd.media.model`: kinds, materials, dispositions, states and moves (no I/O)
- :mod:`labd.media.ledger`: the media ledger in the journal, its tables and its SQL
- :mod:`labd.media.detect`: USB sticks plugged into the print server, through udev
"""
