"""The Samba checks behind `labd doctor`, on real smb.conf text and real testparm."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labd.config import DEFAULT_IGNORE, load
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
    # Every hot folder of the shipped configuration has its share in the example.
    for hf in load(REPO / "config" / "labd.toml").hotfolders.values():
        path = tmp_path / hf.name
        path.mkdir()
        text = text.replace(f"path = {hf.path}\n", f"path = {path}\n")
        folders.append(folder(path, hf.name))
    conf = tmp_path / "smb.conf"
    conf.write_text(text)
    assert check(effective_config(conf), folders) == []


def test_doctor_checks_hot_folders_and_their_shares(tmp_path: Path) -> None:
    from labd.cli.doctor import check_hotfolders, check_shares  # noqa: PLC0415  # under test

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


SHARED = """\
[global]
{global_lines}
[prints]
   path = {path}
   valid users = @lab
   guest ok = no
   create mask = 0660
   directory mask = 0770
   follow symlinks = no
"""


@pytest.mark.parametrize(
    ("global_lines", "problem"),
    [
        pytest.param("", None, id="samba-default-auto"),
        pytest.param(
            "server role = standalone server\nsecurity = auto", None, id="auto-standalone"
        ),
        pytest.param("server role = standalone\nsecurity = AUTO", None, id="auto-standalone-short"),
        pytest.param("security = auto", None, id="auto-role-auto"),
        pytest.param("server role = member server\nsecurity = auto", None, id="auto-member"),
        pytest.param("server role = active directory domain controller", None, id="auto-dc"),
        pytest.param("security = user", None, id="user"),
        pytest.param("security = ads", None, id="ads"),
        pytest.param("security = domain", None, id="domain"),
        pytest.param("security = share", "security = share: not user-level", id="share"),
        pytest.param("security = server", "security = server: not user-level", id="server"),
        pytest.param(
            "server role = print server\nsecurity = auto",
            "security = auto with server role = print server, a role Samba does not know: "
            "not user-level",
            id="auto-unknown-role",
        ),
    ],
)
def test_security_is_judged_as_samba_applies_it(
    tmp_path: Path, global_lines: str, problem: str | None
) -> None:
    config = parse(SHARED.format(global_lines=global_lines, path=tmp_path))
    findings = [f for f in check(config, [folder(tmp_path)]) if f.subject == "[global]"]
    assert [f.problem for f in findings] == ([] if problem is None else [problem])
    assert all(f.severity == "error" and f.fix == "set `security = user`" for f in findings)


@pytest.mark.skipif(shutil.which("testparm") is None, reason="samba's testparm not installed")
def test_debians_standalone_server_is_user_level_as_testparm_prints_it(tmp_path: Path) -> None:
    # Debian's smb.conf says `server role = standalone server` and no security; testparm -v
    # prints Samba's default for it, `security = AUTO`.
    conf = tmp_path / "smb.conf"
    conf.write_text(
        SHARED.format(
            global_lines="   server role = standalone server\n   map to guest = never",
            path=tmp_path,
        )
    )
    effective = effective_config(conf)
    assert effective["global"]["security"].lower() == "auto"
    assert check(effective, [folder(tmp_path)]) == []


def test_server_wide_settings_are_warnings_until_a_share_exposes_a_hot_folder(
    tmp_path: Path,
) -> None:
    text = "[global]\n   map to guest = bad user\n   security = share\n"
    alone = check(parse(text), [folder(tmp_path)])
    server_wide = [f for f in alone if f.subject == "[global]"]
    assert [f.severity for f in server_wide] == ["warning", "warning"]
    assert all(f.fix.endswith("(before sharing a hot folder)") for f in server_wide)

    shared = check(parse(text + f"[prints]\n   path = {tmp_path}\n"), [folder(tmp_path)])
    assert [f.severity for f in shared if f.subject == "[global]"] == ["error", "error"]
