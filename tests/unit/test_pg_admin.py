"""``labd journal migrate`` on both backends (what it found, what it did), and the bad input
of ``migrate`` and ``grants`` refused before anything is touched.

The journal is a real SQLite file or a real PostgreSQL schema (the ``store_location``
fixture); the roles and privileges of a shared journal are tests/integration/test_pg_admin.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labd.journal import MIGRATIONS
from labd.schemas import ALL, open_journal
from labd.store import PostgresLocation, StoreLocation, open_store
from labd.store.admin import needed_privileges, role_name
from tests.factories import run_labd, write_config
from tests.rawdb import RawDB

NEWEST = len(MIGRATIONS)


def config_for(tmp_path: Path, where: StoreLocation) -> Path:
    """GOOD_CONFIG with its journal at ``where`` (tmp_path/state/journal.sqlite, or a
    PostgreSQL schema)."""
    assert isinstance(where, PostgresLocation) or where == tmp_path / "state" / "journal.sqlite"
    return write_config(tmp_path, journal=where)


def name_of(where: StoreLocation) -> str:
    return where.display if isinstance(where, PostgresLocation) else str(where)


def test_migrate_says_what_it_found_and_what_it_did(
    store_location: StoreLocation, tmp_path: Path
) -> None:
    config = config_for(tmp_path, store_location)
    # A journal of a labd three migrations old, before any component had tables.
    open_store(store_location, core=MIGRATIONS[:3]).close()

    code, out = run_labd(config, "journal", "migrate")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"journal {name_of(store_location)}: migrated"
    assert lines[1] == f"  core       3 -> {NEWEST}"
    assert [line.split()[0] for line in lines[2 : 2 + len(ALL)]] == [s.name for s in ALL]
    assert all(line.split()[1:3] == ["-", "->"] for line in lines[2 : 2 + len(ALL)])
    postgres = isinstance(store_location, PostgresLocation)
    assert ("labd journal grants ROLE" in out) is postgres  # new tables need their grants

    journal = open_journal(store_location, migrate=False)  # the code's versions: no refusal
    try:
        assert journal.schema_version() == NEWEST
        assert [journal.store.component_version(s.name) for s in ALL] == [
            len(s.migrations) for s in ALL
        ]
    finally:
        journal.close()
    code, out = run_labd(config, "journal", "migrate")
    assert (code, out.splitlines()[:2]) == (
        0,
        [f"journal {name_of(store_location)}: current, nothing to do", f"  core       {NEWEST}"],
    )


def test_migrate_creates_a_sqlite_journal(tmp_path: Path) -> None:
    config = config_for(tmp_path, tmp_path / "state" / "journal.sqlite")
    code, out = run_labd(config, "journal", "migrate")
    assert code == 0
    assert out.splitlines()[:2] == [
        f"journal {tmp_path / 'state' / 'journal.sqlite'}: created",
        f"  core       - -> {NEWEST}",
    ]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_migrate_refuses_a_journal_newer_than_labd_and_leaves_it(
    store_location: StoreLocation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, store_location)
    journal = open_journal(store_location)
    with RawDB(journal) as db:
        if db.postgres:
            db.rows("UPDATE labd_schema SET version = 99")
        else:
            db.rows("PRAGMA user_version = 99")
    journal.close()
    capsys.readouterr()
    code, out = run_labd(config, "journal", "migrate")
    assert (code, out) == (4, "")
    assert "has schema version 99, newer than this labd understands" in capsys.readouterr().err
    store = open_store(store_location, core=[()] * 99, migrate=False)  # 99 is what it holds
    try:
        assert store.schema_version() == 99
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(("migrate", "labd_writer"), "ROLE is for `labd journal grants`", id="role"),
        pytest.param(("grants",), "needs the ROLE labd runs as", id="no-role"),
        pytest.param(
            ("migrate", "--password-file", "/etc/labd/pgpass"), "give --url too", id="file"
        ),
        pytest.param(
            ("migrate", "--url", "postgresql://owner:s3cret@db/labd"),
            "--url: the URL holds a password",
            id="password-in-url",
        ),
        pytest.param(("migrate", "--url", "mysql://db/labd"), "not a postgresql:// URL", id="url"),
        pytest.param(("show", "labd_writer"), "ROLE, --url and --password-file", id="show"),
        pytest.param(("grants", "labd-writer"), "'labd-writer' is not a role name", id="dash"),
        pytest.param(("grants", "Robert'); DROP TABLE events;--"), "not a role name", id="sql"),
    ],
)
def test_bad_input_is_refused_before_the_journal_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    config = config_for(tmp_path, tmp_path / "state" / "journal.sqlite")
    capsys.readouterr()
    code, out = run_labd(config, "journal", *args)
    assert code == 2
    assert out == ""  # nothing that a pipe into psql could take
    err = capsys.readouterr().err
    assert says in err
    assert "s3cret" not in err
    assert not (tmp_path / "state").exists()  # no journal created, nothing migrated


def test_role_names_and_what_labd_role_needs() -> None:
    assert role_name("labd_writer") == "labd_writer"
    assert role_name("_x" + "y" * 61) == "_x" + "y" * 61
    for bad in ("", "1st", "a-b", 'a"b', "a b", "x" * 64, "é"):
        with pytest.raises(ValueError, match="is not a role name"):
            role_name(bad)
    assert needed_privileges("events") == ("SELECT", "INSERT")
    assert needed_privileges("labd_schema") == ("SELECT",)
    assert needed_privileges("event_details") == ("SELECT", "INSERT", "UPDATE", "DELETE")
