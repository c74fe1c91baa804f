"""Printing: the CUPS adapter and the embedded print server for the demo and the tests."""

from labd.printing.cups import CupsClient, CupsJobState, CupsJobStatus, QueueInfo
from labd.printing.embedded import EmbeddedPrintServer

__all__ = ["CupsClient", "CupsJobState", "CupsJobStatus", "EmbeddedPrintServer", "QueueInfo"]
