"""A job's inputs to its print files: all of them or none (the daemon), or what can be made
(``labd convert``).  Both go through :func:`convert_batch`, in this process or in a pool.

Output names are neutral, never a customer's: ``0001.jpg`` for the first input of a JPEG
product, ``0001.pdf`` for a pass-through PDF, ``book.pdf`` for a photobook.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from labd.convert import jpegdecode
from labd.convert.image import RULE_EMPTY, ConvertedFile, check_image, convert_image
from labd.convert.pdf import bind_photobook, check_pdf, copy_pdf, page_order
from labd.errors import InputRejected
from labd.fsutil import fsync_dir
from labd.logging import configure as configure_logging
from labd.model import Layout, OutputFormat, Product

BOOK_NAME: Final = "book.pdf"
# How long a conversion worker is given to end once told to, before it is killed.
WORKER_EXIT_SECONDS: Final = 5.0


def output_name(seq: int, suffix: str = "jpg") -> str:
    """The print file's name for the ``seq``-th input (from 1): never a customer's name."""
    return f"{seq:04d}.{suffix}"


def _page_name(seq: int) -> str:
    # Hidden and .tmp, like atomic_write's temporary files: nothing else takes them.
    return f".page-{seq:04d}.jpg.tmp"


@dataclass(frozen=True)
class BatchResult:
    """What a batch made, and which inputs (0-based) it could not use, in input order."""

    converted: list[ConvertedFile]
    rejected: list[tuple[int, InputRejected]]
    peak_rss_kib: int  # the largest peak resident memory of a process that converted


@dataclass(frozen=True)
class _Outcome:
    """One unit's result, as it crosses the process boundary (plain, picklable values)."""

    index: int
    converted: ConvertedFile | None
    rejected: tuple[str, str] | None  # (reason, rule)
    peak_rss_kib: int


def _unit(product: Product, index: int, src: Path, out: Path, *, check_only: bool) -> _Outcome:
    """Convert (or only check) one input; runs in this process or in a pool worker."""
    converted = None
    try:
        if product.format is OutputFormat.PDF and product.layout is Layout.PASSTHROUGH:
            pages = check_pdf(product, src)
            if not check_only:
                copy_pdf(src, out)
                w, h = product.page_pixels
                converted = ConvertedFile(out, w, h, sources=(index,), pages=pages)
        elif check_only:
            check_image(product, src)
        else:
            converted = replace(convert_image(product, src, out), sources=(index,))
    except InputRejected as e:
        return _Outcome(index, None, (e.reason, e.rule), peak_rss())
    return _Outcome(index, converted, None, peak_rss())


def check_input(product: Product, src: Path) -> InputRejected | None:
    """Why conversion would refuse ``src`` for ``product``, or None: the very same checks."""
    outcome = _unit(product, 0, src, src, check_only=True)
    if outcome.rejected is None:
        return None
    reason, rule = outcome.rejected
    return InputRejected(reason, rule=rule)


def peak_rss() -> int:
    """This process's peak resident memory in KiB: its own (Linux's VmHWM), not getrusage's
    ru_maxrss, which a spawned worker inherits from the process it was started by (the
    kernel keeps the parent's peak over fork and exec)."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


_PR_SET_PDEATHSIG: Final = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """End this worker when labd ends, even by SIGKILL (no orphans left holding images).

    Linux sends the signal when the thread that started the worker ends: labd's work
    thread, which lives as long as labd does.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: the pool's own clean-up is all there is
    if os.getppid() != parent:  # labd died before the line above: nobody is waiting
        os._exit(1)


def _worker_init(log_level: str, parent: int) -> None:
    _die_with_parent(parent)
    # Ctrl-C on a terminal reaches the whole process group: labd stops its workers itself,
    # so a worker must not die of it half-way (with a traceback on the technician's screen).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A spawned worker starts with structlog's defaults, which print every debug line.
    configure_logging(level=log_level)


def process_pool(
    workers: int, *, log_level: str = "WARNING", fork: bool = False
) -> ProcessPoolExecutor:
    """A pool of ``workers`` conversion processes.

    Spawned: no lock or thread is inherited, but each worker starts Python and imports
    Pillow and libvips anew (0.15-0.3 s of CPU).  ``fork``: forked instead, warm at
    once; only where fork_is_safe() (a short-lived command such as ``labd convert``, never
    the daemon, whose threads may hold locks at any moment).
    """
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork" if fork else "spawn"),
        initializer=_worker_init,
        initargs=(log_level, os.getpid()),
    )


