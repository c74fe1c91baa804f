"""The secure-waste ledger: containers, entries, uncollected orders, reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.config import MediaSettings, WasteSettings
from labd.errors import (
    ContainerMoveRefused,
    ContainerNotFound,
    JobNotFound,
    MediaMoveRefused,
    WasteEntryRefused,
    WasteError,
)
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import Disposition, MediaKind, MediaState
from labd.model import JobState
from labd.schemas import open_journal
from labd.waste.ledger import WasteLedger
from labd.waste.model import ContainerState, EntryKind, WasteMaterial
from tests.factories import DAY, job_in_state, ready_item
from tests.rawdb import RawDB


@pytest.fixture
def waste(journal: Journal) -> WasteLedger:
    settings = WasteSettings(certificate_overdue_days=30, uncollected_days=365)
    return WasteLedger(journal, settings, MediaLedger(journal, MediaSettings()))


def open_box(waste: WasteLedger, box: str = "W-1", material=WasteMaterial.P):
    return waste.open(box, material=material, level=4, location="QC room", by="anna")


def test_container_life_cycle(waste: WasteLedger, journal: Journal) -> None:
    box = open_box(waste)
    assert (box.state, box.din_level) == (ContainerState.OPEN, "P-4")
    waste.seal("W-1", seal="S-123", by="anna")
    waste.collect("W-1", company="Shred AS", on=date(2026, 1, 2), by="bob")
    box = waste.certify("W-1", certificate="C-9", on=date(2026, 1, 9), by="bob")
    assert (box.state, box.seal, box.company, box.collected_on, box.handed_over_by) == (
        ContainerState.CERTIFIED, "S-123", "Shred AS", "2026-01-02", "bob",
    )  # fmt: skip
    assert (box.certificate, box.certified_on) == ("C-9", "2026-01-09")
    kinds = [e.kind for e in journal.events() if e.kind.startswith("waste.")]
    assert kinds == [
        "waste.container_opened", "waste.container_sealed", "waste.container_collected",
        "waste.container_certified",
    ]  # fmt: skip
    assert journal.verify().first_bad is None


def test_every_refused_container_move(waste, journal):
    open_box(waste)
    with pytest.raises(WasteError, match="exists already"):
        open_box(waste)
    with pytest.raises(WasteError, match="out of range"):
        waste.open("W-2", material=WasteMaterial.P, level=8, location="x", by="a")
    with pytest.raises(WasteError, match="not a container id"):
        waste.open("../x", material=WasteMaterial.P, level=3, location="x", by="a")
    with pytest.raises(ContainerNotFound, match="No waste container W-9"):
        waste.seal("W-9", seal="S", by="a")
    before = len(journal.events())
    on = date(2026, 1, 2)
    with pytest.raises(ContainerMoveRefused, match="open to collected: it must be sealed first"):
        waste.collect("W-1", company="X", on=on, by="a")
    with pytest.raises(ContainerMoveRefused, match="it must be collected first"):
        waste.certify("W-1", certificate="C", on=on, by="a")
    waste.seal("W-1", seal="S-1", by="a")
    with pytest.raises(ContainerMoveRefused, match="sealed to sealed: it is sealed already"):
        waste.seal("W-1", seal="S-2", by="a")
    waste.collect("W-1", company="X", on=on, by="a")
    waste.certify("W-1", certificate="C", on=on, by="a")
    with pytest.raises(ContainerMoveRefused, match="certified; nothing can follow"):
        waste.seal("W-1", seal="S", by="a")
    with pytest.raises(ContainerMoveRefused, match="certified; nothing can follow"):
        waste.collect("W-1", company="X", on=on, by="a")
    with pytest.raises(ContainerMoveRefused, match="certified; nothing can follow"):
        waste.certify("W-1", certificate="C2", on=on, by="a")
    with pytest.raises(WasteError, match="seal number"):
        waste.seal("W-1", seal=" ", by="a")
    assert len(journal.events()) == before + 3


def test_only_an_open_container_takes_entries(
    waste: WasteLedger, journal: Journal, tmp_path: Path
) -> None:
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    open_box(waste)
    waste.seal("W-1", seal="S-1", by="anna")
    with pytest.raises(WasteEntryRefused, match="W-1 is sealed; only an open container takes"):
        waste.misprint(job, container="W-1", reason="banding", by="anna")
    open_box(waste, "W-O", WasteMaterial.O)
    with pytest.raises(WasteEntryRefused, match="takes material class O; prints are class P"):
        waste.misprint(job, container="W-O", reason="banding", by="anna")
    assert waste.entries() == []


def test_misprint_entry_and_reprint_intent(
    waste: WasteLedger, journal: Journal, tmp_path: Path
) -> None:
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    open_box(waste)
    entry = waste.misprint(
        job, container="W-1", reason="banding", by="carl", outputs=[2], reprint=True
    )
    assert (entry.kind, entry.job_id, entry.outputs, entry.sheets, entry.reprint) == (
        EntryKind.MISPRINT, job, (2,), 1, "requested",
    )  # fmt: skip
    events = journal.events(job_id=job)
    assert [e.kind for e in events[-2:]] == ["waste.misprint", "waste.reprint_requested"]
    assert events[-1].data["entry"] == entry.id
    other = waste.misprint(
        job, container="W-1", reason="other", text="Hansen's face cut off", by="carl", sheets=3
    )
    assert other.text == "Hansen's face cut off"
    with RawDB(journal) as raw:
        chained = " ".join(str(d) for d in raw.column("SELECT data FROM events"))
    assert "Hansen" not in chained


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"reason": "coffee"}, "unknown reason 'coffee'; reasons: banding", id="reason"
        ),
        pytest.param({"reason": "other"}, "needs a text", id="other-without-text"),
        pytest.param({"reason": "dust", "outputs": [3]}, "has outputs 1, 2; no output 3", id="seq"),
        pytest.param({"reason": "dust", "sheets": 0}, "at least one sheet", id="sheets"),
    ],
)
def test_refused_misprints(waste: WasteLedger, journal: Journal, tmp_path: Path, kwargs, match):
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    open_box(waste)
    with pytest.raises(WasteEntryRefused, match=match):
        waste.misprint(job, container="W-1", by="carl", **kwargs)


def test_misprint_of_unknown_or_unprinted_job(waste: WasteLedger, journal, tmp_path) -> None:
    open_box(waste)
    with pytest.raises(JobNotFound):
        waste.misprint(77, container="W-1", reason="dust", by="carl")
    job = job_in_state(journal, JobState.DISCOVERED, tmp_path / "spool", entry="x.jpg")
    with pytest.raises(WasteEntryRefused, match="has no print outputs"):
        waste.misprint(job.id, container="W-1", reason="dust", by="carl")


def test_uncollected_orders_with_the_clock(
    waste: WasteLedger, journal: Journal, tmp_path: Path, clock: ManualClock
) -> None:
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    running = job_in_state(journal, JobState.SUBMITTED, tmp_path / "spool").id
    open_box(waste)
    with pytest.raises(WasteEntryRefused, match="not done; only finished orders"):
        waste.mark_uncollected(running, by="anna")
    with pytest.raises(WasteEntryRefused, match="not marked as not picked up"):
        waste.destroy_uncollected(job, container="W-1", sheets=2, by="anna")
    marked = waste.mark_uncollected(job, by="anna")
    assert not marked.due
    with pytest.raises(WasteEntryRefused, match="marked as not picked up already"):
        waste.mark_uncollected(job, by="anna")
    clock.advance(365 * DAY - 1)
    assert waste.uncollected(due_only=True) == []
    with pytest.raises(WasteEntryRefused, match="destroyed 365 days after"):
        waste.destroy_uncollected(job, container="W-1", sheets=2, by="anna")
    clock.advance(1)
    assert [u.job_id for u in waste.uncollected(due_only=True)] == [job]
    entry = waste.destroy_uncollected(job, container="W-1", sheets=2, by="anna")
    assert (entry.kind, entry.sheets, entry.reason) == (EntryKind.UNCOLLECTED, 2, "uncollected")
    assert waste.uncollected(due_only=True) == []
    with pytest.raises(WasteEntryRefused, match="destroyed already, into container W-1"):
        waste.destroy_uncollected(job, container="W-1", sheets=2, by="anna")


def test_destroyed_media_point_at_their_container(waste: WasteLedger) -> None:
    media = waste.media
    disc = ready_item(media, MediaKind.DVD)
    stick = ready_item(media, MediaKind.USB)
    open_box(waste, "W-O", WasteMaterial.O)
    open_box(waste, "W-P")
    with pytest.raises(WasteEntryRefused, match="takes material class P; dvd are class O"):
        waste.destroy_media(disc, container="W-P", by="anna")
    with pytest.raises(WasteEntryRefused, match="takes material class O; usb are class E"):
        waste.destroy_media(stick, container="W-O", by="anna")
    entry = waste.destroy_media(disc, container="W-O", by="anna")
    item = media.item(disc)
    assert (item.state, item.container, item.level) == (MediaState.DESTROYED, "W-O", "O-4")
    assert entry.media_item == disc
    assert [e.kind for e in media.history(disc)][-2:] == ["media.destroyed", "waste.media"]
    waste.seal("W-O", seal="S", by="a")
    waste.collect("W-O", company="Shred AS", on=date(2026, 1, 1), by="a")
    waste.certify("W-O", certificate="C-77", on=date(2026, 1, 5), by="a")
    assert media.item(disc).certificate == "C-77"


def test_a_hard_disk_to_destroy_goes_into_a_class_h_container(waste: WasteLedger) -> None:
    media = waste.media
    disk = media.register(
        MediaKind.HDD, "WD-123", by="anna", orders=["A-1002"], disposition=Disposition.DESTROY
    )
    media.in_use(disk.id, by="anna")
    media.ready(disk.id, by="anna")
    open_box(waste, "W-E", WasteMaterial.E)
    with pytest.raises(WasteEntryRefused, match="takes material class E; hdd are class H"):
        waste.destroy_media(disk.id, container="W-E", by="anna")
    assert media.item(disk.id).state is MediaState.READY  # refused: nothing moved
    open_box(waste, "W-H", WasteMaterial.H)
    entry = waste.destroy_media(disk.id, container="W-H", by="anna")
    assert entry.media_item == disk.id
    assert media.item(disk.id).state is MediaState.DESTROYED


def test_refused_media_destruction_leaves_both_ledgers_unchanged(waste: WasteLedger) -> None:
    stick = ready_item(waste.media, MediaKind.USB)
    open_box(waste, "W-E", WasteMaterial.E)
    with pytest.raises(MediaMoveRefused, match="marked to return"):
        waste.destroy_media(stick, container="W-E", by="anna")
    assert waste.entries() == []
    assert waste.media.item(stick).state is MediaState.READY


def test_manifest_has_order_references_only(waste: WasteLedger, journal, tmp_path) -> None:
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    open_box(waste)
    open_box(waste, "W-O", WasteMaterial.O)
    waste.misprint(job, container="W-1", reason="other", text="Hansen", by="c", outputs=[1, 2])
    waste.misprint(job, container="W-1", reason="dust", by="c", sheets=4)
    disc = ready_item(waste.media, MediaKind.CD)
    waste.destroy_media(disc, container="W-O", by="c")
    manifest = waste.manifest("W-1")
    assert manifest.header["sheets"] == 6
    assert [(e["job"], e["outputs"], e["sheets"], e["reason"]) for e in manifest.entries] == [
        (job, [1, 2], 2, "other"), (job, [], 4, "dust"),
    ]  # fmt: skip
    assert "Hansen" not in repr(manifest.as_dict())
    media_manifest = waste.manifest("W-O")
    assert media_manifest.entries[0]["orders"] == ["A-1001"]
    assert media_manifest.entries[0]["media_kind"] == "cd"


def test_certificates_register_and_overdue(waste: WasteLedger, clock: ManualClock) -> None:
    for box in ("W-1", "W-2", "W-3"):
        open_box(waste, box)
        if box != "W-3":
            waste.seal(box, seal=f"S-{box}", by="a")
            waste.collect(box, company="Shred AS", on=date(2026, 1, 1), by="a")
    waste.certify("W-1", certificate="C-1", on=date(2026, 1, 8), by="a")
    clock.advance(29 * DAY)  # the clock starts 2026-01-01
    assert waste.overdue() == []
    clock.advance(DAY)
    assert [c.id for c in waste.overdue()] == ["W-2"]
    register = waste.certificates()
    assert [(r["container"], r["certificate"], r["overdue"]) for r in register] == [
        ("W-1", "C-1", False), ("W-2", None, True),
    ]  # fmt: skip


def test_waste_per_reason_per_month(waste, journal, tmp_path, clock: ManualClock) -> None:
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    open_box(waste)
    waste.misprint(job, container="W-1", reason="banding", by="c", sheets=2)
    waste.misprint(job, container="W-1", reason="banding", by="c", sheets=3)
    clock.advance(31 * DAY)
    waste.misprint(job, container="W-1", reason="dust", by="c")
    assert waste.per_reason_month() == [
        {"month": "2026-01", "kind": "misprint", "reason": "banding", "entries": 2, "sheets": 5},
        {"month": "2026-02", "kind": "misprint", "reason": "dust", "entries": 1, "sheets": 1},
    ]


def test_a_possible_duplicate_is_confirmed_into_a_container_once(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "j.sqlite", ManualClock())
    waste = WasteLedger(journal)
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    waste.open("W-1", material=WasteMaterial.P, level=4, location="QC", by="carl")
    journal.record(  # what the printing part writes when CUPS restarted a job mid-print
        "print.possible_duplicate",
        {"seq": 2, "cups_job_id": 102, "queue": "minilab", "why": "CUPS restarted the job"},
        job_id=job,
    )
    other = journal.record(
        "print.possible_duplicate",
        {"seq": 1, "cups_job_id": 101, "queue": "minilab", "why": "CUPS went away"},
        job_id=job,
    )
    [first, second] = waste.possible_duplicates()
    assert (first.job_id, first.output, first.why) == (job, 2, "CUPS restarted the job")
    entry = waste.confirm_duplicate(first.event, container="W-1", by="carl")
    assert (entry.reason, entry.outputs, entry.sheets) == ("duplicate", (2,), 1)
    with pytest.raises(WasteEntryRefused, match="no open possible duplicate"):
        waste.confirm_duplicate(first.event, container="W-1", by="carl")  # not twice
    with pytest.raises(WasteEntryRefused, match="say why"):
        waste.dismiss_duplicate(other, by="carl", reason=" ")
    waste.dismiss_duplicate(other, by="carl", reason="the printer had not started")
    assert waste.possible_duplicates() == []
    assert second.event == other
    assert journal.verify().first_bad is None
    journal.close()
