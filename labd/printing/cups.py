"""The CUPS adapter: hand print-ready files to CUPS queues and follow the jobs (pycups).

This is the only module that imports :mod:`cups`.  Every library failure leaves it as a
:class:`~labd.errors.PrintError` whose ``transient`` flag says whether waiting and
retrying can help (CUPS down, queue rejecting, server error) or a person must act first
(no such queue, a request CUPS refuses as malformed).
"""

from __future__ import annotations

import enum
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TypeVar

import cups
import structlog

from labd.errors import PrintError
from labd.printing.supplies import MARKER_ATTRIBUTES, Supply, supplies_of

log = structlog.get_logger(__name__)

_T = TypeVar("_T")

# IPP status codes (RFC 8011 section 4.1.6) that need their own wording.
_IPP_NOT_FOUND: Final = 0x0406
_IPP_NOT_ACCEPTING: Final = 0x0506
_IPP_SERVICE_UNAVAILABLE: Final = 0x0502
_IPP_CLIENT_ERRORS: Final = range(0x0400, 0x0500)

_IPP_PRINTER_STOPPED: Final = 5
_PRINTER_STATES: Final = {3: "idle", 4: "processing", _IPP_PRINTER_STOPPED: "stopped"}
# How long a queue seen to exist is trusted without asking CUPS again before a submit.
QUEUE_CHECK_SECONDS: Final = 5.0

_JOB_ATTRIBUTES: Final = [
    "job-id",
    "job-name",
    "job-state",
    "job-state-reasons",
    "job-state-message",
    "job-printer-state-message",
    "job-impressions-completed",
    "job-printer-uri",
    "time-at-creation",
    "job-preserved",
    "document-name-supplied",
]
_QUEUE_ATTRIBUTES: Final = [
    "printer-is-accepting-jobs",
    "printer-state",
    "printer-state-message",
    "printer-state-reasons",
    "printer-error-policy",
    *MARKER_ATTRIBUTES,  # the supply levels the printer last reported
]
_CUPSD_CONF: Final = "/admin/conf/cupsd.conf"


class CupsJobState(enum.StrEnum):
    """A CUPS job's state: the IPP ``job-state`` keywords (enum values 3 to 9)."""

    PENDING = "pending"
    HELD = "pending-held"
    PROCESSING = "processing"
    STOPPED = "processing-stopped"
    CANCELED = "canceled"
    ABORTED = "aborted"
    COMPLETED = "completed"

    @property
    def finished(self) -> bool:
        """True once CUPS is done with the job, printed or not."""
        return self in _FINISHED

    @classmethod
    def from_ipp(cls, value: int) -> CupsJobState:
        """Return the state for an IPP job-state enum value (3 to 9)."""
        try:
            return _BY_IPP_VALUE[value]
        except KeyError:
            raise ValueError(f"not an IPP job-state: {value!r}") from None


_BY_IPP_VALUE: Final = dict(zip(range(3, 10), CupsJobState, strict=True))
_FINISHED: Final = frozenset({CupsJobState.CANCELED, CupsJobState.ABORTED, CupsJobState.COMPLETED})


@dataclass(frozen=True)
class CupsJobStatus:
    """What CUPS says about one job.

    ``queue`` and ``document_name`` (the file name the document was submitted under) tell
    apart several CUPS jobs of one labd job, which share a title.
    """

    job_id: int
    state: CupsJobState
    reasons: tuple[str, ...]
    message: str
    impressions: int | None
    queue: str = ""
    document_name: str = ""
    created: int | None = None  # time-at-creation, seconds since the epoch (CUPS' clock)
    preserved: bool | None = None  # job-preserved: CUPS still holds the job's documents
    name: str = ""  # job-name: labd-<job>-<output> for labd's jobs


@dataclass(frozen=True)
class QueueInfo:
    """What CUPS says about one queue."""

    accepting: bool
    stopped: bool
    reason: str  # printer-state-message or -reasons, for a technician
    error_policy: str
    state: str = ""  # idle, processing or stopped
    reasons: tuple[str, ...] = ()  # printer-state-reasons: media-empty, marker-supply-low ...
    message: str = ""  # printer-state-message
    supplies: tuple[Supply, ...] = ()  # ink, paper ... as the printer last reported them


