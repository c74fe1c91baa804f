"""The media ledger: life cycle, refused moves, overdue with an injected clock, personal data."""

from __future__ import annotations

from pathlib import Path

import pytest

from labd.config import MEDIA_KINDS, MediaSettings, parse
from labd.errors import ConfigError, JobNotFound, MediaError, MediaMoveRefused, MediaNotFound
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.media.model import Disposition, IdKind, Material, MediaKind, MediaState
from labd.model import JobState
from tests.factories import DAY, job_in_state, ready_item
from tests.rawdb import RawDB


@pytest.fixture
def ledger(journal: Journal) -> MediaLedger:
    return MediaLedger(journal, MediaSettings(overdue_days=14))


def test_media_kinds_match_the_configuration() -> None:
    assert tuple(MediaKind) == MEDIA_KINDS


@pytest.mark.parametrize(
    ("kind", "material", "disposition"),
    [
        pytest.param(MediaKind.USB, Material.E, Disposition.RETURN, id="usb"),
        pytest.param(MediaKind.SD, Material.E, Disposition.RETURN, id="sd"),
        pytest.param(MediaKind.SSD, Material.E, Disposition.RETURN, id="ssd"),
        pytest.param(MediaKind.HDD, Material.H, Disposition.RETURN, id="hdd"),
        pytest.param(MediaKind.CD, Material.O, Disposition.DESTROY, id="cd"),
        pytest.param(MediaKind.DVD, Material.O, Disposition.DESTROY, id="dvd"),
        pytest.param(MediaKind.BD, Material.O, Disposition.DESTROY, id="bd"),
    ],
)
def test_defaults_per_kind(ledger: MediaLedger, kind, material, disposition) -> None:
    item = ledger.register(kind, "T-7", by="anna")
    assert (item.state, item.material, item.disposition) == (
        MediaState.RECEIVED,
        material,
        disposition,
    )


def test_configured_disposition_wins(journal: Journal) -> None:
    settings = MediaSettings(disposition={**MediaSettings().disposition, "cd": "return"})
    assert MediaLedger(journal, settings).register(MediaKind.CD, "T", by="a").disposition == (
        Disposition.RETURN
    )


def test_stick_life_cycle_to_returned(ledger: MediaLedger, journal: Journal, clock) -> None:
    item = ledger.register(
        MediaKind.USB, "4C53000123", id_kind=IdKind.SERIAL, by="anna", orders=["A-1001"]
    )
    assert item.received_by == "anna"
    assert item.orders == ("A-1001",)
    ledger.in_use(item.id, by="anna")
    clock.advance(60)
    ledger.ready(item.id, by="anna")
    returned = ledger.returned(item.id, by="bob", shipment="PARCEL-77")
    assert returned.state is MediaState.RETURNED
    assert (returned.closed_by, returned.shipment) == ("bob", "PARCEL-77")
    kinds = [e.kind for e in ledger.history(item.id)]
    assert kinds == ["media.registered", "media.in_use", "media.ready", "media.returned"]
    assert journal.verify().first_bad is None


def test_disc_destroyed_in_a_shredder_run_and_certified(ledger: MediaLedger) -> None:
    item_id = ready_item(ledger, MediaKind.DVD)
    item = ledger.destroyed(item_id, by="bob", level="o-3", shredder_run="RUN-12")
    assert (item.state, item.level, item.shredder_run) == (MediaState.DESTROYED, "O-3", "RUN-12")
    assert ledger.certify(item_id, "CERT-9", by="bob").certificate == "CERT-9"


def refuse(action, match: str, ledger: MediaLedger, item_id: int) -> None:
    before = ledger.history(item_id)
    with pytest.raises(MediaError, match=match):
        action()
    assert ledger.history(item_id) == before  # a refused move changes nothing


