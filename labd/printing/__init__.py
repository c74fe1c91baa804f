"""Printing: the CUPS adapter (pycups).

The embedded print server for the demo and the tests is :mod:`labd.demo.embedded`.
"""

from labd.printing.cups import CupsClient, CupsJobState, CupsJobStatus, QueueInfo

__all__ = ["CupsClient", "CupsJobState", "CupsJobStatus", "QueueInfo"]
