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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final, SupportsIndex

import structlog

from labd.clock import Clock, SystemClock, isoformat
from labd.errors import (
    AccessDenied,
    JournalError,
    JournalSchemaError,
    JournalUnavailable,
    JournalUnusable,
)

log = structlog.get_logger(__name__)

# How long a write waits for another process's lock before it is JournalUnavailable.
BUSY_TIMEOUT_MS: Final = 10_000


@dataclass(frozen=True)
class Schema:
    """The tables of one component (media, waste ...) and how they evolve.

    Each migration is a tuple of statements applied in one transaction; the component's
    version is the number applied.  Never edit a released one: append a new one.
    """

    name: str
    migrations: tuple[tuple[str, ...], ...]


class Row(tuple[object, ...]):
    """One row: a tuple of its values, whose columns are also reachable by name.

    ``row["id"]`` or ``row.integer("id")``: the typed getters say what a column must hold and
    raise JournalError (a bug, not a customer's fault) when it does not.
    """

    _names: Mapping[str, int]

    def __new__(cls, values: Iterable[object], names: Mapping[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: SupportsIndex | str | slice) -> object:  # type: ignore[override]  # names too
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        if isinstance(key, slice):
            return tuple(self)[key]
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._names)

    def integer(self, key: str) -> int:
        """The column as an integer."""
        value = self[key]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise JournalError("row", f"column {key} holds {value!r}, not an integer")

    def opt_integer(self, key: str) -> int | None:
        """The column as an integer, or None."""
        return None if self[key] is None else self.integer(key)

    def text(self, key: str) -> str:
        """The column as text."""
        value = self[key]
        if isinstance(value, str):
            return value
        raise JournalError("row", f"column {key} holds {value!r}, not text")

    def opt_text(self, key: str) -> str | None:
        """The column as text, or None."""
        return None if self[key] is None else self.text(key)

    def blob(self, key: str) -> bytes:
        """The column as bytes."""
        value = self[key]
        if isinstance(value, bytes):
            return value
        raise JournalError("row", f"column {key} holds {value!r}, not bytes")


def _rows(cursor: sqlite3.Cursor) -> list[Row]:
    names = {d[0]: i for i, d in enumerate(cursor.description or ())}
    return [Row(r, names) for r in cursor.fetchall()]


class Tx:
    """One write transaction: everything done through it commits together or not at all."""

    def __init__(self, store: Store, cur: sqlite3.Cursor) -> None:
        self._store = store
        self._cur = cur

    def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return self._cur.execute(sql, args).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run one statement for each of ``rows``; return how many rows changed in all."""
        return self._cur.executemany(sql, rows).rowcount

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows inside the transaction (it sees its own writes)."""
        return _rows(self._cur.execute(sql, args))

    def one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        """The first row, or None."""
        found = self.rows(sql, args)
        return found[0] if found else None

    def insert(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run an INSERT that ends in ``RETURNING id``; return the new row's id."""
        row = self.one(sql, args)
        if row is None or not isinstance(row[0], int):
            raise JournalError(str(self._store.path), f"the insert returned no id: {sql}")
        return row[0]

    def event(
        self,
        kind: str,
        data: Mapping[str, object],
        *,
        job_id: int | None = None,
        detail: str | None = None,
    ) -> int:
        """Append a chained event; ``detail`` is personal text kept outside the chain."""
        from labd.store.chain import append  # noqa: PLC0415  # chain builds on Tx

        return append(self, kind, data, job_id=job_id, detail=detail)

    def now(self) -> str:
        """The store's timestamp for this moment."""
        return self._store.now()


class Store:
    """labd's SQLite file.  Thread-safe: one connection, one lock."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._open: sqlite3.Cursor | None = None  # the cursor of a running batch()
        self.path = path
        self.clock = clock

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
    ) -> Store:
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
                store._migrate(core)
                for schema in schemas:
                    store.ensure_schema(schema)
            else:
                store._check_versions(core, schemas)
        except BaseException:
            store.close()
            raise
        return store

    def _migrate(self, core: Sequence[tuple[str, ...]]) -> None:
        target = len(core)
        if self.schema_version() == target:
            return  # current: no write lock taken (a command must open a busy journal)
        with self._tx() as cur:
            version = cur.execute("PRAGMA user_version").fetchone()[0]
            if version > target:
                raise JournalSchemaError(str(self.path), version, target)
            for number in range(version, target):
                for statement in core[number]:
                    cur.execute(statement)
                log.info("journal.migrated", to_version=number + 1)
            if version < target:
                # PRAGMA takes no parameters; the value is our own integer.
                cur.execute(f"PRAGMA user_version = {target}")

    def ensure_schema(self, schema: Schema) -> None:
        """Create or migrate a component's tables; cheap when they are current."""
        if self._component_version(schema.name) == len(schema.migrations):
            return  # current: no write lock taken
        with self._tx() as cur:
            row = cur.execute(
                "SELECT version FROM component_schema WHERE name = ?", (schema.name,)
            ).fetchone()
            version = row[0] if row else 0
            target = len(schema.migrations)
            if version > target:
                raise JournalSchemaError(f"{self.path} ({schema.name})", version, target)
            for number in range(version, target):
                for statement in schema.migrations[number]:
                    cur.execute(statement)
                log.info("journal.migrated", component=schema.name, to_version=number + 1)
            if version < target:
                cur.execute(
                    "INSERT INTO component_schema (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (schema.name, target),
                )

    def _check_versions(self, core: Sequence[tuple[str, ...]], schemas: Sequence[Schema]) -> None:
        """For a store opened without migrating: the journal's schema must be the code's."""
        wanted = [("", self.schema_version(), len(core))]
        wanted += [
            (s.name, self._component_version(s.name) or 0, len(s.migrations)) for s in schemas
        ]
        for name, found, target in wanted:
            where = f"{self.path} ({name})" if name else str(self.path)
            if found > target:
                raise JournalSchemaError(where, found, target)
            if found < target:
                raise JournalError(
                    where,
                    f"has schema version {found}, older than this labd's ({target}): start "
                    "the labd service once (it migrates the journal), then run this again",
                )

    def _component_version(self, name: str) -> int | None:
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

    # -- transactions and reads ------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: ``with store.transaction() as tx: ...``."""
        with self._tx() as cur:
            yield Tx(self, cur)

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows."""
        with self._reading():
            return _rows(self._conn.execute(sql, args))

    @contextmanager
    def scan(self, sql: str, args: Sequence[object] = ()) -> Iterator[Iterator[Row]]:
        """Rows one by one, for a long read (the whole event chain): ``with ... as rows:``."""
        with self._reading():
            cursor = self._conn.execute(sql, args)
            names = {d[0]: i for i, d in enumerate(cursor.description or ())}
            yield (Row(r, names) for r in cursor)

    def read_one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        """The first row read, or None."""
        found = self.read(sql, args)
        return found[0] if found else None

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
            try:
                yield cur
            except BaseException as e:
                self._rollback(cur)
                if isinstance(e, sqlite3.Error):
                    raise storage_error(self.path, e, "cannot write") from e
                raise
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

    def now(self) -> str:
        """The store's timestamp for this moment (the injected clock's)."""
        return isoformat(self.clock.now())

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