def test_every_impossible_move_is_refused(ledger: MediaLedger) -> None:
    stick = ledger.register(MediaKind.USB, "S-1", by="anna").id
    refuse(
        lambda: ledger.returned(stick, by="b"), "not ready yet; mark it ready first", ledger, stick
    )
    refuse(
        lambda: ledger.destroyed(stick, by="b", level="E-3", shredder_run="R"),
        "not ready yet", ledger, stick,
    )  # fmt: skip
    refuse(lambda: ledger.dismiss(stick, by="b", reason="x"), "can only go to", ledger, stick)
    ledger.ready(stick, by="anna")
    refuse(lambda: ledger.ready(stick, by="b"), "can only go to", ledger, stick)
    refuse(
        lambda: ledger.destroyed(stick, by="b", level="E-3", shredder_run="R"),
        "marked to return; to do otherwise, give --override with a --reason", ledger, stick,
    )  # fmt: skip
    refuse(
        lambda: ledger.destroyed(stick, by="b", level="E-3", shredder_run="R", override=True),
        "an override needs a reason", ledger, stick,
    )  # fmt: skip
    refuse(
        lambda: ledger.destroyed(stick, by="b", level="O-3", shredder_run="R", override=True,
                                 reason="customer asked"),
        "level O-3 is for material class O, but this usb is class E", ledger, stick,
    )  # fmt: skip
    refuse(lambda: ledger.destroyed(stick, by="b", level="Z-9", shredder_run="R"),
           "not a DIN 66399 security level", ledger, stick)  # fmt: skip
    refuse(lambda: ledger.destroyed(stick, by="b", level="E-3"), "a container or a shredder run",
           ledger, stick)  # fmt: skip
    ledger.destroyed(
        stick, by="b", level="E-3", shredder_run="R", override=True, reason="customer asked"
    )
    assert ledger.history(stick)[-1].detail == "customer asked"

    disc = ready_item(ledger, MediaKind.CD)
    refuse(lambda: ledger.returned(disc, by="b"), "marked to destroy", ledger, disc)
    ledger.destroyed(disc, by="b", level="O-3", shredder_run="R")
    for action in (
        lambda: ledger.returned(disc, by="b", override=True, reason="x"),
        lambda: ledger.destroyed(disc, by="b", level="O-3", shredder_run="R"),
        lambda: ledger.lost(disc, by="b", contents="c", measures="m"),
        lambda: ledger.in_use(disc, by="b"),
        lambda: ledger.link(disc, by="b", orders=["A-2"]),
    ):
        refuse(action, "already destroyed|no longer in the house", ledger, disc)
    with pytest.raises(MediaError, match="not destroyed; nothing to certify"):
        ledger.certify(ready_item(ledger), "C", by="b")


def test_returning_a_disc_the_customer_wants_back(ledger: MediaLedger) -> None:
    disc = ready_item(ledger, MediaKind.DVD)
    with pytest.raises(MediaError, match="needs a reason"):
        ledger.set_disposition(disc, Disposition.RETURN, by="anna", reason=" ")
    ledger.set_disposition(disc, Disposition.RETURN, by="anna", reason="customer asked")
    assert ledger.returned(disc, by="anna").state is MediaState.RETURNED


def test_override_return_with_reason(ledger: MediaLedger) -> None:
    disc = ready_item(ledger, MediaKind.CD)
    item = ledger.returned(disc, by="anna", override=True, reason="asked at the counter")
    assert item.state is MediaState.RETURNED


def test_lost_is_an_incident_with_personal_detail(ledger: MediaLedger, journal: Journal) -> None:
    item_id = ready_item(ledger)
    with pytest.raises(MediaError, match="what was on it and what was done"):
        ledger.lost(item_id, by="anna", contents="", measures="x")
    ledger.lost(item_id, by="anna", contents="Hansen wedding photos", measures="DPO informed")
    last = ledger.history(item_id)[-1]
    assert last.kind == "media.lost"
    assert last.data["incident"] is True
    assert "Hansen" in (last.detail or "")


def test_unknown_item_and_job(ledger: MediaLedger) -> None:
    with pytest.raises(MediaNotFound, match="No media item 99"):
        ledger.item(99)
    with pytest.raises(MediaNotFound):
        ledger.ready(99, by="a")
    with pytest.raises(JobNotFound):
        ledger.register(MediaKind.USB, "T", by="a", jobs=[42])
    assert ledger.items() == []  # the failed registration left nothing behind
    with pytest.raises(MediaError, match="identifier"):
        ledger.register(MediaKind.USB, " ", by="a")


def test_detected_stick_is_unlinked_until_linked(ledger: MediaLedger) -> None:
    item = ledger.detected(
        serial="4C53", vendor="SanDisk", model="Cruzer Blade", capacity=16_000_000, label="X"
    )
    assert (item.state, item.source, item.present) == (MediaState.UNLINKED, "detected", True)
    with pytest.raises(MediaMoveRefused, match="not linked to an order yet; link it first"):
        ledger.in_use(item.id, by="anna")
    with pytest.raises(MediaError, match="name the order"):
        ledger.link(item.id, by="anna")
    linked = ledger.link(item.id, by="anna", orders=["A-1"])
    assert (linked.state, linked.received_by, linked.orders) == (
        MediaState.RECEIVED,
        "anna",
        ("A-1",),
    )
    ledger.removed(item.id)
    again = ledger.detected(serial="4C53", vendor="SanDisk", model="C", capacity=1, label=None)
    assert again.id == item.id  # the same stick plugged in again: no second item
    assert again.present
    other = ledger.detected(serial=None, vendor=None, model=None, capacity=None, label="LAB")
    assert other.id != item.id
    assert other.id_kind is IdKind.LABEL
    assert ledger.dismiss(other.id, by="anna", reason="the lab's own stick").state is (
        MediaState.DISMISSED
    )