class CupsClient:
    """Talks to one CUPS server: the libcups default (``None``), a socket path, or host[:port].

    pycups connections are not thread-safe: each thread gets its own, opened on first use
    and dropped after any failure so that the next call reconnects.
    """

    def __init__(self, server: str | None = None) -> None:
        self.server = server
        self._local = threading.local()
        self._queue_seen: dict[str, float] = {}  # queue -> when it was last seen to exist

    @property
    def where(self) -> str:
        """The server, as a technician would look for it."""
        return self.server if self.server is not None else cups.getServer()

    def submit(
        self, queue: str, path: Path, *, title: str, options: Mapping[str, str] | None = None
    ) -> int:
        """Send one file to a queue as one job named ``title``; return the CUPS job id.

        CUPS records ``path.name`` as the document name in its job history, so print files
        must carry neutral names (no customer file names).
        """
        if not path.is_file():
            raise PrintError(queue, f"print file {path} does not exist", transient=False)
        # libcups looks an unknown queue name up on the default server and the network
        # (cupsGetNamedDest), which would leave the server this client is bound to:
        # only queues that exist here get that far.
        checked = self._queue_seen.get(queue)
        if checked is None or time.monotonic() - checked > QUEUE_CHECK_SECONDS:
            attributes = self._queue_attributes(queue)
            if attributes is None:
                raise PrintError(queue, f"no CUPS queue named {queue!r}", transient=False)
            if not attributes.get("printer-is-accepting-jobs", True):
                raise PrintError(queue, _not_accepting(queue, attributes))
            # A queue seen a moment ago still exists: a burst of jobs asks once, not per
            # job (a queue that stops accepting meanwhile makes printFile itself fail).
            self._queue_seen[queue] = time.monotonic()
        try:
            job_id: int = self._call(
                queue,
                lambda c: c.printFile(queue, str(path), title, dict(options or {})),
                not_found=f"no CUPS queue named {queue!r}",
            )
        except PrintError:
            self._queue_seen.pop(queue, None)
            raise
        log.info("print.submitted", queue=queue, cups_job_id=job_id, title=title)
        return job_id

    def status(self, job_id: int) -> CupsJobStatus:
        """Return the current state of one CUPS job."""
        attributes: dict[str, Any] = self._call(
            f"CUPS job {job_id}",
            lambda c: c.getJobAttributes(job_id, requested_attributes=_JOB_ATTRIBUTES),
            not_found=f"CUPS has no job {job_id} (wrong server, or its history was purged)",
        )
        return _job_status(job_id, attributes)

    def statuses(self, job_ids: Collection[int]) -> dict[int, CupsJobStatus]:
        """The states of several CUPS jobs in one request (a follow pass over many jobs)."""
        if not job_ids:
            return {}
        wanted = set(job_ids)
        try:
            jobs: dict[int, dict[str, Any]] = self._call(
                "CUPS",
                lambda c: c.getJobs(
                    which_jobs="all",
                    my_jobs=False,
                    first_job_id=min(wanted),
                    requested_attributes=_JOB_ATTRIBUTES,
                ),
                not_found=None,
            )
        except _NotFound:
            return {}
        # CUPS 2.4 answers job-preserved wrongly (always false) to Get-Jobs: unknown here.
        return {
            i: replace(_job_status(i, a), preserved=None) for i, a in jobs.items() if i in wanted
        }

    def find_jobs(self, title: str) -> list[CupsJobStatus]:
        """Return every job CUPS remembers, finished ones included, named ``title``.

        CUPS hides job names from users other than the submitter unless its policy says
        otherwise: call this as the user that submitted.
        """
        return [s for s in self._jobs("all") if s.name == title]

    def history(self) -> list[CupsJobStatus]:
        """Every job CUPS remembers, finished ones included, oldest first."""
        return self._jobs("all")

    def _jobs(self, which: str) -> list[CupsJobStatus]:
        try:
            jobs: dict[int, dict[str, Any]] = self._call(
                "CUPS",
                lambda c: c.getJobs(
                    which_jobs=which, my_jobs=False, requested_attributes=_JOB_ATTRIBUTES
                ),
                not_found=None,
            )
        except _NotFound:
            return []  # an empty history, as some CUPS versions answer it
        return [_job_status(job_id, attributes) for job_id, attributes in sorted(jobs.items())]

    def queue_info(self, queue: str) -> QueueInfo | None:
        """The queue's state, or None if there is no such queue."""
        attributes = self._queue_attributes(queue)
        if attributes is None:
            return None
        return QueueInfo(
            accepting=bool(attributes.get("printer-is-accepting-jobs", True)),
            stopped=attributes.get("printer-state") == _IPP_PRINTER_STOPPED,
            reason=_queue_reason(attributes),
            error_policy=str(attributes.get("printer-error-policy") or ""),
            state=_PRINTER_STATES.get(int(attributes.get("printer-state") or 0), "unknown"),
            reasons=tuple(
                r for r in _strings(attributes.get("printer-state-reasons")) if r != "none"
            ),
            message=str(attributes.get("printer-state-message") or "").strip(),
            supplies=supplies_of(attributes),
        )

    def unfinished(self) -> list[CupsJobStatus]:
        """Every job CUPS has not finished yet (pending, held, processing, stopped)."""
        return self._jobs("not-completed")

    def server_config(self) -> str:
        """The text of the server's cupsd.conf, as CUPS serves it to administrators."""
        with tempfile.TemporaryFile(prefix="labd-cupsd-") as f:
            try:
                self._call("CUPS", lambda c: c.getFile(_CUPSD_CONF, fd=f.fileno()), not_found=None)
            except _NotFound as e:
                raise PrintError("CUPS", f"{self.where} does not serve {_CUPSD_CONF}") from e
            f.seek(0)
            return f.read().decode(errors="replace")

    def queue_accepting(self, queue: str) -> tuple[bool, str]:
        """Say whether the queue exists, is enabled and accepts jobs; if not, why."""
        attributes = self._queue_attributes(queue)
        if attributes is None:
            return False, f"no CUPS queue named {queue!r}"
        if not attributes.get("printer-is-accepting-jobs", True):
            return False, _not_accepting(queue, attributes)
        if attributes.get("printer-state") == _IPP_PRINTER_STOPPED:
            reason = _queue_reason(attributes)
            return False, f"queue {queue!r} is stopped (jobs wait in CUPS): {reason}"
        return True, ""

    def purge(self, cups_job_id: int) -> bool:
        """Delete CUPS' files and history entry of a job; False if CUPS no longer has it.

        With ``PreserveJobFiles`` set (``labd doctor`` warns about it) CUPS keeps print
        files of finished jobs on its own disk.  labd purges a job only once it is past
        its retention period or erased, when reconciliation no longer needs the entry.
        """
        try:
            self._call(
                f"CUPS job {cups_job_id}",
                lambda c: c.cancelJob(cups_job_id, purge_job=True),
                not_found=None,
            )
        except _NotFound:
            return False
        log.info("print.purged", cups_job_id=cups_job_id)
        return True

    def cancel(self, job_id: int) -> None:
        """Cancel a CUPS job; it stays in the job history as canceled."""
        self._call(
            f"CUPS job {job_id}",
            lambda c: c.cancelJob(job_id, purge_job=False),
            not_found=f"CUPS has no job {job_id}",
        )
        log.info("print.cancelled", cups_job_id=job_id)

    # -- connection and error translation ---------------------------------------------

    def _queue_attributes(self, queue: str) -> dict[str, Any] | None:
        """Return the queue's state attributes, or None if there is no such queue."""
        try:
            attributes: dict[str, Any] = self._call(
                queue,
                lambda c: c.getPrinterAttributes(queue, requested_attributes=_QUEUE_ATTRIBUTES),
                not_found=None,
            )
        except _NotFound:
            return None
        return attributes

    def _call(self, queue: str, request: Callable[[Any], _T], *, not_found: str | None) -> _T:
        """Run one request on this thread's connection, translating every failure.

        An IPP not-found becomes a PrintError saying ``not_found``, or _NotFound if None.
        """
        try:
            connection = self._connection()
            return request(connection)
        except cups.IPPError as e:
            self._local.connection = None
            if _status(e) == _IPP_NOT_FOUND and not_found is None:
                raise _NotFound from e
            raise self._ipp_error(queue, e, not_found or "not found") from e
        except cups.HTTPError as e:
            self._local.connection = None
            raise PrintError(queue, f"CUPS at {self.where} answered HTTP status {e.args[0]}") from e
        except (RuntimeError, OSError) as e:  # pycups: "failed to connect to server"
            self._local.connection = None
            raise PrintError(queue, f"CUPS is not reachable at {self.where} ({e})") from e

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self.server is None:
                connection = cups.Connection()
            else:
                # host= binds this connection alone; cups.setServer() would change the
                # server for everything else libcups does in this thread.
                host, port = _split_server(self.server)
                connection = (
                    cups.Connection(host=host)
                    if port is None
                    else cups.Connection(host=host, port=port)
                )
            self._local.connection = connection
            log.debug("print.cups_connected", server=self.where)
        return connection

    def _ipp_error(self, queue: str, error: cups.IPPError, not_found: str) -> PrintError:
        status = _status(error)
        message = error.args[1] if len(error.args) > 1 else ""
        if status == _IPP_NOT_FOUND:
            return PrintError(queue, not_found, transient=False)
        if status == _IPP_NOT_ACCEPTING:
            return PrintError(queue, f"queue {queue!r} is not accepting jobs: {message}")
        if status == _IPP_SERVICE_UNAVAILABLE:
            return PrintError(queue, f"CUPS is not reachable at {self.where} ({message})")
        # IPP's own split: a client error will fail again unchanged, a server error may not.
        return PrintError(
            queue,
            f"CUPS refused the request: {message} (IPP status 0x{status:04x})",
            transient=status not in _IPP_CLIENT_ERRORS,
        )


