"""The hash chain against a tamperer with write access to the SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from labd.clock import ManualClock
from labd.journal import Journal
from labd.model import JobKind, JobState
from tests.factories import job_in_state

COLUMNS = ("ts", "job_id", "kind", "data", "prev_hash", "hash")


def small_journal(path: Path) -> str:
    """A journal of a few events; returns its head hash."""
    journal = Journal.open(path, ManualClock())
    job_in_state(
        journal, JobState.CLAIMED, path.parent / "spool", hotfolder="h", kind=JobKind.FILE,
        entry="a.jpg", files=[("a.jpg", 10)],
    )  # fmt: skip
    journal.record("daemon.started", {"version": "t"})
    head = journal.verify().head
    journal.close()
    return head


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edit the file as a tamperer would: drop the append-only triggers, then write."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_update")
    conn.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
    for sql, args in statements:
        conn.execute(sql, args)
    conn.close()


def verify(path: Path, head: str | None = None):
    journal = Journal.open(path, ManualClock(), create=False)
    try:
        return journal.verify(head)
    finally:
        journal.close()


def rows(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT seq, {', '.join(COLUMNS)} FROM events ORDER BY seq").fetchall()  # noqa: S608  # constants
    finally:
        conn.close()


def test_every_flipped_byte_is_caught(tmp_path: Path) -> None:
    original = tmp_path / "original.sqlite"
    small_journal(original)
    tried = 0
    for seq, *values in rows(original):
        for column, value in zip(COLUMNS, values, strict=True):
            if value is None:
                continue
            raw = str(value).encode()
            for i in range(len(raw)):
                flipped = bytearray(raw)
                flipped[i] ^= 0x01
                new: object = flipped.decode("latin-1")
                if column == "job_id":
                    new = int(value) ^ (1 << (8 * i))  # type: ignore[call-overload]
                copy = tmp_path / "copy.sqlite"
                copy.write_bytes(original.read_bytes())
                tamper(copy, (f"UPDATE events SET {column} = ? WHERE seq = ?", (new, seq)))  # noqa: S608  # constants
                check = verify(copy)
                assert check.first_bad == seq, (column, seq, i)
                tried += 1
    assert tried > 500


def test_flipped_seq_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    small_journal(path)
    tamper(path, ("UPDATE events SET seq = 9 WHERE seq = 2", ()))
    check = verify(path)
    assert (check.first_bad, check.events) == (3, 1)
    assert "expected event 2" in str(check.problem)


def test_deleted_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    small_journal(path)
    tamper(path, ("DELETE FROM events WHERE seq = 2", ()))
    check = verify(path)
    assert check.first_bad == 3
    assert check.problem == "expected event 2, found 3"


def test_deleted_first_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    small_journal(path)
    tamper(path, ("DELETE FROM events WHERE seq = 1", ()))
    assert verify(path).first_bad == 2


def test_reordered_rows_are_named(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    small_journal(path)
    tamper(
        path,
        ("UPDATE events SET seq = 100 WHERE seq = 2", ()),
        ("UPDATE events SET seq = 2 WHERE seq = 3", ()),
        ("UPDATE events SET seq = 3 WHERE seq = 100", ()),
    )
    check = verify(path)
    assert check.first_bad == 2
    assert check.problem == "does not link to the event before"


def test_truncated_tail_fails_against_the_noted_head(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    head = small_journal(path)
    count = len(rows(path))
    assert verify(path, head).head_found is True
    assert verify(path, f"{count}:{head}").head_found is True
    tamper(path, ("DELETE FROM events WHERE seq = ?", (count,)))
    check = verify(path)
    assert check.first_bad is None  # the rest still fits: only the head can tell
    check = verify(path, head)
    assert check.head_found is False
    assert "not in the chain" in str(check.problem)
    check = verify(path, f"{count}:{head}")
    assert (check.head_found, check.first_bad) == (False, count)
    assert f"event {count} and after are missing" in str(check.problem)


def test_an_older_head_is_still_in_a_longer_chain(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    head = small_journal(path)
    journal = Journal.open(path, ManualClock())
    journal.record("daemon.stopped", {})
    journal.close()
    check = verify(path, head)
    assert (check.head_found, check.first_bad, check.head_seq) == (True, None, 3)


@pytest.mark.parametrize("value", [b"\x00\x01", 3.5])
def test_a_wrongly_typed_column_is_caught(tmp_path: Path, value: object) -> None:
    path = tmp_path / "j.sqlite"
    small_journal(path)
    tamper(path, ("UPDATE events SET data = ? WHERE seq = 2", (value,)))
    assert verify(path).first_bad == 2
