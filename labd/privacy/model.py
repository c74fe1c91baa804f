"""Privacy's vocabulary: what retention, legal holds and erasure speak in (no I/O).

The retention schedule (:mod:`labd.privacy.retention`), the legal holds
(:mod:`labd.privacy.holds`), the purge of one job (:mod:`labd.privacy.purge`) and erasure on
request (:mod:`labd.privacy.erasure`) share these errors and records; keeping them here lets
each of those modules import the others' words without importing their logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol

from labd.errors import LabdError
from labd.model import JobState

# Retention runs from the moment a job entered one of these.
RETAINED_STATES: Final = (JobState.DONE, JobState.QUARANTINED, JobState.CANCELED)


class RetentionError(LabdError):
    """Retention: {}"""

    exit_code: ClassVar[int] = 30
    code: ClassVar[str] = "retention.error"


class ErasureRefused(RetentionError):
    """Erasure refused: {}"""

    exit_code: ClassVar[int] = 31
    code: ClassVar[str] = "erasure.refused"


class HoldNotFound(RetentionError):
    """No active legal hold {}."""

    exit_code: ClassVar[int] = 32
    code: ClassVar[str] = "retention.hold_not_found"


class CupsPurger(Protocol):
    """What retention needs of CUPS (:meth:`labd.printing.CupsClient.purge`)."""

    def purge(self, cups_job_id: int) -> bool:
        """Delete CUPS' files and history entry of a job; False if CUPS has no such job."""
        ...


@dataclass
class Deleted:
    """What one purge deleted: counts and sizes, never names."""

    spool_files: int = 0
    spool_bytes: int = 0
    quarantine_files: int = 0
    quarantine_bytes: int = 0
    cups_jobs: int = 0

    def as_data(self) -> dict[str, int]:
        """Event data."""
        return {
            "spool_files": self.spool_files,
            "spool_bytes": self.spool_bytes,
            "quarantine_files": self.quarantine_files,
            "quarantine_bytes": self.quarantine_bytes,
            "cups_jobs": self.cups_jobs,
        }


@dataclass
class Summary:
    """The outcome of one :meth:`labd.privacy.retention.Retention.run_due`."""

    purged: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)  # purges a crash had cut short
    held: list[int] = field(default_factory=list)  # due, but under a legal hold
    failed: list[int] = field(default_factory=list)  # tried again at the next run
    files: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "purged": self.purged,
            "resumed": self.resumed,
            "held": self.held,
            "failed": self.failed,
            "files": self.files,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Hold:
    """A legal hold: on one job, or on every job of an order."""

    id: int
    job_id: int | None
    order_ref: str | None  # personal
    reason: str | None  # personal
    placed_by: str
    placed_at: str
    released_by: str | None
    released_at: str | None


@dataclass(frozen=True)
class Due:
    """A job whose retention period has ended, or will."""

    job_id: int
    hotfolder: str
    state: JobState
    finished_at: str
    due_at: str
    held: bool


@dataclass(frozen=True)
class ErasurePlan:
    """What an erasure would delete (a dry run prints it)."""

    jobs: tuple[int, ...]
    purge: tuple[int, ...]  # jobs whose files go (the rest are PURGED or WITHDRAWN already)
    files: int
    bytes: int
    cups_jobs: int
    media_items: int
    waste_entries: int
    pending: tuple[int, ...] = ()  # purges begun but not finished (CUPS unreachable)
    # Jobs whose files are on other nodes of a shared journal: node -> jobs.  Each node
    # purges its own on its next retention pass; erasure.done follows the last.
    elsewhere: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    request: int | None = None  # the tombstone's sequence number (erasure.requested)
