"""Test data made the same way everywhere: labs, journals, intake rigs.

Every test module takes what it needs from here rather than building its own, and no test
module imports from another.
"""

from __future__ import annotations

import contextlib
import io
import json
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from labd import spool
from labd.cli import main
from labd.clock import ManualClock
from labd.config import DEFAULT_IGNORE, Config, parse
from labd.demo.embedded import EmbeddedPrintServer
from labd.intake import Intake
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import (
    HotFolder,
    Job,
    JobKind,
    JobState,
    Layout,
    OrderReady,
    OutputFormat,
    Product,
)
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.schemas import open_journal
from labd.store import PostgresLocation, StoreLocation
from tests.imagegen import make_photo

STABLE = 5.0  # the intake rig's stability period, in seconds of the manual clock


@dataclass
class Rig:
    """An Intake over one hot folder, with its journal and a manual clock."""

    intake: Intake
    hot: Path
    root: Path
    claimed: list[Job]
    journal: Journal
    clock: ManualClock
    journal_at: StoreLocation | None = None  # None: the SQLite file under root/state

    def settle(self) -> None:
        """Two looks a quiet period apart: whatever is stable is claimed."""
        self.intake.tick()
        self.clock.advance(STABLE + 0.1)
        self.intake.tick()

    def job(self, entry: str) -> Job:
        [job] = [j for j in self.journal.jobs() if j.entry == entry]
        return job

    def quarantined(self, job: Job) -> list[Path]:
        folder = self.root / "quarantine" / "prints"
        return sorted(folder.glob(f"{job.id}-*")) if folder.is_dir() else []


@contextlib.contextmanager
def make_rig(
    root: Path,
    clock: ManualClock | None = None,
    *,
    order_ready: OrderReady = OrderReady.STABLE,
    journal_at: StoreLocation | None = None,
) -> Iterator[Rig]:
    """One hot folder \"prints\" under ``root``, a real journal (a SQLite file under
    ``root``, or ``journal_at``), and an Intake on ``clock``."""
    hot = root / "hot" / "prints"
    hot.mkdir(parents=True)
    hot.chmod(0o770)
    clock = clock or ManualClock()
    journal = open_journal(journal_at or root / "state" / "journal.sqlite", clock)
    claimed: list[Job] = []
    hf = HotFolder(
        name="prints",
        path=hot,
        product="p",
        printer="q",
        stability_seconds=STABLE,
        ignore=DEFAULT_IGNORE,
        order_ready=order_ready,
    )
    intake = Intake(
        {"prints": hf},
        journal,
        spool_dir=root / "spool",
        quarantine_dir=root / "quarantine",
        rescan_seconds=60,
        clock=clock,
        on_claimed=claimed.append,
    )
    try:
        yield Rig(intake, hot, root, claimed, journal, clock, journal_at)
    finally:
        journal.close()


# A small, valid configuration: one hot folder "prints", paths relative to the file.
GOOD_CONFIG = """\
[labd]
state_dir = "state"
spool_dir = "spool"
quarantine_dir = "quarantine"
hotfolder_root = "hot"
stability_seconds = 2

[printers.minilab]
queue = "minilab"
options = { media = "4x6", copies-default = 1 }

[products.p10x15]
format = "jpeg"
size = "6x4 in"
dpi = 300

[hotfolders.prints]
product = "p10x15"
printer = "minilab"
"""


def write_config(
    tmp_path: Path, text: str = GOOD_CONFIG, *, journal: StoreLocation | None = None
) -> Path:
    """``text`` as ``labd.toml`` in ``tmp_path``; ``journal``: where its journal is (a
    PostgreSQL location adds a ``[journal]`` table; a path is state_dir's default)."""
    path = tmp_path / "labd.toml"
    path.write_text(textwrap.dedent(text) + journal_table(journal))
    return path


def run_labd(config: Path, *args: str) -> tuple[int, str]:
    """``labd --config CONFIG ARGS`` in this process: its exit status (argparse's refusals
    too: they exit 2) and what it wrote to stdout (errors go to stderr: capsys)."""
    out = io.StringIO()
    try:
        code = main(["--config", str(config), *args], out)
    except SystemExit as e:
        code = int(str(e.code))
    return code, out.getvalue()


def journal_table(journal: StoreLocation | None, node: str | None = None) -> str:
    """The ``[journal]`` table of a configuration whose journal is ``journal``."""
    lines = [f"url = {json.dumps(journal.url)}"] if isinstance(journal, PostgresLocation) else []
    if node is not None:
        lines.append(f"node = {json.dumps(node)}")
    return "\n[journal]\n" + "\n".join(lines) + "\n" if lines else ""


DAY = 86400.0  # seconds


