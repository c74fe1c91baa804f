"""A PostgreSQL journal set up as the README says: the tables' owner migrates, labd runs as
a role of its own that may append events but never rewrite them, and ``labd
check-config``/``labd doctor`` say what is wrong with the connection, the server, the
schema and the role.

A real PostgreSQL server of this module's own (tests/pgserver.py): its roles, its
databases (one per test, owned by ``labd_owner``) and its ``pg_hba.conf`` are the tests'
to change; psql applies the grants as an administrator would.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import psycopg
import pytest

from labd.cli.doctor import check_journal
from labd.cli.journal_admin import inspect_journal
from labd.clock import ManualClock
from labd.config import WasteSettings, load
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind, MediaState
from labd.model import JobState
from labd.privacy.retention import Retention
from labd.schemas import open_configured
from labd.waste.ledger import WasteLedger
from labd.waste.model import WasteMaterial
from tests.factories import GOOD_CONFIG, job_in_state, run_labd, write_config
from tests.pgserver import PostgresServer, running_server

OWNER = "labd_owner"
WRITER = "labd_writer"
ORDER = "ORD-4711"
NAME = "Hansen-wedding"  # personal: the erasure must take it


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own: the tests create roles and edit pg_hba.conf."""
    with running_server() as srv:
        with srv.admin() as conn:
            conn.execute(f"CREATE ROLE {OWNER} LOGIN")
            conn.execute(f"CREATE ROLE {WRITER} LOGIN")
        yield srv


_databases = itertools.count(1)


@dataclass(frozen=True)
class Shop:
    """One lab's journal database, owned by labd_owner, and configurations to reach it."""

    server: PostgresServer
    database: str
    root: Path

    def url(self, role: str) -> str:
        return self.server.url(self.database, user=role)

    def config(self, role: str = WRITER, *, extra: str = "") -> Path:
        """A labd.toml naming this database as ``role`` (node shop-a), folders made."""
        folder = self.root / role
        folder.mkdir(exist_ok=True)
        for sub, mode in (("state", 0o700), ("spool", 0o700), ("hot/prints", 0o770)):
            (folder / sub).mkdir(parents=True, mode=mode, exist_ok=True)
        text = GOOD_CONFIG + f'\n[cups]\nserver = "{folder / "no-cups.sock"}"\n'
        text += f'\n[journal]\nurl = "{self.url(role)}"\nnode = "shop-a"\n{extra}'
        return write_config(folder, text)

    def sql(
        self, statement: str, args: tuple[object, ...] = (), *, role: str = OWNER
    ) -> list[tuple[object, ...]]:
        """One statement as ``role`` in this database (autocommit)."""
        with psycopg.connect(self.url(role), autocommit=True) as conn:
            cur = conn.execute(statement, args)
            return list(cur.fetchall()) if cur.description else []


@pytest.fixture
def shop(server: PostgresServer, tmp_path: Path) -> Shop:
    database = f"shop{next(_databases)}"
    with server.admin() as conn:
        conn.execute(f"CREATE DATABASE {database} OWNER {OWNER}")
    return Shop(server, database, tmp_path)


def error_line(err: str) -> str:
    """The one line labd's CLI writes for an error (log lines may come before it)."""
    [line] = [x for x in err.splitlines() if x.startswith("labd: ")]
    return line


def migrated(shop: Shop) -> Shop:
    """``labd journal migrate`` as the owner (the README's step)."""
    code, out = run_labd(shop.config(), "journal", "migrate", "--url", shop.url(OWNER))
    assert code == 0, out
    return shop


def granted(shop: Shop) -> Shop:
    """``labd journal grants labd_writer | psql`` as the owner (the README's step)."""
    code, sql = run_labd(shop.config(), "journal", "grants", WRITER)
    assert code == 0
    psql = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", shop.url(OWNER)],
        input=sql, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert psql.returncode == 0, psql.stderr
    return shop


