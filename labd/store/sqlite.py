"""The SQLite backend: one file, WAL, ``synchronous=FULL``; the only user of ``sqlite3``.

A :class:`Store` is one connection shared by labd's threads behind one lock.  Everything
else in labd speaks to it in transactions (:meth:`Store.transaction`, a :class:`Tx`) and
reads (:meth:`Store.read`), gets rows back as :class:`Row` (a tuple whose columns are also
reachable by name, with typed getters) and sees only labd's own errors: every driver error
becomes :class:`~labd.errors.JournalUnavailable` (transient), ``JournalUnusable`` (fatal)
or a plain ``JournalError`` (a bug, that one job's failure).

Schemas: the core migrations (``PRAGMA user_version``) and one :class:`Schema` per
component (media, waste ...), each a list of migrations applied in order.  They are given
once, when the store opens; a store opened read-only never migrates, and refuses a
journal whose schema is older or newer than this code.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

import structlog

from labd.clock import Clock, SystemClock
from labd.errors import (
    AccessDenied,
    JournalError,
    JournalUnavailable,
    JournalUnusable,
)
from labd.store.base import Cursor, Row, Schema, Store, Tx, rows_of

__all__ = ["BUSY_TIMEOUT_MS", "SQLiteStore", "storage_error"]

log = structlog.get_logger(__name__)

# How long a write waits for another process's lock before it is JournalUnavailable.
BUSY_TIMEOUT_MS: Final = 10_000


class SQLiteStore(Store):
    """labd's SQLite file.  Thread-safe: one connection, one lock."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        super().__init__(str(path), clock)
        self._conn = conn
        self._lock = threading.RLock()
        self._open: sqlite3.Cursor | None = None  # the cursor of a running batch()
        self.path = path

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        clock: Clock | None = None,
        *,
        core: Sequence[tuple[str, ...]] = (),
        schemas: Sequence[Schema] = (),
        create: bool = True,
        migrate: bool = True,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> SQLiteStore:
        """Open (and create, and migrate to ``core`` and ``schemas``) the store at ``path``.

        ``migrate=False``: a command that only reads; a journal whose schema is not the
        code's is refused (JournalSchemaError, or JournalError for an older one).
        """
        if create:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_access(path, create=create)
        try:
            conn = sqlite3.connect(
                path,
                isolation_level=None,
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Deleted personal data is overwritten with zeros in the file, not just unlinked
            # from the b-tree (erasure; see README "What deleting means").
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as e:
            raise storage_error(path, e, "cannot open") from e
        if mode != "wal":
            conn.close()
            # SQLite cannot use WAL on network filesystems; the journal must be on local disk.
            raise JournalError(str(path), f"cannot use WAL mode (got {mode}); is it on local disk?")
        if create:
            for suffix in ("", "-wal", "-shm"):
                f = Path(f"{path}{suffix}")
                if f.exists():
                    f.chmod(0o600)
        store = cls(conn, path, clock or SystemClock())
        try:
            if migrate:
                store.migrate(core)
                for schema in schemas:
                    store.ensure_schema(schema)
            else:
                store.check_versions(core, schemas)
        except BaseException:
            store.close()
            raise
        return store

    def _core_version_in(self, tx: Tx) -> int:
        row = tx.one("PRAGMA user_version")
        return 0 if row is None else int(str(row[0]))

    def _set_core_version(self, tx: Tx, version: int) -> None:
        # PRAGMA takes no parameters; the value is labd's own integer.
        tx.execute(f"PRAGMA user_version = {int(version)}")

    def component_version(self, name: str) -> int | None:
        with self._reading():
            try:
                row = self._conn.execute(
                    "SELECT version FROM component_schema WHERE name = ?", (name,)
                ).fetchone()
            except sqlite3.OperationalError:
                return None  # no such table yet: a journal being created
        return None if row is None else int(row[0])

    def schema_version(self) -> int:
        """The core schema version of the open journal."""
        with self._reading():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def setting(self, pragma: str) -> object:
        """The value of a PRAGMA on labd's own connection (``synchronous`` ...)."""
        if not pragma.isidentifier():
            raise JournalError(str(self.path), f"no such setting: {pragma!r}")
        with self._reading():
            return self._conn.execute(f"PRAGMA {pragma}").fetchone()[0]

    def durable(self) -> bool:
        """``synchronous=FULL`` on labd's connection."""
        return self.setting("synchronous") == 2  # FULL

    # -- transactions and reads ------------------------------------------------------------

    @contextmanager
    def transaction(self, *, known_head: bool = False) -> Iterator[Tx]:
        """A write transaction: ``with store.transaction() as tx: ...`` (the chain's head
        is read in the file, at no cost worth guessing: ``known_head`` changes nothing)."""
        with self._tx() as cur:
            yield Tx(self, cur)

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows."""
        with self._reading():
            return rows_of(self._conn.execute(sql, args))

    def run(self, cur: object, sql: str, args: Sequence[object]) -> Cursor:
        """Run one statement on a transaction's cursor."""
        assert isinstance(cur, sqlite3.Cursor)  # noqa: S101  # ours, from _tx
        return cur.execute(sql, args)

    def run_many(self, cur: object, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run one statement per row on a transaction's cursor."""
        assert isinstance(cur, sqlite3.Cursor)  # noqa: S101  # ours, from _tx
        return cur.executemany(sql, rows).rowcount

    def size_bytes(self) -> int:
        """The file and its WAL."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(OSError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    @contextmanager
    def scan(self, sql: str, args: Sequence[object] = ()) -> Iterator[Iterator[Row]]:
        """Rows one by one, for a long read (the whole event chain): ``with ... as rows:``."""
        with self._reading():
            cursor = self._conn.execute(sql, args)
            names = {d[0]: i for i, d in enumerate(cursor.description or ())}
            yield (Row(r, names) for r in cursor)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction (a savepoint inside a batch); driver errors become labd's."""
        with self._lock:
            if self._open is not None:
                # Inside a batch: a savepoint, so a step that fails leaves nothing behind
                # while the batch commits the rest.
                cur = self._open
                self._run(cur, "SAVEPOINT step", "cannot start a step")
                try:
                    yield cur
                except BaseException as e:
                    self.head = None  # the step's events are gone
                    with suppress(sqlite3.Error):  # the whole transaction may be gone
                        cur.execute("ROLLBACK TO step")
                        cur.execute("RELEASE step")
                    if isinstance(e, sqlite3.Error):
                        raise storage_error(self.path, e, "cannot write") from e
                    raise
                self._run(cur, "RELEASE step", "cannot finish a step")
                return
            cur = self._conn.cursor()
            self._run(cur, "BEGIN IMMEDIATE", "cannot start a transaction")
            self.head = None  # another process may have written since
            try:
                yield cur
            except BaseException as e:
                self.head = None
                self._rollback(cur)
                if isinstance(e, sqlite3.Error):
                    raise storage_error(self.path, e, "cannot write") from e
                raise
            self.head = None
            try:
                cur.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback(cur)
                raise storage_error(self.path, e, "cannot commit") from e

    def _run(self, cur: sqlite3.Cursor, statement: str, doing: str) -> None:
        try:
            cur.execute(statement)
        except sqlite3.Error as e:
            raise storage_error(self.path, e, doing) from e

    def _rollback(self, cur: sqlite3.Cursor) -> None:
        # SQLite rolls a transaction back by itself after some errors (disk full, I/O).
        if self._conn.in_transaction:
            with suppress(sqlite3.Error):
                cur.execute("ROLLBACK")

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """The connection's lock, with driver errors turned into labd's."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as e:
                raise storage_error(self.path, e, "cannot read") from e

    @contextmanager
    def relaxed(self) -> Iterator[None]:
        """Commits in this block skip their fsync (``synchronous=NORMAL``).

        Only for records that reconciliation can rebuild if a power cut loses them (a CUPS
        job id, which CUPS' history gives back by the job's name; CUPS states): the WAL is
        written in order, so the next FULL commit, such as the next submit intent, makes
        them durable too.  An application crash loses nothing either way.
        """
        with self._reading():
            self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                yield
            finally:
                self._conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit every write made in this block (by this thread) at once, at its end.

        For records that no side effect waits on, such as the CUPS states one follow pass
        reads: one fsync instead of one per record.  Never around a write that must be
        on disk before an action outside the journal (the submit intent).
        """
        with self._lock, self._tx() as cur:
            self._open = cur
            try:
                yield
            finally:
                self._open = None

    def scrub(self) -> bool:
        """Move everything into the main file and empty the WAL, after an erasure.

        The WAL holds old page images, with the erased data, until a checkpoint copies the
        pages back.  Returns False when a reader kept the checkpoint from finishing.
        """
        with self._reading():
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(busy) == 0

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


# SQLite's primary result codes (the low byte of ``sqlite_errorcode``).  Transient: the
# journal is busy or locked by another process, out of memory, read-only, its disk failed
# an I/O, is full, or the file cannot be opened now.  Fatal: the file is damaged.
_TRANSIENT_CODES: Final = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
_FATAL_CODES: Final = frozenset({11, 26})


def storage_error(path: Path, error: sqlite3.Error, doing: str) -> JournalError:
    """labd's error for a driver error: transient, fatal, or (a bug) plain JournalError."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = f"{doing}: {error}"
    if primary in _TRANSIENT_CODES:
        return JournalUnavailable(str(path), message)
    if primary in _FATAL_CODES:
        return JournalUnusable(
            str(path), f"{message}; restore it from a backup (see README, Troubleshooting)"
        )
    return JournalError(str(path), message)


_ACCESS_HINT: Final = (
    "The journal belongs to the labd service: run the command as root or as the service's "
    "user (sudo -u labd labd ...)."
)


def _check_access(path: Path, *, create: bool) -> None:
    """Say plainly when the journal is missing or this user may not open it."""
    try:
        path.stat()
    except PermissionError as e:
        raise AccessDenied(str(path), _ACCESS_HINT) from e
    except FileNotFoundError:
        if create:
            return
        raise JournalError(
            str(path), "does not exist; has labd run with this configuration?"
        ) from None
    # WAL needs write access to the file and its folder (the -shm and -wal files).
    if not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        raise AccessDenied(str(path), _ACCESS_HINT)