# The steps that take a new job to each state, in order (PURGED is retention's to make).
_ROUTE: Final = {
    JobState.DISCOVERED: (),
    JobState.WITHDRAWN: ("withdraw",),
    JobState.CLAIMED: ("claim",),
    JobState.QUARANTINED: ("claim", "quarantine"),
    JobState.CONVERTED: ("claim", "convert"),
    JobState.HELD: ("claim", "convert", "hold"),
    JobState.CANCELED: ("claim", "convert", "cancel"),
    JobState.SUBMITTING: ("claim", "convert", "intent"),
    JobState.UNCERTAIN: ("claim", "convert", "intent", "uncertain"),
    JobState.SUBMITTED: ("claim", "convert", "intent", "submit"),
    JobState.PRINTED: ("claim", "convert", "intent", "submit", "printed"),
    JobState.DONE: ("claim", "convert", "intent", "submit", "printed", "done"),
}


def cups_job_id(job_id: int, seq: int) -> int:
    """The CUPS job id :func:`job_in_state` gives output ``seq`` of job ``job_id``."""
    return 1000 * job_id + seq


@dataclass
class _Walk:
    """One job taken step by step through the journal's life cycle."""

    journal: Journal
    job: Job
    files: Sequence[tuple[str, int]]
    order: str | None
    queue: str
    write_inputs: bool
    output_size: int | None

    @property
    def outputs(self) -> list[tuple[str, int | None]]:
        return [(f"out/{seq:04d}.jpg", seq) for seq in range(1, len(self.files) + 1)]

    def withdraw(self) -> None:
        self.journal.withdrawn(self.job.id)

    def claim(self) -> None:
        for name, size in self.files if self.write_inputs else ():
            path = spool.inbox(self.job) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * size)
        self.journal.claimed(self.job.id, self.files)
        if self.order is not None:
            self.journal.notes.ticket(self.job.id, order_ref=self.order, copies={}, media=0)

    def quarantine(self) -> None:
        reason = f"{self.files[0][0]} is cut short"
        self.journal.quarantined(self.job.id, rule="input.truncated", reason=reason)

    def convert(self) -> None:
        self.journal.converted(self.job.id, self.outputs, self.queue)
        for path, seq in self.outputs:  # print-ready files, as a reprint copies them
            target = Path(self.job.spool) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            size = self.output_size
            target.write_bytes(b"print %d" % (seq or 0) if size is None else b"y" * size)

    def hold(self) -> None:
        reason = f"queue {self.queue!r} is stopped"
        self.journal.held(self.job.id, rule="print.printer_stopped", reason=reason)

    def cancel(self) -> None:
        self.journal.canceled(self.job.id, by=self.job.technician, cups_job_ids=[])

    def intent(self) -> None:
        for seq in range(1, len(self.files) + 1):
            self.journal.printing.submit_intent(self.job.id, seq)

    def uncertain(self) -> None:
        reason = "not in CUPS' history"
        self.journal.uncertain(self.job.id, rule="print.history_lost", reason=reason)

    def submit(self) -> None:
        for seq in range(1, len(self.files) + 1):
            self.journal.printing.submitted(self.job.id, seq, cups_job_id(self.job.id, seq))

    def printed(self) -> None:
        self.journal.printed(self.job.id)

    def done(self) -> None:
        self.journal.done(self.job.id)


def job_in_state(
    journal: Journal,
    state: JobState,
    spool_root: Path,
    *,
    entry: str = "Hansen wedding",
    hotfolder: str = "prints",
    kind: JobKind = JobKind.ORDER,
    technician: str = "anna",
    source_inode: int = 1,
    files: Sequence[tuple[str, int]] = (("a.jpg", 1), ("b.jpg", 2)),
    order: str | None = None,
    queue: str = "minilab",
    write_inputs: bool = False,
    output_size: int | None = None,
) -> Job:
    """A job taken through the real life cycle to ``state``, the way labd takes it there.

    ``files`` are its inputs (name under the spool folder's ``in/``, size); with
    ``write_inputs`` they are written there, that many bytes each.  Converted jobs have
    one output per input, ``out/0001.jpg`` ..., written (``b"print <n>"``, or
    ``output_size`` bytes); submitted ones CUPS job ids :func:`cups_job_id`.  A HELD job
    waits on a stopped printer, a QUARANTINED one had a truncated file, an UNCERTAIN
    one lost its CUPS history.
    """
    if state not in _ROUTE:
        raise ValueError(f"job_in_state cannot make a {state.value} job")
    job = journal.discover(
        hotfolder=hotfolder, kind=kind, entry=entry, technician=technician,
        source_inode=source_inode, spool_root=spool_root,
    )  # fmt: skip
    walk = _Walk(journal, job, files, order, queue, write_inputs, output_size)
    for step in _ROUTE[state]:
        getattr(walk, step)()
    return journal.job(job.id)