def test_the_owner_migrates_and_labd_runs_as_a_role_that_cannot_rewrite_events(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = shop.config()
    # labd's own role may not create tables: migrate says so, and creates nothing.
    code, out = run_labd(config_path, "journal", "migrate")
    assert code == 13
    assert out == ""
    assert "role labd_writer may not create or alter the journal's tables in schema public" in (
        error_line(capsys.readouterr().err)
    )
    assert shop.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]

    code, out = run_labd(config_path, "journal", "migrate", "--url", shop.url(OWNER))
    assert code == 0
    assert out.startswith(
        f"journal {shop.url(OWNER).split('?')[0]}: created\n  core       - -> 4\n"
    )
    assert "  media      - -> 1\n" in out
    code, out = run_labd(config_path, "journal", "migrate", "--url", shop.url(OWNER))
    assert (code, out.splitlines()[0].endswith(": current, nothing to do")) == (0, True)
    # Before the grants labd's role can read nothing: check-config says what to run.
    assert run_labd(config_path, "check-config")[0] == 13
    assert f"labd journal grants {WRITER}" in error_line(capsys.readouterr().err)
    granted(shop)
    code, out = run_labd(config_path, "check-config")
    assert code == 0, capsys.readouterr().err
    assert "role labd_writer, node shop-a, schema current\n" in out
    assert "warning" not in out

    # labd's whole life, as labd_writer: the daemon's opening (it migrates when it must:
    # here nothing), a job from discovery to done, media, waste, an erasure.
    config = load(config_path)
    clock = ManualClock()
    journal = open_configured(config, clock, own_jobs=True)
    try:
        job = job_in_state(
            journal, JobState.DONE, config.spool_dir, entry=NAME, order=ORDER,
            files=[(f"{NAME}/a.jpg", 100)], write_inputs=True,
        )  # fmt: skip
        assert (job.state, job.node) == (JobState.DONE, "shop-a")
        media = MediaLedger(journal)
        stick = media.register(MediaKind.USB, "SERIAL-77", by="anna", orders=[ORDER])
        media.in_use(stick.id, by="anna")
        media.ready(stick.id, by="anna")
        assert media.returned(stick.id, by="anna").state is MediaState.RETURNED
        waste = WasteLedger(journal, WasteSettings(reasons=("banding",)), MediaLedger(journal))
        waste.open("W-1", material=WasteMaterial.P, level=4, location="QC", by="anna")
        entry = waste.misprint(job.id, container="W-1", reason="banding", by="anna")
        waste.seal("W-1", seal="S-1", by="anna")
        waste.collect("W-1", company="Shred AS", on=date(2026, 1, 2), by="bob")
        Retention(journal, config, clock).erase(order_ref=ORDER, by="sue", request="DSR-1")
        assert journal.job(job.id).state is JobState.PURGED
        assert journal.job(job.id).entry != NAME
        assert [e.id for e in waste.register.entries(job=job.id)] == [entry.id]
    finally:
        journal.close()
    assert shop.sql("SELECT count(*) FROM job_personal WHERE entry = %s", (NAME,)) == [(0,)]
    code, verified = run_labd(config_path, "journal", "verify")
    assert code == 0, capsys.readouterr().err
    assert verified.startswith("OK: ")

    # The database refuses a rewrite by labd's role even with labd's trigger gone.
    shop.sql("DROP TRIGGER events_append_only_update ON events")
    shop.sql("DROP TRIGGER events_append_only_delete ON events")
    before = shop.sql("SELECT seq, kind, data, hash FROM events ORDER BY seq")
    for statement in (
        "UPDATE events SET kind = 'job.rewritten' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 1",
        "TRUNCATE events",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            shop.sql(statement, role=WRITER)
    # ... while the owner could (rolled back): only the privileges stood in the way.
    with psycopg.connect(shop.url(OWNER)) as conn:
        assert conn.execute("UPDATE events SET kind = 'x' WHERE seq = 1").rowcount == 1
        conn.rollback()
    assert shop.sql("SELECT seq, kind, data, hash FROM events ORDER BY seq") == before
    assert run_labd(config_path, "journal", "verify") == (0, verified)

    # doctor: labd's role cannot rewrite events; the owner's could, and doctor warns.
    ok = [f.what for f in check_journal(config) if f.ok and not f.warning]
    assert any("role labd_writer cannot UPDATE, DELETE or TRUNCATE events" in w for w in ok)
    as_owner = load(shop.config(OWNER))
    [warn] = [f for f in check_journal(as_owner) if f.warning]
    assert "role labd_owner (it owns the tables) may UPDATE, DELETE, TRUNCATE" in warn.what
    assert "labd journal grants" in warn.fix
    code, out = run_labd(shop.config(OWNER), "check-config")
    assert code == 0
    assert "  warning: role labd_owner (it owns the tables) may UPDATE, DELETE, TRUNCATE" in out


def test_grants_refuses_what_is_not_a_role_and_prints_nothing(
    shop: Shop, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = migrated(shop).config()
    granted(shop)
    rights = "SELECT privilege_type FROM information_schema.role_table_grants "
    rights += f"WHERE grantee = '{WRITER}' ORDER BY table_name, privilege_type"
    held = shop.sql(rights)
    capsys.readouterr()
    for role, status, says in (
        ("labd_writer; DROP TABLE events", 2, "is not a role name"),
        ("1abc", 2, "is not a role name"),
        ("no_such_role", 4, "there is no role 'no_such_role' on the server"),
        (OWNER, 4, "owns the journal's tables"),
        (shop.server.user, 4, "is a superuser"),
    ):
        code, out = run_labd(config, "journal", "grants", role)
        assert (code, out) == (status, ""), role
        assert says in capsys.readouterr().err
    # Nothing changed: the events table is there, labd_writer holds what it held.
    assert shop.sql("SELECT count(*) FROM events")[0][0] == 0
    assert shop.sql(rights) == held

    sqlite = write_config(tmp_path)
    code, out = run_labd(sqlite, "journal", "grants", WRITER)
    assert (code, out) == (4, "")
    assert "is a SQLite file, which has no roles" in error_line(capsys.readouterr().err)


def test_check_config_and_doctor_name_an_unreachable_server_in_one_line(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    config = migrated(shop).config()
    capsys.readouterr()
    shop.server.stop()
    try:
        code, out = run_labd(config, "check-config")
        line = error_line(capsys.readouterr().err)
        findings = check_journal(load(config))
    finally:
        shop.server.start()
    assert (code, out) == (4, "")
    url = shop.url(WRITER).split("?")[0]
    assert line.startswith(f"labd: Journal {url}: cannot connect: ")
    assert "No such file or directory Is the server running" in line  # libpq's hint, same line
    assert "?host=" not in line  # the URL's query (options, secrets) is never shown
    [finding] = findings
    assert not finding.ok
    assert finding.what == line.removeprefix("labd: ")
    assert "start the PostgreSQL server" in finding.fix
    # Back up: the same configuration checks clean; nothing was lost meanwhile.
    granted(shop)
    assert run_labd(config, "check-config")[0] == 0


def test_a_password_file_that_cannot_be_read_or_is_wrong(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(shop)
    with shop.server.admin() as conn:
        conn.execute("CREATE ROLE labd_pw LOGIN PASSWORD 'right-horse-battery'")
    hba = shop.server.data / "pg_hba.conf"
    trust = hba.read_text()
    # scram-sha-256 for labd_pw, before the test server's "trust" lines.
    hba.write_text("local all labd_pw scram-sha-256\n" + trust)
    shop.sql("SELECT pg_reload_conf()", role=shop.server.user)
    try:
        secret = shop.root / "pgpass"
        extra = f'password_file = "{secret}"\n'
        config = shop.config("labd_pw", extra=extra)
        url = shop.url("labd_pw").split("?")[0]
        capsys.readouterr()

        # No file: one line naming the URL and the file.
        code, out = run_labd(config, "check-config")
        assert (code, out) == (4, "")
        assert error_line(capsys.readouterr().err) == (
            f"labd: Journal {url}: cannot read the password file {secret}: "
            "No such file or directory"
        )
        secret.mkdir()
        assert run_labd(config, "check-config")[0] == 4
        assert f"cannot read the password file {secret}: Is a directory" in error_line(
            capsys.readouterr().err
        )
        [unread] = check_journal(load(config))
        assert unread.fix.startswith("write the password into a file: mode 0600")
        secret.rmdir()

        # A wrong password: authentication fails, said in one line, the password never.
        secret.write_text("wrong-horse\n")
        secret.chmod(0o600)
        code, out = run_labd(config, "check-config")
        assert (code, out) == (4, "")
        line = error_line(capsys.readouterr().err)
        assert line.startswith(f"labd: Journal {url}: cannot connect: ")
        assert 'password authentication failed for user "labd_pw"' in line
        assert "wrong-horse" not in line
        findings = check_journal(load(config))
        assert [f.ok for f in findings] == [True, False]  # the file's mode; the connection
        assert "put the role's password in password_file" in findings[1].fix

        # The right one: labd_pw gets in (and, without grants, is told what it lacks).
        secret.write_text("right-horse-battery\n")
        assert run_labd(config, "check-config")[0] == 13
        assert "labd_pw lacks what labd needs: SELECT on" in capsys.readouterr().err
        secret.chmod(0o644)
        [mode] = [f for f in check_journal(load(config)) if "password file" in f.what]
        assert (mode.ok, mode.fix) == (False, f"chmod 0600 {secret}")
        assert f"others than {secret.owner()} can read the database password" in mode.what
    finally:
        hba.write_text(trust)
        shop.sql("SELECT pg_reload_conf()", role=shop.server.user)


def test_check_config_and_doctor_on_the_schema_version(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    config = granted(migrated(shop)).config()
    url = shop.url(WRITER).split("?")[0]
    capsys.readouterr()
    cases = (
        ("UPDATE labd_schema SET version = 3", "has schema version 3, older than this labd's (4)"
         ": run `labd journal migrate`", "labd journal migrate"),
        ("UPDATE labd_schema SET version = 99", "has schema version 99, newer than this labd "
         "understands (4); upgrade labd", "upgrade labd"),
    )  # fmt: skip
    for change, says, fix in cases:
        shop.sql(change)
        code, out = run_labd(config, "check-config")
        assert (code, out) == (4, "")
        line = error_line(capsys.readouterr().err)
        assert line.startswith((f"labd: Journal {url} has", f"labd: Journal {url}: has"))
        assert says in line
        [finding] = [f for f in check_journal(load(config)) if "schema version" in f.what]
        assert (finding.ok, finding.fix.startswith(fix)) == (False, True)
        # Checking changed nothing: the version is still what it was set to.
        assert shop.sql("SELECT version FROM labd_schema")[0][0] == int(change.split()[-1])
    shop.sql("UPDATE labd_schema SET version = 4")
    shop.sql("UPDATE component_schema SET version = 7 WHERE name = 'media'")
    assert run_labd(config, "check-config")[0] == 4
    assert f"Journal {url} (media) has schema version 7, newer" in capsys.readouterr().err
    shop.sql("UPDATE component_schema SET version = 1 WHERE name = 'media'")
    code, out = run_labd(config, "check-config")
    assert code == 0
    assert f"journal: {url}: PostgreSQL " in out


def test_the_server_version_is_checked(shop: Shop) -> None:
    found = inspect_journal(load(granted(migrated(shop)).config()).journal.postgres)  # type: ignore[arg-type]  # configured above
    assert found.facts.server_version_num >= 130000
    assert found.server_problem() is None
    old = replace(found, facts=replace(found.facts, server_version_num=120022,
                                       server_version="12.22 (Debian 12.22-1)"))  # fmt: skip
    assert old.server_problem() == "PostgreSQL 12.22 is older than labd supports (13 or newer)"
    config = load(shop.config())
    [ok] = [f for f in check_journal(config) if "PostgreSQL" in f.what]
    assert ok.ok
    assert f"PostgreSQL {found.facts.server_version.split()[0]}, connected as role" in ok.what
