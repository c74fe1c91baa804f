"""Storage errors reach labd as its own, in three kinds, on real SQLite files.

Transient (JournalUnavailable: locked, full, read-only, I/O): labd holds and retries.
Fatal (JournalUnusable: damaged, not a journal): labd stops.  Anything else (a constraint)
is a bug: plain JournalError.  A user who may not open the journal gets exit code 13 and
one line, never a traceback.  Each case also checks that nothing was lost.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import textwrap
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labd.cli import main
from labd.errors import (
    AccessDenied,
    JournalError,
    JournalSchemaError,
    JournalUnavailable,
    JournalUnusable,
)
from labd.journal import Journal, storage_error
from labd.model import JobKind
from tests.factories import GOOD_CONFIG as GOOD
from tests.rawdb import REFUSALS, RawDB, is_postgres, location_of


def events(journal: Journal) -> int:
    [(n,)] = journal.query("SELECT count(*) FROM events")
    assert isinstance(n, int)
    return n


def discover(journal: Journal, tmp_path: Path) -> None:
    journal.discover(
        hotfolder="prints",
        kind=JobKind.FILE,
        entry="IMG_0001.jpg",
        technician="anna",
        source_inode=7,
        spool_root=tmp_path / "spool",
    )


def add_event(journal: Journal, _tmp_path: Path) -> None:
    with journal.transaction() as tx:
        tx.event("test.written", {"n": 1})


def event_then(journal: Journal, statement: str) -> None:
    """One transaction: an event, then ``statement``."""
    with journal.transaction() as tx:
        tx.event("test.written", {"n": 2})
        tx.execute(statement)


def written_between_events(journal: Journal, statement: str) -> None:
    """One transaction: an event, ``statement`` as a write nobody waits for, an event."""
    with journal.transaction() as tx:
        tx.event("test.written", {"n": 1})
        tx.write(statement)
        tx.event("test.written", {"n": 2})


# -- the driver's codes, one by one ---------------------------------------------------------


def driver_error(code: int | None) -> sqlite3.Error:
    error = sqlite3.OperationalError(f"code {code}")
    if code is not None:
        error.sqlite_errorcode = code  # as the driver sets it
    return error


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        pytest.param(5, JournalUnavailable, id="SQLITE_BUSY"),
        pytest.param(517, JournalUnavailable, id="SQLITE_BUSY_SNAPSHOT"),
        pytest.param(6, JournalUnavailable, id="SQLITE_LOCKED"),
        pytest.param(7, JournalUnavailable, id="SQLITE_NOMEM"),
        pytest.param(8, JournalUnavailable, id="SQLITE_READONLY"),
        pytest.param(1032, JournalUnavailable, id="SQLITE_READONLY_DBMOVED"),
        pytest.param(10, JournalUnavailable, id="SQLITE_IOERR"),
        pytest.param(778, JournalUnavailable, id="SQLITE_IOERR_WRITE"),
        pytest.param(13, JournalUnavailable, id="SQLITE_FULL"),
        pytest.param(14, JournalUnavailable, id="SQLITE_CANTOPEN"),
        pytest.param(15, JournalUnavailable, id="SQLITE_PROTOCOL"),
        pytest.param(11, JournalUnusable, id="SQLITE_CORRUPT"),
        pytest.param(267, JournalUnusable, id="SQLITE_CORRUPT_VTAB"),
        pytest.param(26, JournalUnusable, id="SQLITE_NOTADB"),
        pytest.param(19, JournalError, id="SQLITE_CONSTRAINT"),
        pytest.param(2067, JournalError, id="SQLITE_CONSTRAINT_UNIQUE"),
        pytest.param(1, JournalError, id="SQLITE_ERROR"),
        pytest.param(21, JournalError, id="SQLITE_MISUSE"),
        pytest.param(None, JournalError, id="no-code"),
    ],
)
def test_storage_error_kinds(tmp_path: Path, code, kind) -> None:
    error = storage_error(tmp_path / "journal.sqlite", driver_error(code), "cannot write")
    assert type(error) is kind
    assert str(error).startswith(f"Journal {tmp_path / 'journal.sqlite'}: cannot write: code ")
    if kind is JournalUnusable:
        assert "restore it from a backup" in str(error)


# -- transient: another process holds the write lock ----------------------------------------


@pytest.mark.parametrize("write", [add_event, discover])
def test_a_locked_journal_is_unavailable_and_loses_nothing(
    tmp_path: Path, journal: Journal, write: Callable[[Journal, Path], None]
) -> None:
    journal.close()
    # A short busy timeout (labd waits 10 s), so that the test does not wait that long.
    journal = Journal.open(location_of(journal), busy_timeout_ms=50)
    add_event(journal, tmp_path)
    before = events(journal)
    with RawDB(journal) as other, other.holding_the_write_lock():
        with pytest.raises(JournalUnavailable, match=REFUSALS["locked"]) as raised:
            write(journal, tmp_path)
        assert type(raised.value) is JournalUnavailable
        assert events(journal) == before  # reading goes on and sees nothing half done
    write(journal, tmp_path)  # once the lock is gone, the same write goes through
    assert events(journal) == before + 1
    assert journal.verify().first_bad is None


# -- fatal: a damaged file or no journal at all ---------------------------------------------


@pytest.mark.parametrize("create", [True, False])
def test_random_bytes_are_unusable_and_left_as_they_are(tmp_path: Path, create) -> None:
    path = tmp_path / "journal.sqlite"
    garbage = random.Random(0).randbytes(8192)  # noqa: S311  # reproducible garbage
    path.write_bytes(garbage)
    with pytest.raises(JournalUnusable) as raised:
        Journal.open(path, create=create)
    assert type(raised.value) is JournalUnusable  # not the schema error, its subclass
    assert "file is not a database; restore it from a backup" in str(raised.value)
    assert path.read_bytes() == garbage  # kept for whoever restores or inspects it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite"]


def test_a_damaged_journal_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal.open(path)
    with journal.transaction() as tx:
        for n in range(200):
            tx.event("test.written", {"n": n, "pad": "x" * 200})
    journal.close()
    data = bytearray(path.read_bytes())
    assert data.startswith(b"SQLite format 3\0")
    page = int.from_bytes(data[16:18], "big")
    # Garbage over every page but the first (reproducible, not a secret).
    data[page:] = random.Random(1).randbytes(len(data) - page)  # noqa: S311
    path.write_bytes(bytes(data))
    with pytest.raises(JournalUnusable, match="database disk image is malformed") as raised:
        Journal.open(path)
    assert not isinstance(raised.value, JournalSchemaError)
    assert path.read_bytes() == bytes(data)


# -- a bug: constraints ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        pytest.param(
            "INSERT INTO component_schema (name, version) VALUES ('printing', 9)",
            REFUSALS["unique"],
            id="unique",
        ),
        pytest.param(
            "INSERT INTO job_personal (job_id, entry) VALUES (999999, 'x')",
            REFUSALS["foreign-key"],
            id="foreign-key",
        ),
        pytest.param(
            "INSERT INTO component_schema (name, version) VALUES ('x', NULL)",
            REFUSALS["not-null"],
            id="not-null",
        ),
        pytest.param("UPDATE events SET kind = 'edited'", "append-only", id="append-only-update"),
        pytest.param("DELETE FROM events", "append-only", id="append-only-delete"),
    ],
)
def test_a_constraint_is_a_plain_journal_error(
    tmp_path: Path, journal: Journal, statement, message
) -> None:
    add_event(journal, tmp_path)
    before = events(journal)
    schemas = journal.query("SELECT name, version FROM component_schema")
    with pytest.raises(JournalError, match=message) as raised:
        event_then(journal, statement)
    assert type(raised.value) is JournalError  # neither transient nor fatal: a bug
    # The whole transaction is gone, the event before the failed statement too.
    assert events(journal) == before
    assert journal.query("SELECT name, version FROM component_schema") == schemas
    assert journal.query("SELECT count(*) FROM job_personal") == [(0,)]
    assert journal.verify().first_bad is None
    add_event(journal, tmp_path)  # and the journal goes on
    assert events(journal) == before + 1


def test_a_constraint_inside_a_batch_fails_that_step_alone(
    tmp_path: Path, journal: Journal
) -> None:
    before = events(journal)
    with journal.batch():
        add_event(journal, tmp_path)
        with pytest.raises(JournalError, match=REFUSALS["foreign-key"]) as raised:
            event_then(journal, "INSERT INTO job_personal (job_id, entry) VALUES (999999, 'x')")
        assert type(raised.value) is JournalError
        add_event(journal, tmp_path)
    assert events(journal) == before + 2
    assert journal.verify().first_bad is None


def test_a_refused_write_nobody_waited_for_fails_its_transaction_whole(
    tmp_path: Path, journal: Journal
) -> None:
    # Tx.write: PostgreSQL sends it with the next statement or the commit, so the server's
    # refusal comes later than the call; what it refuses is never half committed.
    before = events(journal)
    refused = "INSERT INTO job_personal (job_id, entry) VALUES (999999, 'x')"
    with pytest.raises(JournalError, match=REFUSALS["foreign-key"]):
        written_between_events(journal, refused)
    assert events(journal) == before
    assert journal.query("SELECT count(*) FROM job_personal") == [(0,)]

    said: list[JournalError] = []
    try:
        with journal.batch():
            add_event(journal, tmp_path)
            try:
                with journal.transaction() as tx:
                    tx.write(refused)
            except JournalError as e:
                said.append(e)  # SQLite refuses it at once, in its step
            add_event(journal, tmp_path)
    except JournalError as e:
        said.append(e)  # PostgreSQL: with the batch's next statement, the batch whole
    assert len(said) == 1
    assert type(said[0]) is JournalError
    assert re.search(REFUSALS["foreign-key"], said[0].get_message())
    assert events(journal) == before + (0 if is_postgres(journal) else 2)
    assert journal.query("SELECT count(*) FROM job_personal") == [(0,)]
    assert journal.verify().first_bad is None
    add_event(journal, tmp_path)  # and the journal goes on
    assert journal.verify().first_bad is None


class _StepFailed(Exception):
    pass


def failed_step(journal: Journal, kind: str, *, look: bool) -> None:
    """A step that appends an event (and reads it back when ``look``), then fails."""
    with journal.transaction() as tx:
        tx.event(kind, {})
        if look:  # a statement that waits for the server: what the step kept goes too
            assert tx.one("SELECT count(*) FROM events WHERE kind = ?", (kind,)) == (1,)
        raise _StepFailed


def test_a_failed_step_leaves_nothing_whether_or_not_its_writes_were_sent(
    tmp_path: Path, journal: Journal
) -> None:
    before = events(journal)
    with journal.batch():
        add_event(journal, tmp_path)
        with pytest.raises(_StepFailed):
            failed_step(journal, "test.unsent", look=False)
        with pytest.raises(_StepFailed):
            failed_step(journal, "test.sent", look=True)
        add_event(journal, tmp_path)
    kinds = [e.kind for e in journal.events()[before:]]
    assert kinds == ["test.written", "test.written"]
    assert journal.verify().first_bad is None


# -- a user who may not open the journal -----------------------------------------------------


@pytest.fixture
def private_journal() -> Iterator[tuple[Path, Path]]:
    """A configuration others may read, whose journal (made by root) is root's alone.

    Made under the system's temp folder, not pytest's: pytest's base folder is 0700, so
    the other user could not even read the configuration there.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a journal that another real user may not open")
    base = Path(tempfile.mkdtemp(prefix="labd-access-"))
    try:
        base.chmod(0o755)
        config = base / "labd.toml"
        config.write_text(textwrap.dedent(GOOD))
        config.chmod(0o644)
        journal_path = base / "state" / "journal.sqlite"
        journal = Journal.open(journal_path)
        add_event(journal, base)
        journal.close()
        assert journal_path.parent.stat().st_uid == 0
        yield config, journal_path
    finally:
        shutil.rmtree(base)


def nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody on this system")


def check_refused(code: int, stderr: str, journal_path: Path, before: bytes) -> None:
    assert code == AccessDenied.exit_code == 13
    assert "permission denied" in stderr
    assert str(journal_path) in stderr
    assert "sudo -u labd" in stderr  # says what to do
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    # Nothing lost or changed: root still reads the whole journal.
    assert journal_path.read_bytes() == before
    with Journal.open(journal_path, create=False) as journal:
        assert events(journal) == 1
        assert journal.verify().first_bad is None


def run_as(user: pwd.struct_passwd, argv: list[str]) -> tuple[int, str]:
    """labd's main(argv) in a forked child that has become ``user``: (exit code, stderr).

    Where the venv's interpreter lies under a folder that other users may not enter (such
    as /root), this still runs labd as a real other user: no exec, the same code in memory.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it never returns into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            err = io.StringIO()
            sys.stderr = err
            code = -1
            try:
                code = main(argv, out=io.StringIO())
            except BaseException:  # noqa: BLE001  # reported to the parent as a traceback
                err.write(traceback.format_exc())
            with os.fdopen(write_end, "w") as f:
                json.dump([code, err.getvalue(), os.geteuid()], f)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        reply = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    code, stderr, euid = json.loads(reply)
    assert euid == user.pw_uid
    return code, stderr


@pytest.mark.parametrize(("folder_mode", "file_mode"), [(0o700, 0o600), (0o755, 0o600)])
def test_another_user_gets_exit_13_in_a_forked_labd(
    private_journal, folder_mode, file_mode
) -> None:
    config, journal_path = private_journal
    journal_path.parent.chmod(folder_mode)
    journal_path.chmod(file_mode)
    before = journal_path.read_bytes()
    code, stderr = run_as(nobody(), ["--config", str(config), "jobs"])
    check_refused(code, stderr, journal_path, before)
