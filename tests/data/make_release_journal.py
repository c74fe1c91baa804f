"""Make tests/data/journal-release-1.sqlite and what it must read back as, with a release.

Run it with the code of the release whose journal the new code must open (the commit named
in tests/unit/test_journal_compat.py), from a checkout of that release:

    git worktree add /tmp/labd-release <commit>
    cd /tmp/labd-release && /path/to/.venv/bin/python /path/to/this/script OUT_DIR

It writes OUT_DIR/journal-release-1.sqlite and OUT_DIR/journal-release-1.json: the head of
the chain and every job, file, output, media item, waste container and entry as that
release reads them.  The compatibility test opens the journal with today's code and
checks that it reads back the same.  Only the API both releases share is used here.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from labd.clock import ManualClock
from labd.config import load
from labd.journal import Journal

try:
    from labd.media.ledger import MediaLedger
    from labd.media.model import Disposition, IdKind, MediaKind
    from labd.privacy.retention import Retention
    from labd.waste.ledger import WasteLedger
    from labd.waste.model import WasteMaterial
except ImportError:  # the release it was made with, where media and waste were modules
    from labd.retention import Retention  # type: ignore[import-not-found,no-redef]

    from labd.media import Disposition, IdKind, MediaKind, MediaLedger  # type: ignore[attr-defined,no-redef]
    from labd.waste import WasteLedger, WasteMaterial  # type: ignore[attr-defined,no-redef]
from labd.model import JobKind, JobState


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def read_back(journal: Journal) -> dict[str, object]:
    """Everything the compatibility test compares, as plain data."""
    media = MediaLedger(journal)
    waste = WasteLedger(journal, media=media)
    check = journal.verify()
    return _plain(
        {
            "head": check.head,
            "events": check.events,
            "jobs": journal.jobs(),
            "files": {j.id: journal.files(j.id) for j in journal.jobs()},
            "outputs": {j.id: journal.outputs(j.id) for j in journal.jobs()},
            "media": media.items(),
            "containers": waste.containers(),
            "entries": waste.entries(),
        }
    )  # type: ignore[return-value]


def make(folder: Path) -> None:
    """Fill a journal with a little of everything a lab's journal holds."""
    clock = ManualClock(datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    path = folder / "journal-release-1.sqlite"
    journal = Journal.open(path, clock)
    spool = Path("/srv/labd/spool")

    def job(entry: str, files: list[tuple[str, int]], kind: JobKind = JobKind.ORDER) -> int:
        clock.advance(60)
        found = journal.discover(
            hotfolder="prints-10x15",
            kind=kind,
            entry=entry,
            technician="anna",
            source_inode=1000 + len(entry),
            spool_root=spool,
        )
        journal.claimed(found.id, files)
        return found.id

    # Release 1 had the print steps on Journal itself; later releases on journal.printing.
    prints: Any = getattr(journal, "printing", journal)

    # Printed and done, with a ticket (an order reference: personal data).
    done = job("Hansen wedding", [("Hansen wedding/IMG_0001.jpg", 5_000_000),
                                  ("Hansen wedding/IMG_0002.jpg", 4_000_000)])  # fmt: skip
    notes: Any = getattr(journal, "notes", journal)  # later releases: journal.notes
    notes.ticket(done, order_ref="2026-1042", copies={1: 2}, media=1)
    journal.converted(done, [("out/0001.jpg", 1), ("out/0002.jpg", 2)], "minilab")
    for seq, cups_id in ((1, 11), (2, 12)):
        prints.submit_intent(done, seq)
        prints.submitted(done, seq, cups_id)
        prints.cups_state(done, seq, "completed", impressions=1)
    journal.printed(done, outputs=2)
    journal.done(done)
    # Quarantined, held by the printer, uncertain after a crash, cancelled.
    bad = job("notes.txt", [("notes.txt", 20)], JobKind.FILE)
    journal.quarantined(bad, rule="input.not_an_image", reason="notes.txt is not an image")
    held = job("IMG_7.jpg", [("IMG_7.jpg", 3_000_000)], JobKind.FILE)
    journal.converted(held, [("out/0001.jpg", 1)], "minilab")
    journal.held(held, rule="print.unavailable", reason="queue 'minilab' is not accepting jobs")
    unsure = job("IMG_8.jpg", [("IMG_8.jpg", 3_100_000)], JobKind.FILE)
    journal.converted(unsure, [("out/0001.jpg", 1)], "minilab")
    prints.submit_intent(unsure, 1)
    journal.uncertain(unsure, rule="print.history_lost", reason="not in CUPS' history")
    gone = job("IMG_9.jpg", [("IMG_9.jpg", 2_900_000)], JobKind.FILE)
    journal.canceled(gone, by="ben", cups_job_ids=[])
    # A reprint of the done job's second print.
    clock.advance(60)
    prints.reprint(done, [2], by="ben")

    # Customer media: a stick received with the order, ready to go back; a DVD registered.
    media = MediaLedger(journal)
    stick = media.register(MediaKind.USB, "4C530001230517110512", by="anna",
                           id_kind=IdKind.SERIAL, orders=["2026-1042"], jobs=[done],
                           disposition=Disposition.RETURN)  # fmt: skip
    clock.advance(60)
    media.ready(stick.id, by="anna")
    media.register(MediaKind.DVD, "shelf 3", by="ben", disposition=Disposition.DESTROY)

    # Secure waste: a container with the reprinted misprint, sealed and collected.
    waste = WasteLedger(journal, media=media)
    waste.open("W-1", material=WasteMaterial.P, level=4, location="QC table", by="ben")
    clock.advance(60)
    waste.misprint(done, container="W-1", reason="colour-cast", by="ben", outputs=[2])
    waste.seal("W-1", seal="S-991", by="ben")
    waste.collect("W-1", company="Shred AS", on=date(2026, 11, 3), by="ben")

    # Retention: a legal hold on the held job.
    retention = Retention(journal, load(Path("config/labd.toml")), clock)
    retention.hold(job_id=held, by="carla", reason="customer complaint")
    assert journal.job(bad).state is JobState.QUARANTINED
    journal.close()

    journal = Journal.open(path, clock)
    (folder / "journal-release-1.json").write_text(
        json.dumps(read_back(journal), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    )
    journal.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    make(Path(sys.argv[1]))