def fork_is_safe() -> bool:
    """Whether a forked worker would inherit no lock or thread pool in use: this process runs
    one thread, native ones counted (Linux's /proc), and libvips has not run here yet."""
    if jpegdecode.pipeline_run():
        return False
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir()) == 1
    except OSError:
        return False


class SharedPool:
    """One conversion pool for a long-running process (the daemon), started at first use.

    ``get()`` returns the running pool, or starts one (again, after ``reset()``: when a job
    saw BrokenProcessPool: a worker was killed, by the OOM killer say, and the pool is of no
    more use).  Spawning a worker costs about 0.3 s, once, not once per job.  Thread-safe.
    """

    def __init__(self, workers: int, *, log_level: str = "WARNING") -> None:
        if workers < 1:
            raise ValueError(f"workers: {workers}, expected 1 or more")
        self.workers = workers
        self._log_level = log_level
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = process_pool(self.workers, log_level=self._log_level)
            return self._pool

    def reset(self) -> None:
        """Drop the pool (broken, or no longer wanted); the next get() starts a new one."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the workers, waiting for the files they are converting (at exit)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            _shut_down(pool)


def _shut_down(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool``'s workers, waiting for their files; then end any worker still there.

    When a worker dies while futures are being cancelled (labd stopping mid-order),
    Python 3.11's executor thread can fail (InvalidStateError on a cancelled future)
    before it ends the other workers; those would then hold the process at exit, which
    waits for its children, until systemd kills it.  Its private list of workers is the
    only handle on them.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=True, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
            worker.join(WORKER_EXIT_SECONDS)
        if worker.is_alive():
            worker.kill()
            worker.join(WORKER_EXIT_SECONDS)


def outputs_for(product: Product, count: int, out_dir: Path) -> list[Path]:
    """Every file a batch of ``count`` inputs may write in ``out_dir``, temporary ones too."""
    if product.layout is Layout.PHOTOBOOK:
        return [out_dir / BOOK_NAME] + [out_dir / _page_name(n) for n in range(1, count + 1)]
    suffix = "pdf" if product.format is OutputFormat.PDF else "jpg"
    return [out_dir / output_name(n, suffix) for n in range(1, count + 1)]


def convert_batch(
    product: Product,
    inputs: Sequence[Path],
    out_dir: Path,
    *,
    pool: Executor | None = None,
    after_each: Callable[[], None] | None = None,
    check_after_reject: bool = False,
    help_while_starting: bool = False,
) -> BatchResult:
    """Convert each input for ``product`` into ``out_dir``; bad inputs are reported, not raised.

    ``pool`` runs the files in parallel (see process_pool); without it they run here, one
    by one.  ``help_while_starting``: until the pool's first file is done (its workers are
    still starting: 0.4-0.5 s each), this process converts files from the end of the list
    itself (``labd convert``, whose pool is new).  ``after_each`` runs here after every
    file (progress; it may raise to stop).  ``check_after_reject``: once a file is bad,
    later ones are only checked (the daemon, whose job is lost already).  A photobook is
    bound only if every page is good.  I/O failures propagate as OSError.
    """
    book = product.layout is Layout.PHOTOBOOK
    suffix = "pdf" if product.format is OutputFormat.PDF else "jpg"
    targets = [
        out_dir / (_page_name(n) if book else output_name(n, suffix))
        for n in range(1, len(inputs) + 1)
    ]
    units = list(zip(inputs, targets, strict=True))
    outcomes: list[_Outcome] = []
    if pool is None:
        for index, (src, out) in enumerate(units):
            bad = check_after_reject and any(o.rejected for o in outcomes)
            outcomes.append(_unit(product, index, src, out, check_only=bad))
            if after_each is not None:
                after_each()
    else:
        outcomes = _in_pool(
            product, units, pool, after_each, help_while_starting=help_while_starting
        )
    outcomes.sort(key=lambda o: o.index)
    rejected = [
        (o.index, InputRejected(o.rejected[0], rule=o.rejected[1])) for o in outcomes if o.rejected
    ]
    converted = [o.converted for o in outcomes if o.converted is not None]
    peak = max((o.peak_rss_kib for o in outcomes), default=0)
    if book:
        converted = _bind(product, inputs, converted, out_dir, bind=not rejected)
    return BatchResult(converted=converted, rejected=rejected, peak_rss_kib=peak)


def _in_pool(
    product: Product,
    units: list[tuple[Path, Path]],
    pool: Executor,
    after_each: Callable[[], None] | None,
    *,
    help_while_starting: bool,
) -> list[_Outcome]:
    """Convert ``units`` (input, output) in ``pool``; see convert_batch."""
    outcomes: list[_Outcome] = []
    futures: list[Future[_Outcome]] = [
        pool.submit(_unit, product, index, src, out, check_only=False)
        for index, (src, out) in enumerate(units)
    ]
    try:
        for index in reversed(range(len(futures)) if help_while_starting else ()):
            if any(f.done() for f in futures):
                break  # a worker is up: the pool takes the rest
            if futures[index].cancel():  # not yet taken by a worker: done here
                src, out = units[index]
                outcomes.append(_unit(product, index, src, out, check_only=False))
                if after_each is not None:
                    after_each()
        for future in as_completed(f for f in futures if not f.cancelled()):
            outcomes.append(future.result())
            if after_each is not None:
                after_each()
    finally:
        for future in futures:
            future.cancel()
    return outcomes


def _bind(
    product: Product,
    inputs: Sequence[Path],
    pages: list[ConvertedFile],
    out_dir: Path,
    *,
    bind: bool,
) -> list[ConvertedFile]:
    """Bind the converted pages into book.pdf (when ``bind``); the pages go either way."""
    try:
        if not bind or not pages:
            return []
        order = page_order([str(p) for p in inputs])
        by_index = {c.sources[0]: c for c in pages}
        out = out_dir / BOOK_NAME
        bind_photobook(product, [by_index[i].output for i in order], out)
        w, h = product.page_pixels
        ppi = tuple(by_index[i].ppi[0] for i in order)
        return [ConvertedFile(out, w, h, sources=tuple(order), pages=len(order), ppi=ppi)]
    finally:
        for page in pages:
            page.output.unlink(missing_ok=True)


def convert_job(
    product: Product,
    inputs: Sequence[Path],
    out_dir: Path,
    *,
    after_each: Callable[[], None] | None = None,
    pool: Executor | None = None,
) -> list[ConvertedFile]:
    """Convert every input to ``out_dir`` (0001.jpg, 0002.jpg ... in input order; 0001.pdf
    ... for pass-through PDFs; book.pdf for a photobook).

    If any input cannot be printed, no output remains and InputRejected names every bad
    file and why; its rule is the first bad file's.  Other errors (OSError) propagate, also
    with no output left.  ``after_each`` runs after every file: the daemon reports progress
    there, and may raise to abandon the job (on SIGTERM), which also leaves no output.
    """
    if not inputs:
        raise InputRejected("the job holds no files to print", rule=RULE_EMPTY)
    out_dir.mkdir(mode=0o700, exist_ok=True)
    outputs = outputs_for(product, len(inputs), out_dir)
    try:
        result = convert_batch(
            product, inputs, out_dir, pool=pool, after_each=after_each, check_after_reject=True
        )
    except BaseException:
        # Best effort: the error that stopped the job matters more than a failed clean-up.
        with contextlib.suppress(OSError):
            _remove(outputs)
        raise
    if result.rejected:
        _remove(outputs)
        errors = [e for _, e in result.rejected]
        raise InputRejected(_summary(len(inputs), errors), rule=errors[0].rule) from errors[0]
    return result.converted


def _remove(outputs: Sequence[Path]) -> None:
    """Remove every output this job may have written, also by an earlier, interrupted try."""
    for out in outputs:
        out.unlink(missing_ok=True)
    fsync_dir(outputs[0].parent)


# Reasons named one by one in a refusal; an order of thousands of bad files gets a count.
SUMMARY_REASONS: Final = 10


def join_reasons(reasons: Sequence[str]) -> str:
    """The first SUMMARY_REASONS reasons, joined by '; ', and how many more there are."""
    joined = "; ".join(reasons[:SUMMARY_REASONS])
    more = len(reasons) - SUMMARY_REASONS
    return f"{joined}; and {more} more" if more > 0 else joined


def _summary(total: int, rejected: Sequence[InputRejected]) -> str:
    files = "file" if total == 1 else "files"
    reasons = join_reasons([e.reason for e in rejected])
    return f"{len(rejected)} of {total} {files} cannot be printed: {reasons}"