def test_overdue_counts_from_ready_with_the_clock(ledger: MediaLedger, clock) -> None:
    waiting = ready_item(ledger)
    ledger.register(MediaKind.USB, "T-2", by="anna")  # not ready: never overdue
    clock.advance(14 * DAY - 1)
    assert ledger.overdue() == []
    clock.advance(1)
    assert [i.id for i in ledger.overdue()] == [waiting]
    ledger.returned(waiting, by="anna")
    assert ledger.overdue() == []


def test_ready_when_all_linked_jobs_are_done(
    ledger: MediaLedger, journal: Journal, tmp_path: Path
) -> None:
    done = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    running = job_in_state(journal, JobState.SUBMITTED, tmp_path / "spool").id
    a = ledger.register(MediaKind.USB, "A", by="anna", jobs=[done]).id
    b = ledger.register(MediaKind.USB, "B", by="anna", jobs=[done, running]).id
    ledger.register(MediaKind.USB, "C", by="anna")  # no job: a technician decides
    assert ledger.ready_for_done_jobs() == [a]
    assert ledger.item(b).state is MediaState.RECEIVED
    assert [i.id for i in ledger.items(job=done)] == [a, b]


def test_lists(ledger: MediaLedger) -> None:
    a = ready_item(ledger)
    b = ledger.register(MediaKind.SD, "B", by="anna", orders=["A-2", "A-3"]).id
    ledger.returned(a, by="anna")
    assert [i.id for i in ledger.items(outstanding=True)] == [b]
    assert [i.id for i in ledger.items(order="A-3")] == [b]
    assert [i.id for i in ledger.items(states=[MediaState.RETURNED])] == [a]
    row = ledger.item(b).as_row()
    assert row["orders"] == ["A-2", "A-3"]
    assert row["state"] == "received"


def test_personal_data_stays_out_of_the_chain(ledger: MediaLedger, journal: Journal) -> None:
    item = ledger.detected(serial="SERIAL-XYZ", vendor="V", model="M", capacity=1, label="HANSEN")
    ledger.link(item.id, by="anna", orders=["ORDER-HANSEN"])
    ledger.ready(item.id, by="anna")
    ledger.returned(item.id, by="anna", shipment="PARCEL-HANSEN")
    with RawDB(journal) as raw:
        chained = " ".join(str(d) for d in raw.column("SELECT data FROM events"))
    for secret in ("SERIAL-XYZ", "HANSEN"):
        assert secret not in chained


def test_media_and_waste_configuration(tmp_path: Path) -> None:
    base = {
        "labd": {"state_dir": "s", "spool_dir": "p", "quarantine_dir": "q", "hotfolder_root": "h"},
        "products": {"p": {"format": "jpeg", "size": "6x4 in"}},
        "printers": {"m": {"queue": "m"}},
        "hotfolders": {"h": {"product": "p", "printer": "m"}},
    }
    file = str(tmp_path / "labd.toml")
    config = parse(base, file)
    assert config.media.overdue_days == 14
    assert config.waste.reasons[0] == "banding"
    config = parse(
        {**base, "media": {"overdue_days": 3, "disposition": {"cd": "return"}},
         "waste": {"reasons": ["smudge"], "uncollected_days": 30}},
        file,
    )  # fmt: skip
    assert (config.media.overdue_days, config.media.disposition["cd"]) == (3, "return")
    assert config.media.disposition["dvd"] == "destroy"
    assert (config.waste.reasons, config.waste.uncollected_days) == (("smudge",), 30)
    for bad, key in (
        ({"media": {"disposition": {"tape": "return"}}}, "media.disposition.tape"),
        ({"media": {"disposition": {"cd": "keep"}}}, "media.disposition.cd"),
        ({"media": {"overdue": 3}}, "media.overdue"),
        ({"waste": {"reasons": ["other"]}}, "waste.reasons"),
        ({"waste": {"reasons": ["a", "a"]}}, "waste.reasons"),
        ({"waste": {"certificate_overdue_days": 0}}, "waste.certificate_overdue_days"),
    ):
        with pytest.raises(ConfigError) as info:
            parse({**base, **bad}, file)
        assert info.value.key == key
