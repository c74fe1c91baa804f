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
from tests.factories import LEDGER_CONFIG as CONFIG
from tests.factories import job_in_state


@pytest.fixture
def lab(tmp_path: Path):
    config = tmp_path / "labd.toml"
    config.write_text(CONFIG)
    journal = open_journal(tmp_path / "state" / "journal.sqlite")
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
