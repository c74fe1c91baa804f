"""The labd error hierarchy.

As in borgbackup, each class's docstring is its message template, filled with the
arguments it is raised with, and each class carries its exit code and a stable,
machine-readable ``code``.  Only :mod:`labd.cli` maps these to exit codes; everywhere
else library exceptions are translated at the adapter with ``raise ... from e``.
"""

from __future__ import annotations

import errno
from typing import ClassVar, Final


class LabdError(Exception):
    """Error: {}"""

    exit_code: ClassVar[int] = 2
    code: ClassVar[str] = "labd.error"

    def get_message(self) -> str:
        """Return the message built from the docstring template and the arguments."""
        # A docstring wrapped over several lines is one sentence.
        template = " ".join((type(self).__doc__ or "{}").split())
        try:
            return template.format(*self.args)
        except (IndexError, KeyError):
            return f"{template} {self.args!r}"

    def __str__(self) -> str:
        return self.get_message()


class ConfigError(LabdError):
    """{}: {}: {}"""

    exit_code = 3
    code = "config.invalid"

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(file, key, problem)
        self.file = file
        self.key = key
        self.problem = problem


class JournalError(LabdError):
    """Journal {}: {}"""

    exit_code = 4
    code = "journal.error"


class JournalUnavailable(JournalError):
    """Journal {}: {}"""

    # Transient: the journal is locked by another process, its disk is full or read-only,
    # or the disk failed a read or write.  Loops hold what they do and try again; labd runs.
    code = "journal.unavailable"


class StaleGuess(JournalError):
    """Journal {}: what a transaction took as already read had changed; it was rolled back"""

    # Not a failure: the caller of an optimistic transaction (Tx.expect, known_head) does
    # the same work again the usual way, reading first.
    code = "journal.stale_guess"


class JournalUnusable(JournalError):
    """Journal {}: {}"""

    # Fatal: the file is damaged or not a journal.  Nothing labd does can go on; it stops.
    code = "journal.unusable"


class JournalSchemaError(JournalUnusable):
    """Journal {} has schema version {}, newer than this labd understands ({}); upgrade labd."""

    code = "journal.schema_too_new"


class AlreadyRunning(LabdError):
    """labd is already running on {} (PID {}, since {}); stop it first, or give this one
    another state_dir."""

    exit_code = 11
    code = "daemon.already_running"


class AccessDenied(LabdError):
    """{}: permission denied. {}"""

    exit_code = 13
    code = "access.denied"


class IllegalTransition(JournalError):
    """Job {} cannot go from {} to {}."""

    code = "journal.illegal_transition"


class JobNotFound(LabdError):
    """No job {} in the journal."""

    exit_code = 5
    code = "job.not_found"


class JobActionRefused(LabdError):
    """Job {} is {}: {}"""

    # A person's decision on a job (retry, cancel, reprint, resolve) that its state does
    # not allow; the message says what can be done instead.  Not a journal fault: the
    # journal's own IllegalTransition (exit 4) stays for moves labd itself gets wrong.
    exit_code = 12
    code = "job.action_refused"

    def __init__(self, job_id: int, state: str, advice: str) -> None:
        super().__init__(job_id, state, advice)
        self.job_id = job_id
        self.state = state
        self.advice = advice


class UnknownName(LabdError):
    """No {} {!r} in {}; the known ones: {}."""

    # A filter naming a hot folder or printer nobody configured: an empty list would look
    # like "no such jobs", so it is an error that names the known ones.
    code = "name.unknown"


class InputRejected(LabdError):
    """{}"""

    exit_code = 6
    code = "input.rejected"

    def __init__(self, reason: str, *, rule: str = "input.rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class Interrupted(LabdError):
    """Stopped before {} finished; it runs again at the next start."""

    exit_code = 0
    code = "daemon.interrupted"


class IntakeError(LabdError):
    """Hot folder {}: {}"""

    exit_code = 7
    code = "intake.error"


class PrintError(LabdError):
    """Printing on {}: {}"""

    exit_code = 8
    code = "print.error"

    def __init__(self, queue: str, problem: str, *, transient: bool = True) -> None:
        super().__init__(queue, problem)
        self.queue = queue
        self.problem = problem
        # transient: printer stopped, queue rejecting, CUPS down; the job is held and retried.
        self.transient = transient


class EmbeddedPrintServerError(LabdError):
    """Embedded print server: {}"""

    exit_code = 9
    code = "embedded_cups.error"


class MediaError(LabdError):
    """Media {}: {}"""

    exit_code = 20
    code = "media.error"


class MediaNotFound(MediaError):
    """No media item {} in the ledger."""

    exit_code = 21
    code = "media.not_found"


class MediaMoveRefused(MediaError):
    """Media item {} cannot go from {} to {}: {}"""

    exit_code = 22
    code = "media.move_refused"


class ImportIncomplete(MediaError):
    """Media item {}: the import is incomplete, nothing was put into the hot folder: {}"""

    # A photo on the medium could not be read (a scratched disc, a card error) or changed
    # under the copy: printing the rest of the order silently would be wrong.
    exit_code = 27
    code = "media.import_incomplete"


class WasteError(LabdError):
    """Secure waste: {}"""

    exit_code = 23
    code = "waste.error"


class ContainerNotFound(WasteError):
    """No waste container {} in the ledger."""

    exit_code = 24
    code = "waste.container_not_found"


class ContainerMoveRefused(WasteError):
    """Waste container {} cannot go from {} to {}: {}"""

    exit_code = 25
    code = "waste.container_move_refused"


class WasteEntryRefused(WasteError):
    """Waste entry refused: {}"""

    exit_code = 26
    code = "waste.entry_refused"


# The rule of a job that an error nobody foresaw stopped: held (or quarantined, at intake)
# for a technician, while labd goes on with every other job.
INTERNAL_RULE: Final = "internal.error"
# Errors of the disk under the spool or journal: they hold intake, they do not stop labd.
DISK_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO})


def transient_problem(error: BaseException) -> str | None:
    """What is wrong, if ``error`` means "not now" (journal locked or full, disk trouble)."""
    if isinstance(error, JournalUnavailable):
        return error.get_message()
    if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return None


def unexpected_reason(error: BaseException, *, doing: str, job_id: int) -> str:
    """The reason recorded for a job an unforeseen error stopped: what, and where to look."""
    text = " ".join(str(error).split())[:200] or "no message"
    return (
        f"labd failed while {doing}: {type(error).__name__}: {text}. This is a fault in "
        f"labd, not in the photos: the log has the details (journalctl -u labd, job_id "
        f"{job_id}); then retry or cancel the job"
    )


def is_jobs_fault(error: BaseException) -> bool:
    """True when ``error`` is one job's to bear: not the journal's nor the disk's trouble.

    Storage errors (transient: hold and try again; fatal: stop) concern every job alike;
    any other exception raised while working on one job is that job's failure.
    """
    if not isinstance(error, Exception) or isinstance(error, JournalUnusable):
        return False
    return transient_problem(error) is None
