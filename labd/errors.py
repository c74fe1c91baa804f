"""The labd error hierarchy.

As in borgbackup, each class's docstring is its message template, filled with the
arguments it is raised with, and each class carries its exit code and a stable,
machine-readable ``code``.  Only :mod:`labd.cli` maps these to exit codes; everywhere
else library exceptions are translated at the adapter with ``raise ... from e``.
"""

from __future__ import annotations

from typing import ClassVar


class LabdError(Exception):
    """Error: {}"""

    exit_code: ClassVar[int] = 2
    code: ClassVar[str] = "labd.error"

    def get_message(self) -> str:
        """Return the message built from the docstring template and the arguments."""
        template = (type(self).__doc__ or "{}").strip()
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


class JournalSchemaError(JournalError):
    """Journal {} has schema version {}, newer than this labd understands ({}); upgrade labd."""

    code = "journal.schema_too_new"


class IllegalTransition(JournalError):
    """Job {} cannot go from {} to {}."""

    code = "journal.illegal_transition"


class JobNotFound(LabdError):
    """No job {} in the journal."""

    exit_code = 5
    code = "job.not_found"


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
