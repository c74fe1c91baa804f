"""The PostgreSQL backend: one journal shared by several print servers; the only user of
``psycopg``.

Same tables, same migrations, same SQL as the SQLite file (:mod:`labd.store.base` says
which SQL that is); what PostgreSQL spells otherwise is translated here, once per
statement text: ``?`` placeholders, SQLite's column types (``INTEGER`` is 64-bit here too:
``BIGINT``), ``AUTOINCREMENT`` ids (identity columns) and the triggers that keep the event
log append-only (a PL/pgSQL function; the database's privileges can refuse it as well).

Concurrency is SQLite's: every write transaction takes one transaction-level advisory
lock first, so writers on every node take turns exactly as SQLite's ``BEGIN IMMEDIATE``
makes them, a domain may read, decide and write in one transaction, and the event chain
has one head (an append reads the last event and writes the next under that lock).
Readers never wait.  Commits are synchronous (the server's ``synchronous_commit``) except
in :meth:`PostgresStore.relaxed`.

The printing steps build their transactions on what the submit loop read already: checks
(:meth:`Tx.expect`, and the chain's head as this process last left it) go with the writes
in place of reads, so an intent or a result is one round trip.  A check that fails rolls
the transaction back before anything is written (``StaleGuess``), and the step is done
again reading first; after one, the next few transactions read the head rather than guess
(several nodes writing at once make stale heads common).

A lost connection (the server restarted, the network gone) is
:class:`~labd.errors.JournalUnavailable`, like a busy SQLite file: the daemon holds intake
and printing on this node and tries again; the next use reconnects.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Final

import psycopg
import psycopg.abc
import psycopg.adapt
import structlog

from labd.clock import Clock, SystemClock
from labd.errors import (
    AccessDenied,
    JournalError,
    JournalUnavailable,
    JournalUnusable,
    StaleGuess,
)
from labd.store.base import NO_HEAD, Cursor, Dialect, Row, Schema, Store, Tx, rows_of
from labd.store.location import PostgresLocation

__all__ = ["PostgresStore", "pg_ddl", "pg_sql"]

log = structlog.get_logger(__name__)

# The advisory lock every write transaction takes: one per database ("labd" in ASCII).
WRITE_LOCK: Final = 0x6C616264


class PostgresDialect(Dialect):
    """PostgreSQL's spellings: a field of an event's JSON text compared as text; joins."""

    ordered_join = "JOIN"

    def json_text(self, column: str, key: str) -> str:
        """``column::jsonb ->> 'key'``: the field as text."""
        if not key.isidentifier():
            raise ValueError(f"not a field of an event's data: {key!r}")
        return f"({column}::jsonb ->> '{key}')"

    def json_arg(self, value: object) -> object:
        """The text ``->>`` gives for ``value``."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return None if value is None else str(value)


