"""Customer media: the carriers orders arrive on, returned with the order or destroyed.

- :mod:`labd.media.model`: kinds, materials, dispositions, states and moves (no I/O)
- :mod:`labd.media.ledger`: the media tables and ``MediaLedger``, the object callers hold
- :mod:`labd.media.arrival`: carriers coming in (registered, named by a ticket, detected),
  linked to orders and jobs or dismissed
- :mod:`labd.media.custody`: an item's checked, chained moves until it is returned,
  destroyed and certified, or lost
- :mod:`labd.media.queries`: reading items, lists, overdue carriers and histories
- :mod:`labd.media.erasure`: erasing a customer's personal data, the custody kept
- :mod:`labd.media.detect`: sticks, disks, discs and cards put into the print server,
  through udev
"""
