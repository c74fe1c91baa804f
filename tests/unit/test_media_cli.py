"""`labd media` and `labd waste` through labd.cli.main against a real journal and config file."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest

from labd.cli import main
from labd.model import JobState
from labd.schemas import open_journal
from labd.store import StoreLocation
from tests.factories import LEDGER_CONFIG as CONFIG
from tests.factories import job_in_state, journal_table
from tests.imagegen import make_photo


@pytest.fixture
def lab(tmp_path: Path, store_location: StoreLocation):
    """The commands on a journal in each store (see tests/conftest.py)."""
    config = tmp_path / "labd.toml"
    config.write_text(CONFIG + journal_table(store_location))
    journal = open_journal(store_location)
    job = job_in_state(journal, JobState.DONE, tmp_path / "spool").id
    journal.close()

    def run(*argv: str, code: int = 0) -> str:
        out = StringIO()
        assert main(["--config", str(config), *argv], out=out) == code
        return out.getvalue()

    run.job = job  # type: ignore[attr-defined]
    return run


def test_media_commands(lab, capsys) -> None:
    assert lab("media", "register", "--kind", "dvd", "--id", "T-1", "--order", "A-1", "--by",
               "anna") == "media 1: received (dvd, class O, to destroy)\n"  # fmt: skip
    lab("media", "register", "--kind", "usb", "--id", "S-9", "--id-kind", "serial", "--job",
        str(lab.job), "--by", "anna")  # fmt: skip
    lab("media", "ready", "1")
    lab("media", "return", "1", code=22)
    assert "marked to destroy; to do otherwise, give --override" in capsys.readouterr().err
    lab("media", "return", "1", "--override", "--reason", "asked", "--shipment", "P-1")
    lab("media", "lost", "2", "--contents", "photos", "--measures", "DPO told")
    lab("media", "history", "9", code=21)
    table = lab("media", "list", "--outstanding")
    assert table.startswith("ID")
    assert "(none)" in table
    rows = list(csv.DictReader(StringIO(lab("media", "list", "--format", "csv"))))
    assert [(r["id"], r["state"], r["orders"]) for r in rows] == [
        ("1", "returned", "A-1"), ("2", "lost", ""),
    ]  # fmt: skip
    items = [json.loads(line) for line in lab("media", "list", "--order", "A-1", "--format",
                                               "json").splitlines()]  # fmt: skip
    assert [i["shipment"] for i in items] == ["P-1"]
    assert "media.returned" in lab("media", "history", "1")
    assert lab("media", "list", "--overdue") == lab("media", "list", "--state", "ready")


def test_waste_commands(lab, capsys) -> None:
    job = str(lab.job)
    lab("waste", "container", "open", "W-1", "--class", "P", "--level", "4", "--location", "QC")
    lab("waste", "container", "open", "W-O", "--class", "O", "--level", "3", "--location", "QC")
    out = lab("waste", "misprint", job, "--outputs", "1,2", "--reason", "banding", "--container",
              "W-1", "--reprint")  # fmt: skip
    assert "2 sheets (banding) into W-1" in out
    assert f"reprint of job {job} for waste entry 1" in out
    [again] = [j for j in json.loads("[" + ",".join(lab("jobs", "--format", "json").splitlines())
                                          + "]") if j["id"] != lab.job]  # fmt: skip
    assert again["state"] == "CONVERTED"  # the daemon submits it on its next pass
    lab("waste", "misprint", job, "--reason", "smudge", "--container", "W-1", code=26)
    assert "unknown reason 'smudge'; reasons: banding, dust, other" in capsys.readouterr().err
    lab("media", "register", "--kind", "cd", "--id", "T-1", "--order", "A-7")
    lab("media", "ready", "1")
    lab("media", "destroy", "1", "--container", "W-O")
    manifest = json.loads(lab("waste", "container", "manifest", "W-O", "--format", "json"))
    assert manifest["entries"][0]["orders"] == ["A-7"]
    assert manifest["din_level"] == "O-3"
    lab("waste", "container", "collect", "W-1", "--company", "Shred AS", code=25)
    assert "it must be sealed first" in capsys.readouterr().err
    lab("waste", "container", "seal", "W-1", "--seal", "S-1")
    lab("waste", "container", "collect", "W-1", "--company", "Shred AS", "--date", "2026-01-02")
    lab("waste", "container", "certify", "W-1", "--certificate", "C-1", "--date", "2026-01-09")
    assert "P-4" in lab("waste", "container", "list")
    register = list(csv.DictReader(StringIO(lab("waste", "report", "certificates", "--format",
                                                 "csv"))))  # fmt: skip
    assert [(r["container"], r["certificate"]) for r in register] == [("W-1", "C-1")]
    reasons = lab("waste", "report", "--format", "json").splitlines()
    assert {json.loads(r)["reason"] for r in reasons} == {"banding", "-"}
    table = lab("waste", "container", "manifest", "W-1")
    assert "certificate   C-1" in table
    lab("waste", "uncollected", "mark", job)
    assert json.loads(lab("waste", "uncollected", "list", "--format", "json"))["due"] is False
    lab("waste", "uncollected", "destroy", job, "--container", "W-O", "--sheets", "2", code=26)
    lab("waste", "container", "manifest", "W-9", code=24)


def test_media_import_refuses_bad_requests_and_changes_nothing(lab, capsys, tmp_path) -> None:
    hot = tmp_path / "hot" / "h"
    hot.mkdir(parents=True)
    medium = tmp_path / "medium"
    medium.mkdir()
    (medium / "notes.txt").write_text("no photo here\n")
    lab("media", "register", "--kind", "usb", "--id", "S-1", "--order", "A-1")
    lab("media", "register", "--kind", "dvd", "--id", "D-2", "--order", "A-2")
    lab("media", "ready", "2")
    lab("media", "return", "2", "--override", "--reason", "asked")

    def refused(*argv: str, code: int, says: str) -> str:
        out: str = lab("media", "import", *argv, code=code)
        assert says in capsys.readouterr().err
        return out

    refused("1", "--from", str(medium), "--hotfolder", "nope", code=20,
            says="no hot folder 'nope' (known: h)")  # fmt: skip
    refused("1", "--from", str(medium), "--hotfolder", "h", "--copies", "0", code=20,
            says="--copies must be 1 to 99")  # fmt: skip
    refused("2", "--from", str(medium), "--hotfolder", "h", code=22,
            says="it is no longer in the house")  # fmt: skip
    refused("1", "--from", str(medium / "notes.txt"), "--hotfolder", "h", code=20,
            says="is not a folder")  # fmt: skip
    out = refused("1", "--from", str(medium), "--hotfolder", "h", code=20,
                  says="no photo to print")  # fmt: skip
    assert out.startswith("left on the medium: notes.txt: ")  # what it is, said
    assert list(hot.iterdir()) == []  # nothing released, nothing staged left behind
    assert (medium / "notes.txt").read_text() == "no photo here\n"  # the medium untouched
    items = [json.loads(line) for line in lab("media", "list", "--format", "json").splitlines()]
    assert [i["state"] for i in items] == ["received", "returned"]
    imported = [line for line in lab("media", "history", "1").splitlines() if "imported" in line]
    [empty] = imported  # the empty medium, journaled
    assert "complete=False" in empty


def test_a_damaged_photo_makes_the_import_incomplete(lab, capsys, tmp_path) -> None:
    hot = tmp_path / "hot" / "h"
    hot.mkdir(parents=True)
    medium = tmp_path / "card"
    medium.mkdir()
    make_photo(medium / "IMG_0001.JPG", size=(1200, 800))
    whole = (medium / "IMG_0001.JPG").read_bytes()
    (medium / "IMG_0002.JPG").write_bytes(whole[: len(whole) // 2])  # cut short
    lab("media", "register", "--kind", "sd", "--id", "C-1", "--order", "A-3")
    out = lab("media", "import", "1", "--from", str(medium), "--hotfolder", "h", code=27)
    assert out.startswith("UNREADABLE: IMG_0002.JPG: cannot be printed: ")
    assert "cannot read IMG_0002.JPG" in capsys.readouterr().err
    assert list(hot.iterdir()) == []  # the order would have printed without it: nothing
    assert (medium / "IMG_0002.JPG").stat().st_size == len(whole) // 2  # the card untouched
