"""What the printing steps work with, in one place the daemon can update on a reload."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from labd.clock import Clock, epoch
from labd.config import Config
from labd.journal import Journal
from labd.model import Job
from labd.printing.cups import CupsClient


@dataclass
class PrintContext:
    """The configuration, journal, CUPS client and clock printing uses; ``stop`` is set
    when labd stops.  A reload replaces ``config`` (and ``cups`` for a new server) here,
    and every step sees the new ones."""

    config: Config
    journal: Journal
    cups: CupsClient
    clock: Clock
    stop: threading.Event = field(default_factory=threading.Event)

    def age(self, job: Job) -> float:
        """Seconds since the job was claimed, for the one summary line per finished job."""
        return round(self.clock.now().timestamp() - epoch(job.created_at), 3)