class PostgresStore(Store):
    """labd's journal in a PostgreSQL database.  Thread-safe: one connection, one lock."""

    dialect: Dialect = PostgresDialect()
    shared = True

    def __init__(self, location: PostgresLocation, clock: Clock, lock_timeout_ms: int) -> None:
        super().__init__(location.display, clock)
        self.location = location
        self._lock = threading.RLock()
        self._lock_timeout_ms = lock_timeout_ms
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._open: psycopg.Cursor[tuple[object, ...]] | None = None  # a running batch()
        self._relaxed = threading.local()  # .on: this thread is in relaxed()
        # The running write transaction's writes not sent yet (Tx.write), bound as text.
        self._pending: list[str] = []
        self._flushes = 0  # how many times they were sent (a step's savepoint, sent or not)
        self._binder: psycopg.ClientCursor[tuple[object, ...]] | None = None
        self._chained = False  # the events table is there: BEGIN reads the chain's head
        # The chain's head as this process's last transaction left it, for the next
        # transaction that may take it as known (transaction(known_head=True)); None: not
        # known, or it turned out stale.
        self._last_head: tuple[int, str] | None = None
        self._guarded = False  # the running transaction holds checks (expect, the head)
        self._guesses_paused = 0  # transactions that read first, after a stale guess

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        location: PostgresLocation,
        clock: Clock | None = None,
        *,
        core: Sequence[tuple[str, ...]] = (),
        schemas: Sequence[Schema] = (),
        migrate: bool = True,
        busy_timeout_ms: int = 10_000,
    ) -> PostgresStore:
        """Connect (and migrate to ``core`` and ``schemas``); see SQLiteStore.open."""
        store = cls(location, clock or SystemClock(), busy_timeout_ms)
        try:
            store._connection()
            if migrate:
                store.migrate(core)
                for schema in schemas:
                    store.ensure_schema(schema)
            else:
                store.check_versions(core, schemas)
            store._chained = store._has_table("events")
        except BaseException:
            store.close()
            raise
        return store

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        """The open connection; a new one after a lost one."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._conn = None
        try:
            conn = psycopg.connect(
                self.location.url,
                autocommit=True,
                password=self.location.password(),
                connect_timeout=10,
                application_name="labd",
            )
            conn.execute(f"SET lock_timeout = {int(self._lock_timeout_ms)}")
            conn.adapters.register_loader("numeric", _NumericLoader)
        except psycopg.Error as e:
            raise pg_error(self.name, e, "cannot connect") from e
        self._conn = conn
        return conn

    def server_version(self) -> str:
        """The server's version, as ``SHOW server_version`` says it."""
        row = self.read_one("SHOW server_version")
        return str(row[0]) if row else "?"

    def _core_version_in(self, tx: Tx) -> int:
        tx.execute("CREATE TABLE IF NOT EXISTS labd_schema (version BIGINT NOT NULL)")
        row = tx.one("SELECT version FROM labd_schema")
        if row is None:
            tx.execute("INSERT INTO labd_schema (version) VALUES (0)")
        return 0 if row is None else row.integer("version")

    def _set_core_version(self, tx: Tx, version: int) -> None:
        tx.execute("UPDATE labd_schema SET version = ?", (version,))

    def ddl(self, statement: str) -> list[str]:
        """SQLite's DDL in PostgreSQL's spelling (see :func:`pg_ddl`)."""
        return pg_ddl(statement)

    def _has_table(self, name: str) -> bool:
        row = self.read_one("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(row and row[0])

    def schema_version(self) -> int:
        """The core schema version of the journal (0: an empty database)."""
        if not self._has_table("labd_schema"):
            return 0
        row = self.read_one("SELECT version FROM labd_schema")
        return 0 if row is None else row.integer("version")

    def component_version(self, name: str) -> int | None:
        """A component's schema version, or None before its tables exist."""
        if not self._has_table("component_schema"):
            return None
        row = self.read_one("SELECT version FROM component_schema WHERE name = ?", (name,))
        return None if row is None else row.integer("version")

    # -- transactions and reads ------------------------------------------------------------

    @contextmanager
    def transaction(self, *, known_head: bool = False) -> Iterator[Tx]:
        """A write transaction: ``with store.transaction() as tx: ...`` (see
        Store.transaction for ``known_head``)."""
        with self._tx(known_head=known_head) as cur:
            yield Tx(self, cur)

    @contextmanager
    def _tx(self, *, known_head: bool = False) -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
        """A write transaction (a savepoint inside a batch), under the write lock."""
        with self._lock:
            conn = self._connection()
            if self._open is not None:
                yield from self._step(conn)
                return
            cur = conn.cursor()
            try:
                self._begin(known_head=known_head)
                yield cur
                self._flush(cur, "COMMIT")  # the writes not sent yet go with it
                if self.head is not None:
                    self._last_head = self.head
                self.head = None
                self._guarded = False
            except BaseException as e:
                guarded, self._guarded = self._guarded, False
                self.head = self._last_head = None
                self._pending.clear()
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    with suppress(psycopg.Error):  # a lost connection has no transaction
                        conn.execute("ROLLBACK")
                if guarded and isinstance(e, psycopg.errors.DivisionByZero):
                    # A check failed (see _check): nothing was written.
                    self._guesses_paused = _PAUSE_AFTER_STALE
                    raise StaleGuess(self.name) from e
                if isinstance(e, psycopg.Error):
                    raise pg_error(self.name, e, "cannot write") from e
                raise

    def _step(
        self, conn: psycopg.Connection[tuple[object, ...]]
    ) -> Iterator[psycopg.Cursor[tuple[object, ...]]]:
        """A step of a batch: a savepoint, sent with the step's first statement that waits
        for the server, and released with the next (no round trip of its own).

        A step that raises leaves nothing behind.  A write it only sent (Tx.write) that
        the server refuses later fails the whole batch instead.
        """
        mark = len(self._pending)
        self._pending.append("SAVEPOINT labd_step")
        flushes = self._flushes
        try:
            yield conn.cursor()
        except BaseException as e:
            self.head = None  # the step's events are gone
            if self._flushes == flushes:  # nothing of the step reached the server
                del self._pending[mark:]
            else:
                self._pending.clear()
                with suppress(psycopg.Error):  # the whole transaction may be gone
                    conn.execute("ROLLBACK TO SAVEPOINT labd_step; RELEASE SAVEPOINT labd_step")
            if isinstance(e, psycopg.Error):
                raise pg_error(self.name, e, "cannot write") from e
            raise
        self._pending.append("RELEASE SAVEPOINT labd_step")

    def _begin(self, *, known_head: bool = False) -> None:
        """Start a write transaction with its first statement that waits for the server
        (or its commit): BEGIN, its durability (in :meth:`relaxed`), the write lock and,
        once the journal's tables exist, the event chain's head (:meth:`_flush` keeps it
        for :meth:`Tx.chain_head`).

        ``known_head``: the head as the last transaction left it, checked instead of read
        (another writer, on this node or another, may have appended since), unless a guess
        turned out stale lately: then reading first costs less than guessing wrong.
        """
        self.head = None
        relaxed = "SET LOCAL synchronous_commit = off; " if self._is_relaxed() else ""
        self._pending.append(f"BEGIN; {relaxed}SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        if not self._chained:
            return
        guess = self._last_head if known_head and not self._guesses_paused else None
        if known_head and self._guesses_paused:
            self._guesses_paused -= 1
        if guess is None or guess is NO_HEAD:
            self._pending.append(_HEAD)
            return
        self._check(f"SELECT 1 FROM ({_LAST_SEQ}) AS h WHERE h.seq = {int(guess[0])}")  # noqa: S608
        self.head = guess

    def expect(self, cur: object, sql: str, args: Sequence[object]) -> None:
        """:meth:`Tx.expect`: sent with the writes (in a batch's step: read now, as the
        step's failure must stay the step's)."""
        if self._open is not None:
            super().expect(cur, sql, args)
            return
        self._check(self._bound(sql, args))

    def _check(self, query: str) -> None:
        """Send ``query`` to fail the transaction unless it finds a row: ``1 / count(*)``
        divides by zero then, and the transaction's other statements are not run (the
        only division labd sends, so _tx knows the error for a failed check)."""
        # ``query``: labd's SQL, its values bound by psycopg (_bound) or an int.
        self._pending.append(f"SELECT 1 / count(*) AS labd_expected FROM ({query}) AS labd_check")  # noqa: S608
        self._guarded = True

    def _is_relaxed(self) -> bool:
        return bool(getattr(self._relaxed, "on", False))

    def run(self, cur: object, sql: str, args: Sequence[object]) -> Cursor:
        """Run one statement on a transaction's cursor, in PostgreSQL's spelling (with
        the writes waiting to be sent, in one round trip)."""
        assert isinstance(cur, psycopg.Cursor)  # noqa: S101  # ours, from _tx
        if self._pending:
            self._flush(cur, self._bound(sql, args))
            return cur
        return cur.execute(pg_sql(sql), tuple(args))

    def send(self, cur: object, sql: str, args: Sequence[object]) -> None:
        """Keep a write whose result is not read, to go with the transaction's next
        statement or its commit: one round trip for all (see :meth:`Tx.write`)."""
        self._pending.append(self._bound(sql, args))

    def _bound(self, sql: str, args: Sequence[object]) -> str:
        """``sql`` with ``args`` in it, bound by psycopg on the client (its escaping), so
        that several statements can go in one query."""
        if self._binder is None or self._binder.connection is not self._conn:
            self._binder = psycopg.ClientCursor(self._connection())
        return self._binder.mogrify(pg_sql(sql), tuple(args))

    def _flush(
        self, cur: psycopg.Cursor[tuple[object, ...]], *tail: str, keep: int = 0
    ) -> list[list[Row]]:
        """Send the waiting writes and ``tail`` as one query; the cursor is left on the
        last statement's result.  ``keep``: return the rows of the last ``keep`` reads."""
        parts = [*self._pending, *tail]
        self._pending.clear()
        if not parts:
            return []
        self._flushes += 1
        # Without parameters, one query may hold several statements (the simple protocol);
        # the first that fails ends it, and the transaction is rolled back.
        cur.execute("; ".join(parts))
        found: list[list[Row]] = []
        while True:
            if not self._took_head(cur) and keep and cur.description is not None:
                found.append(rows_of(cur))
            if not cur.nextset():
                break
        return found[len(found) - keep :]

    def _took_head(self, cur: psycopg.Cursor[tuple[object, ...]]) -> bool:
        """Keep the chain's head if the cursor's result is the one read at BEGIN."""
        if not cur.description or cur.description[0].name != "labd_head_seq":
            return False
        row = cur.fetchone()
        self.head = NO_HEAD if row is None else (int(str(row[0])), str(row[1]))
        return True

    def run_many(self, cur: object, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run one statement per row on a transaction's cursor."""
        assert isinstance(cur, psycopg.Cursor)  # noqa: S101  # ours, from _tx
        self._flush(cur)
        cur.executemany(pg_sql(sql), [tuple(r) for r in rows])
        return max(cur.rowcount, 0)

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows (each statement sees what was committed when it began)."""
        with self._reading() as conn:
            cur = conn.cursor()
            if self._pending:  # inside a write transaction: with its writes, one round trip
                self._flush(cur, self._bound(sql, args))
                return rows_of(cur)
            return rows_of(cur.execute(pg_sql(sql), tuple(args)))

    def read_each(self, queries: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        """Several reads in one query (bound on the client), each one's rows."""
        if len(queries) < 2:  # one read: prepared on the server, as read() does
            return [self.read(sql, args) for sql, args in queries]
        with self._reading() as conn:
            # Inside a write transaction, the writes waiting go first, in the same query.
            reads = [self._bound(sql, args) for sql, args in queries]
            return self._flush(conn.cursor(), *reads, keep=len(reads))

    @contextmanager
    def scan(self, sql: str, args: Sequence[object] = ()) -> Iterator[Iterator[Row]]:
        """Rows one by one, streamed from the server: ``with ... as rows:``."""
        with self._reading() as conn:
            self._flush(conn.cursor())
            cur = conn.cursor()

            def rows() -> Iterator[Row]:
                names: dict[str, int] | None = None
                for values in cur.stream(pg_sql(sql), tuple(args)):
                    if names is None:
                        names = {str(d[0]): i for i, d in enumerate(cur.description or ())}
                    yield Row(values, names)

            try:
                yield rows()
            finally:
                cur.close()

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except psycopg.Error as e:
                raise pg_error(self.name, e, "cannot read") from e

    @contextmanager
    def relaxed(self) -> Iterator[None]:
        """This thread's commits in this block do not wait for the server's WAL flush
        (``SET LOCAL synchronous_commit = off``, sent with each transaction's ``BEGIN``):
        see :meth:`SQLiteStore.relaxed` for what may be lost.  Other threads' commits
        stay durable meanwhile."""
        before = self._is_relaxed()
        self._relaxed.on = True
        try:
            yield
        finally:
            self._relaxed.on = before

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit every write made in this block (by this thread) at once, at its end."""
        with self._lock, self._tx() as cur:
            self._open = cur
            try:
                yield
            finally:
                self._open = None

    def durable(self) -> bool:
        """``synchronous_commit`` is on (or stricter) for labd's connection."""
        row = self.read_one("SHOW synchronous_commit")
        return row is not None and row[0] in {"on", "remote_write", "remote_apply"}

    def scrub(self) -> bool:
        """VACUUM the journal's tables this role owns, so erased rows' space is reclaimed
        for reuse (a role that only writes, as labd's should, owns none: autovacuum does
        it there, without the log of refusals a VACUUM of every table would leave).

        PostgreSQL has no secure delete: until the space is overwritten, and in the
        server's WAL and backups for as long as they are kept, erased values may remain;
        the README says so (What deleting means).
        """
        owned = self.read(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tableowner = current_user ORDER BY tablename"
        )
        with self._reading() as conn:
            for row in owned:
                conn.execute(f'VACUUM "{row.text("tablename")}"')
        return True

    def size_bytes(self) -> int:
        """The database's size on the server."""
        row = self.read_one("SELECT pg_database_size(current_database())")
        return 0 if row is None else int(str(row[0]))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _NumericLoader(psycopg.adapt.Loader):
    """``numeric`` as SQLite gives it: an int when whole (``sum()`` of integers is numeric
    in PostgreSQL), else a float; never a Decimal the domains and JSON do not expect."""

    def load(self, data: psycopg.abc.Buffer) -> int | float:
        text = bytes(data).decode("ascii")
        return float(text) if any(c in text for c in ".eEN") else int(text)


# -- SQL in PostgreSQL's spelling ---------------------------------------------------------


@lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """``sql`` with psycopg's placeholders: ``?`` outside quotes becomes ``%s``, every
    ``%`` is doubled (psycopg reads ``%`` everywhere)."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append("%%" if ch == "%" else ch)
    return "".join(out)


_TRIGGER: Final = re.compile(
    r"CREATE TRIGGER (\w+) BEFORE (UPDATE|DELETE) ON (\w+)\s+BEGIN\s+SELECT RAISE\(ABORT,"
    r"\s*'([^']*)'\);\s*END",
    re.IGNORECASE | re.DOTALL,
)
_REFUSE: Final = (
    "CREATE OR REPLACE FUNCTION labd_refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$"
)
_TYPES: Final = (
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.I),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
)


def pg_ddl(statement: str) -> list[str]:
    """One migration statement in PostgreSQL's DDL (a trigger becomes two statements)."""
    trigger = _TRIGGER.fullmatch(statement.strip())
    if trigger is not None:
        name, event, table, message = trigger.groups()
        return [
            _REFUSE,
            f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION labd_refuse('{message}')",
        ]
    if re.match(r"\s*CREATE TRIGGER", statement, re.I):
        raise JournalError("schema", f"no PostgreSQL spelling for: {statement[:80]}")
    for pattern, replacement in _TYPES:
        statement = pattern.sub(replacement, statement)
    return [statement]


# After a stale guess of the chain's head, this many transactions read it instead.
_PAUSE_AFTER_STALE: Final = 16
_LAST_SEQ: Final = "SELECT seq FROM events ORDER BY seq DESC LIMIT 1"
# The event chain's head, read as a transaction begins (its column names mark its result).
_HEAD: Final = (
    "SELECT seq AS labd_head_seq, hash AS labd_head_hash FROM events ORDER BY seq DESC LIMIT 1"
)

# SQLSTATE classes (the first two characters): transient ones are worth trying again.
_TRANSIENT_CLASSES: Final = frozenset(
    {
        "08",  # connection exception
        "40",  # transaction rollback (serialization, deadlock)
        "53",  # insufficient resources (disk full, out of memory, too many connections)
        "57",  # operator intervention (shutdown, query canceled)
        "58",  # system error (I/O)
    }
)
_TRANSIENT_STATES: Final = frozenset({"55P03", "55006"})  # lock not available, object in use
_FATAL_STATES: Final = frozenset({"XX001", "XX002"})  # data corrupted, index corrupted


def pg_error(name: str, error: psycopg.Error, doing: str) -> JournalError | AccessDenied:
    """labd's error for a driver error: transient, fatal, access, or (a bug) JournalError."""
    state = error.sqlstate or ""
    # One line: libpq adds hints on lines of their own ("\n\tIs the server running ...").
    message = f"{doing}: {' '.join(str(error).split())}"
    if isinstance(error, psycopg.OperationalError) and not state:
        return JournalUnavailable(name, message)  # no server answered at all
    if state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES:
        return JournalUnavailable(name, message)
    if state in _FATAL_STATES:
        return JournalUnusable(name, f"{message}; see README, Troubleshooting")
    if state.startswith("28"):  # invalid authorization: the role, its password
        return AccessDenied(name, message)
    if state == "42501":
        return JournalError(
            name, f"{message} (see README: Several print servers, the roles and their privileges)"
        )
    return JournalError(name, message)
