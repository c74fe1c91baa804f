"""Test data made the same way everywhere: labs, journals, intake rigs.

Every test module takes what it needs from here rather than building its own, and no test
module imports from another.
"""

from __future__ import annotations

import contextlib
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labd.clock import ManualClock
from labd.config import DEFAULT_IGNORE, Config, parse
from labd.demo.embedded import EmbeddedPrintServer
from labd.intake import Intake
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind
from labd.model import HotFolder, Job, JobKind, Layout, OutputFormat, Product
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.schemas import open_journal
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
def make_rig(root: Path, clock: ManualClock | None = None) -> Iterator[Rig]:
    """One hot folder \"prints\" under ``root``, a real journal, and an Intake on ``clock``."""
    hot = root / "hot" / "prints"
    hot.mkdir(parents=True)
    hot.chmod(0o770)
    clock = clock or ManualClock()
    journal = open_journal(root / "state" / "journal.sqlite", clock)
    claimed: list[Job] = []
    hf = HotFolder(
        name="prints",
        path=hot,
        product="p",
        printer="q",
        stability_seconds=STABLE,
        ignore=DEFAULT_IGNORE,
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
        yield Rig(intake, hot, root, claimed, journal, clock)
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


def write_config(tmp_path: Path, text: str = GOOD_CONFIG) -> Path:
    """``text`` as ``labd.toml`` in ``tmp_path``."""
    path = tmp_path / "labd.toml"
    path.write_text(textwrap.dedent(text))
    return path


DAY = 86400.0  # seconds


def done_job(journal: Journal, tmp_path: Path, *, finish: bool = True) -> int:
    """A job of two files printed (DONE, or SUBMITTED with ``finish=False``), outputs written."""
    job = journal.discover(
        hotfolder="prints", kind=JobKind.ORDER, entry="Hansen wedding", technician="anna",
        source_inode=1, spool_root=tmp_path / "spool",
    )  # fmt: skip
    journal.claimed(job.id, [("a.jpg", 1), ("b.jpg", 2)])
    journal.converted(job.id, [("out/0001.jpg", 1), ("out/0002.jpg", 2)], "minilab")
    (Path(job.spool) / "out").mkdir(parents=True)
    for n in (1, 2):  # print-ready files a reprint copies
        (Path(job.spool) / "out" / f"000{n}.jpg").write_bytes(b"print %d" % n)
    for seq in (1, 2):
        journal.printing.submit_intent(job.id, seq)
        journal.printing.submitted(job.id, seq, 100 + seq)
    if finish:
        journal.printed(job.id)
        journal.done(job.id)
    return job.id


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


def print_config(tmp_path: Path, server: str, queue: str) -> Config:
    return parse(
        {
            "labd": {
                "state_dir": str(tmp_path / "state"),
                "spool_dir": str(tmp_path / "spool"),
                "quarantine_dir": str(tmp_path / "q"),
                "hotfolder_root": str(tmp_path / "hot"),
            },
            "cups": {"server": server},
            "printers": {"p": {"queue": queue}},
            "products": {"x": {"format": "jpeg", "size": "6x4 in"}},
            "hotfolders": {"h": {"product": "x", "printer": "p"}},
        },
        str(tmp_path / "labd.toml"),
    )


class PrintRig:
    """A real pipeline on a journal, printing to a queue of a private CUPS."""

    def __init__(
        self, tmp_path: Path, server: EmbeddedPrintServer, queue: str, clock: ManualClock
    ) -> None:
        self.queue = queue
        self.config = print_config(tmp_path, server.server, queue)
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

    def converted_job(self, pipeline: Pipeline | None = None) -> Job:
        """A job claimed and converted for real, ready to submit."""
        job = self.journal.discover(
            hotfolder="h",
            kind=JobKind.FILE,
            entry="photo.jpg",
            technician="t",
            source_inode=1,
            spool_root=self.config.spool_dir,
        )
        (Path(job.spool) / "in").mkdir(parents=True)
        make_photo(Path(job.spool) / "in" / "photo.jpg", size=(900, 600))
        self.journal.claimed(job.id, [("photo.jpg", 1)])
        assert (pipeline or self.pipeline).convert(self.journal.job(job.id))
        return self.journal.job(job.id)

    def cups_jobs_named(self, title: str) -> list[int]:
        return [s.job_id for s in self.cups.find_jobs(title) if s.queue == self.queue]
