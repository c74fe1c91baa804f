"""Fault injection for the crash and failure-boundary tests; inert in production.

Only a real process that dies or fails exactly between two steps proves that a restart
loses nothing and prints nothing twice, and no signal sent from outside can hit those
instants reliably.  So the tests (tests/system/test_crash_kill_points.py,
tests/system/test_failure_boundaries.py, tests/system/test_service.py) start labd with
``LABD_FAULT`` naming one fault:

- a kill point (:data:`KILL_POINTS`): labd SIGKILLs itself there;
- ``hang_convert``: the work loop hangs forever on its first job, as a conversion stuck on
  a hostile file would;
- ``raise_<step>`` (:data:`RAISE_STEPS`): an unexpected exception at that step, for jobs
  whose hot-folder entry contains :data:`FAULT_MARK` only, so the others show that one
  job's failure stops nothing else.

The daemon arms the fault once at start (:func:`arm`); unarmed, each check costs one
comparison.  Never set ``LABD_FAULT`` in production: ``labd doctor`` has nothing to say
about it, but the log does (``daemon.fault_armed``).
"""

from __future__ import annotations

import os
import signal
from typing import Final

import structlog

from labd.errors import ConfigError

log = structlog.get_logger(__name__)

FAULT_ENV: Final = "LABD_FAULT"
PRINT_KILL_POINTS: Final = (
    "claimed",  # the job is CLAIMED, conversion not started
    "converted",  # CONVERTED committed, nothing submitted
    "submit_intent",  # the submit intent committed, the IPP request not sent
    "submitted_unrecorded",  # CUPS took the job, its id not yet in the journal
    "following",  # SUBMITTED, CUPS' state read but not recorded
)
QUARANTINE_KILL_POINTS: Final = (
    "refused",  # intake refused the entry: QUARANTINED committed, files still in the spool
    "convert_refused",  # conversion refused it: QUARANTINED committed, files in the spool
    "quarantine_note",  # the reason file written, the files not yet moved beside it
    "quarantine_moved",  # the files moved into the quarantine, nothing after
)
KILL_POINTS: Final = (*PRINT_KILL_POINTS, *QUARANTINE_KILL_POINTS)
HANG: Final = "hang_convert"
RAISE_STEPS: Final = ("intake", "claim", "convert", "submit", "follow", "retention")
# Only entries whose name holds this are hit by a raise_<step> fault.
FAULT_MARK: Final = "labd-fault"
FAULTS: Final = (*KILL_POINTS, HANG, *(f"raise_{s}" for s in RAISE_STEPS))

_armed: str | None = None


class InjectedFault(RuntimeError):
    """An unexpected error, injected by a test (LABD_FAULT=raise_<step>)."""


def fault_from_env() -> str | None:
    """The fault named by $LABD_FAULT, or None; a typo is an error, never ignored."""
    fault = os.environ.get(FAULT_ENV) or None
    if fault is not None and fault not in FAULTS:
        raise ConfigError(f"${FAULT_ENV}", fault, f"not a fault; one of {', '.join(FAULTS)}")
    return fault


def arm(fault: str | None) -> None:
    """Arm ``fault`` (None: disarm) for this process."""
    global _armed  # noqa: PLW0603  # one process-wide switch, set once at start
    _armed = fault
    if fault is not None:
        log.warning("daemon.fault_armed", fault=fault, pid=os.getpid())


def armed() -> str | None:
    """The armed fault, or None."""
    return _armed


def crash_point(point: str) -> None:
    """Die here, without any clean-up, if the armed fault is this kill point."""
    if _armed == point:
        log.warning("daemon.fault_injected", fault=point, pid=os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


def raise_point(step: str, name: str) -> None:
    """Raise InjectedFault if ``raise_<step>`` is armed and ``name`` carries the mark."""
    if _armed is not None and _armed == f"raise_{step}" and FAULT_MARK in name:
        log.warning("daemon.fault_injected", fault=_armed)
        raise InjectedFault(f"injected at {step}")


def should_hang() -> bool:
    """True when the work loop is to hang on its first job."""
    return _armed == HANG