class _NotFound(Exception):
    """CUPS answered client-error-not-found where the caller treats that as an answer."""


def _split_server(server: str) -> tuple[str, int | None]:
    """Split 'host[:port]' (IPv6 in brackets); a socket path or a bare host has no port."""
    if server.startswith("/"):
        return server, None
    host, colon, port = server.rpartition(":")
    if colon and port.isdigit() and (host.startswith("[") or ":" not in host):
        return host.strip("[]"), int(port)
    return server.strip("[]"), None


def _status(error: cups.IPPError) -> int:
    status = error.args[0] if error.args else -1
    return status if isinstance(status, int) else -1


def _not_accepting(queue: str, attributes: Mapping[str, Any]) -> str:
    return f"queue {queue!r} is not accepting jobs: {_queue_reason(attributes)}"


def _queue_reason(attributes: Mapping[str, Any]) -> str:
    message = str(attributes.get("printer-state-message") or "").strip()
    reasons = [r for r in _strings(attributes.get("printer-state-reasons")) if r != "none"]
    return message or ", ".join(reasons) or "no reason given"


def _strings(value: Any) -> tuple[str, ...]:
    """pycups gives a 1setOf attribute with one value as a plain value, else as a list."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _job_status(job_id: int, attributes: Mapping[str, Any]) -> CupsJobStatus:
    impressions = attributes.get("job-impressions-completed")
    created = attributes.get("time-at-creation")
    preserved = attributes.get("job-preserved")
    printer_uri = str(attributes.get("job-printer-uri") or "")
    return CupsJobStatus(
        job_id=job_id,
        state=CupsJobState.from_ipp(int(attributes["job-state"])),
        reasons=_strings(attributes.get("job-state-reasons")),
        message=str(
            attributes.get("job-state-message") or attributes.get("job-printer-state-message") or ""
        ),
        impressions=impressions if isinstance(impressions, int) else None,
        queue=printer_uri.rpartition("/")[2],
        document_name=str(attributes.get("document-name-supplied") or ""),
        created=created if isinstance(created, int) else None,
        name=str(attributes.get("job-name") or ""),
        preserved=preserved if isinstance(preserved, bool) else None,
    )
