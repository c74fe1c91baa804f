"""The Samba checks behind `labd doctor`, on real smb.conf text and real testparm."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labd.config import DEFAULT_IGNORE
from labd.model import HotFolder
from labd.samba import check, effective_config, parse

REPO = Path(__file__).resolve().parents[2]


def folder(path: Path, name: str = "prints") -> HotFolder:
    return HotFolder(name=name, path=path, product="p", printer="q", stability_seconds=1,
                     ignore=DEFAULT_IGNORE)  # fmt: skip


LEAK = "lets users outside the lab read customer files"
BAD = """\
[global]
   map to guest = Bad User
[prints]
   path = {path}
   public = yes
   wide links = yes
   create mode = 0664
   directory mask = 0775
"""


def test_a_leaky_share_gets_every_finding(tmp_path: Path) -> None:
    config = parse(BAD.format(path=tmp_path))
    findings = check(config, [folder(tmp_path), folder(tmp_path / "other", "other")])
    problems = {(f.severity, f.subject, f.problem) for f in findings}
    assert problems == {
        ("error", "[global]", "map to guest lets unknown users in as guest"),
        ("error", "share [prints]", "guests may connect without a password"),
        ("error", "share [prints]", "every Samba account may connect"),
        ("error", "share [prints]", "wide links lets links lead outside the share"),
        ("error", "share [prints]", f"create mask 0664 {LEAK}"),
        ("error", "share [prints]", f"directory mask 0775 {LEAK}"),
        ("warning", "share [prints]", "clients may create and follow links"),
        ("warning", "hot folder other", f"no Samba share exposes {tmp_path / 'other'}"),
    }  # fmt: skip
    assert all(f.fix for f in findings)


@pytest.mark.skipif(shutil.which("testparm") is None, reason="samba's testparm not installed")
def test_the_shipped_example_is_clean_as_samba_reads_it(tmp_path: Path) -> None:
    text = (REPO / "config" / "smb.conf.example").read_text()
    folders = []
    for name in ("prints-10x15", "prints-13x18", "enlargements-20x30"):
        path = tmp_path / name
        path.mkdir()
        text = text.replace(f"/srv/labd/hot/{name}", str(path))
        folders.append(folder(path, name))
    conf = tmp_path / "smb.conf"
    conf.write_text(text)
    assert check(effective_config(conf), folders) == []


def test_doctor_checks_hot_folders_and_their_shares(tmp_path: Path) -> None:
    from labd.cli.doctor import check_hotfolders, check_shares  # noqa: PLC0415  # under test
    from labd.config import load  # noqa: PLC0415

    (tmp_path / "hot" / "open").mkdir(parents=True, mode=0o755)
    (tmp_path / "hot" / "open").chmod(0o755)
    (tmp_path / "hot" / "closed").mkdir(mode=0o770)
    (tmp_path / "hot" / "closed").chmod(0o770)
    conf = tmp_path / "labd.toml"
    conf.write_text(
        '[labd]\nstate_dir = "s"\nspool_dir = "sp"\nquarantine_dir = "q"\nhotfolder_root = "hot"\n'
        '[printers.p]\nqueue = "q"\n[products.x]\nformat = "jpeg"\nsize = "6x4 in"\n'
        '[hotfolders.open]\nproduct = "x"\nprinter = "p"\n'
        '[hotfolders.closed]\nproduct = "x"\nprinter = "p"\n'
    )
    config = load(conf)
    folders = {f.what.split(":")[0]: f for f in check_hotfolders(config)}
    assert not folders["hot folder open"].ok
    assert "fix: chmod o-rwx" in folders["hot folder open"].what
    assert folders["hot folder closed"].ok
    smb = tmp_path / "smb.conf"
    smb.write_text(f"[closed]\n path = {tmp_path / 'hot' / 'closed'}\n guest ok = yes\n")
    shares = check_shares(config, smb)
    assert any(not f.ok and "guests may connect" in f.what for f in shares)
    assert any(f.warning and "no Samba share exposes" in f.what for f in shares)
    assert check_shares(config, tmp_path / "none.conf")[0].what.endswith("skipped")
