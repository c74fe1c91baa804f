"""What an alert is, without any I/O: its kinds, the conditions that raise one, its errors.

A :class:`Condition` is something true of the lab right now that a person should hear of
(a printer stopped for a quarter of an hour, a job UNCERTAIN).  Each has a stable
:attr:`~Condition.key`: the alert is raised when a key appears and resolved when it is
gone, however often it is evaluated in between.  Its texts name labd's own ids (jobs,
printers, hot folders, media items, containers); what may name a customer (file names,
order references, reasons that quote them) is kept apart in :attr:`~Condition.personal`
and leaves the server only when ``[alerts] include_personal`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final

from labd.errors import LabdError

__all__ = [
    "ALERT_KINDS",
    "DEFAULT_URGENT",
    "AlertError",
    "AlertKind",
    "Condition",
    "DeliveryFailed",
    "Status",
]


class AlertKind(StrEnum):
    """What an alert is about; the names ``[alerts]`` routes and marks urgent."""

    PRINTER_STOPPED = "printer_stopped"  # a job waits on a stopped printer too long
    JOB_HELD = "job_held"  # held for another reason (CUPS refused, aborted, an error) too long
    JOB_UNCERTAIN = "job_uncertain"  # a supervisor must say whether it printed
    POSSIBLE_DUPLICATE = "possible_duplicate"  # CUPS may have printed a job twice
    QUARANTINED = "quarantined"  # refused input in a hot folder, nobody closed it yet
    LOOP_STALLED = "loop_stalled"  # a loop made no progress for stall_seconds
    DAEMON_RESTARTED = "daemon_restarted"  # labd started after it was killed or crashed
    INTAKE_HELD = "intake_held"  # disk full, spool unwritable, journal unreachable
    MEDIA_OVERDUE = "media_overdue"  # a customer's carrier ready too long, still here
    WASTE_CERTIFICATE_OVERDUE = "waste_certificate_overdue"  # collected, no certificate
    RETENTION_FAILED = "retention_failed"  # a purge (retention or erasure) did not finish
    JOURNAL_BROKEN = "journal_broken"  # the hash chain does not verify
    DIGEST = "digest"  # the daily digest
    TEST = "test"  # `labd alerts test`


ALERT_KINDS: Final = tuple(k.value for k in AlertKind if k is not AlertKind.TEST)
# Sent even in quiet hours: what stops the whole lab, or puts the record in doubt.
DEFAULT_URGENT: Final = frozenset(
    {
        AlertKind.INTAKE_HELD,
        AlertKind.LOOP_STALLED,
        AlertKind.DAEMON_RESTARTED,
        AlertKind.JOURNAL_BROKEN,
    }
)


class Status(StrEnum):
    """What a message in the outbox says of its alert."""

    RAISED = "raised"
    RESOLVED = "resolved"
    DIGEST = "digest"
    TEST = "test"


@dataclass(frozen=True)
class Condition:
    """One thing that is true now and wants a person; see the module's docstring."""

    key: str  # stable while it holds: "printer_stopped:minilab", "job_uncertain:42"
    kind: AlertKind
    subject: str  # one line: what and which (labd's ids only)
    what: str  # what happened, in a sentence or two (labd's ids only)
    todo: str  # what to do: the hint `labd status` and the README's troubleshooting give
    personal: str = ""  # names a customer may be recognised by; sent only if configured
    # A moment rather than a state (labd restarted): raised once, never "resolved".
    notice: bool = False


class AlertError(LabdError):
    """Alerts: {}"""

    exit_code: ClassVar[int] = 40
    code: ClassVar[str] = "alerts.error"


class DeliveryFailed(AlertError):
    """The {} channel could not send: {}"""

    exit_code: ClassVar[int] = 41
    code: ClassVar[str] = "alerts.delivery_failed"

    def __init__(self, channel: str, problem: str) -> None:
        super().__init__(channel, problem)
        self.channel = channel
        self.problem = problem
