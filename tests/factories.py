"""Test data made the same way everywhere: labs, journals, intake rigs.

Every test module takes what it needs from here rather than building its own, and no test
module imports from another.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labd.clock import ManualClock
from labd.config import DEFAULT_IGNORE
from labd.intake import Intake
from labd.journal import Journal
from labd.model import HotFolder, Job
from labd.schemas import open_journal

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