def done_job(journal: Journal, tmp_path: Path, *, finish: bool = True) -> int:
    """A job of two files printed (DONE, or SUBMITTED with ``finish=False``), outputs written."""
    state = JobState.DONE if finish else JobState.SUBMITTED
    return job_in_state(journal, state, tmp_path / "spool").id


def ready_item(ledger: MediaLedger, kind: MediaKind = MediaKind.USB) -> int:
    """A carrier whose order is done: READY to go back or to the shredder."""
    item = ledger.register(kind, "TAG-1", by="anna", orders=["A-1001"])
    ledger.in_use(item.id, by="anna")
    ledger.ready(item.id, by="anna")
    return item.id


# A configuration with [media] and [waste] set, for the media and waste commands.
LEDGER_CONFIG = """
[labd]
state_dir = "state"
spool_dir = "spool"
quarantine_dir = "quarantine"
hotfolder_root = "hot"

[products.p]
format = "jpeg"
size = "6x4 in"

[printers.m]
queue = "m"

[hotfolders.h]
product = "p"
printer = "m"

[media]
overdue_days = 7

[waste]
reasons = ["banding", "dust"]
"""


# A small photobook product (two pages a sheet, 150 dpi): cheap to bind in tests.
BOOK = Product(
    name="book",
    format=OutputFormat.PDF,
    layout=Layout.PHOTOBOOK,
    width_mm=150,
    height_mm=100,
    dpi=150,
)


Settings = dict[str, dict[str, object]]


def print_settings(
    tmp_path: Path, server: str, queue: str, *, product: Mapping[str, object] | None = None
) -> Settings:
    """The settings of :func:`print_config`; ``product``: more keys of its product ``x``."""
    return {
        "labd": {
            "state_dir": str(tmp_path / "state"),
            "spool_dir": str(tmp_path / "spool"),
            "quarantine_dir": str(tmp_path / "q"),
            "hotfolder_root": str(tmp_path / "hot"),
        },
        "cups": {"server": server},
        "printers": {"p": {"queue": queue}},
        "products": {"x": {"format": "jpeg", "size": "6x4 in", **(product or {})}},
        "hotfolders": {"h": {"product": "x", "printer": "p"}},
    }


def print_config(
    tmp_path: Path, server: str, queue: str, *, product: Mapping[str, object] | None = None
) -> Config:
    settings = print_settings(tmp_path, server, queue, product=product)
    return parse(settings, str(tmp_path / "labd.toml"))


def toml_text(settings: Mapping[str, Mapping[str, object]]) -> str:
    """Settings of strings, numbers and tables as a TOML file (JSON's strings are TOML's)."""
    lines: list[str] = []

    def table(name: str, values: Mapping[str, object]) -> None:
        lines.append(f"[{name}]")
        inner = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items() if k not in inner)
        for key, value in inner.items():
            table(f"{name}.{key}", value)

    for name, values in settings.items():
        table(name, values)
    return "\n".join(lines) + "\n"


class PrintRig:
    """A real pipeline on a journal, printing to a queue of a private CUPS."""

    def __init__(
        self,
        tmp_path: Path,
        server: EmbeddedPrintServer,
        queue: str,
        clock: ManualClock,
        *,
        product: Mapping[str, object] | None = None,
    ) -> None:
        self.queue = queue
        self.settings = print_settings(tmp_path, server.server, queue, product=product)
        self.config = parse(self.settings, str(tmp_path / "labd.toml"))
        self.clock = clock
        self.journal = open_journal(self.config.journal_path, clock)
        self.cups = CupsClient(server.server)
        self.pipeline = Pipeline(
            config=self.config,
            journal=self.journal,
            cups=self.cups,
            clock=clock,
            stop=threading.Event(),
        )
        self.tmp_path = tmp_path

    def claimed_job(self, size: tuple[int, int] = (900, 600)) -> Job:
        """A job claimed from hot folder h: one real photo of ``size``, photo.jpg."""
        job = job_in_state(
            self.journal, JobState.CLAIMED, self.config.spool_dir, hotfolder="h",
            kind=JobKind.FILE, entry="photo.jpg", technician="t", files=[("photo.jpg", 1)],
        )  # fmt: skip
        spool.inbox(job).mkdir(parents=True)
        make_photo(spool.inbox(job) / "photo.jpg", size=size)
        return job

    def converted_job(self, pipeline: Pipeline | None = None) -> Job:
        """A job claimed and converted for real, ready to submit."""
        job = self.claimed_job()
        assert (pipeline or self.pipeline).convert(self.journal.job(job.id))
        return self.journal.job(job.id)

    def config_file(self) -> Path:
        """The rig's configuration as the file labd's commands read (``--config``)."""
        path = self.tmp_path / "labd.toml"
        path.write_text(toml_text(self.settings))
        return path

    def cups_jobs_named(self, title: str) -> list[int]:
        return [s.job_id for s in self.cups.find_jobs(title) if s.queue == self.queue]
