"""What every backend of labd's store gives the domains: transactions, reads, rows, schemas.

labd keeps one journal in one of two databases: the SQLite file of one print server (the
default, :mod:`labd.store.sqlite`) or a PostgreSQL database shared by several
(:mod:`labd.store.postgres`).  The domains write one SQL for both: ``?`` placeholders,
``INTEGER``/``TEXT``/``BLOB`` columns, ISO timestamps as text, ``INSERT ... ON CONFLICT``;
the few things the two spell differently (a field of an event's JSON) they ask of the
store's :class:`Dialect`.  A backend translates the rest (placeholders, column types, the
append-only triggers) where it runs the statements.

A :class:`Store` serialises labd's own threads behind one lock, like one connection, and
its write transactions are serialised across processes too (SQLite's ``BEGIN IMMEDIATE``,
PostgreSQL's transaction-level advisory lock), so a domain may read, decide and write in
one :class:`Tx` without another writer slipping in between.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, Protocol, SupportsIndex

import structlog

from labd.clock import Clock, isoformat
from labd.errors import JournalError, JournalSchemaError, StaleGuess

log = structlog.get_logger(__name__)


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
        if isinstance(value, (bytes, memoryview)):
            return bytes(value)
        raise JournalError("row", f"column {key} holds {value!r}, not bytes")


# Tx.chain_head's mark for "the chain is empty" (a seq no event has).
NO_HEAD: Final = (0, "")


class Cursor(Protocol):
    """The part of a DB-API cursor a :class:`Tx` uses (sqlite3's and psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Sequence[Sequence[object]] | None: ...

    def fetchall(self) -> list[tuple[object, ...]]: ...


def rows_of(cursor: Cursor) -> list[Row]:
    """The rows a cursor holds, with its column names."""
    values = cursor.fetchall()  # first: a pipelined cursor has no description before
    names = {str(d[0]): i for i, d in enumerate(cursor.description or ())}
    return [Row(r, names) for r in values]


class Dialect:
    """The few SQL spellings the backends do not share (SQLite's; PostgreSQL overrides)."""

    # A join whose left table the planner must read first: SQLite keeps the order of a
    # CROSS JOIN (its documented hint); PostgreSQL plans a plain JOIN well by itself.
    ordered_join = "CROSS JOIN"

    def json_text(self, column: str, key: str) -> str:
        """An expression for field ``key`` of the JSON text in ``column``, compared with
        :meth:`json_arg` values."""
        if not key.isidentifier():
            raise ValueError(f"not a field of an event's data: {key!r}")
        return f"json_extract({column}, '$.{key}')"

    def json_arg(self, value: object) -> object:
        """A value to compare with :meth:`json_text`."""
        return value


class Tx:
    """One write transaction: everything done through it commits together or not at all."""

    def __init__(self, store: Store, cur: object) -> None:
        self._store = store
        self._cur = cur
        self.dialect = store.dialect

    def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return self._store.run(self._cur, sql, args).rowcount

    def expect(self, sql: str, args: Sequence[object] = ()) -> None:
        """The transaction goes on only if ``sql`` finds a row; else it is rolled back and
        StaleGuess raised (for a transaction built on what the caller read before it).

        PostgreSQL sends the check with the transaction's writes, after its write lock,
        and raises at the flush that meets it (its commit, often: one round trip for the
        whole transaction); SQLite reads it now.
        """
        self._store.expect(self._cur, sql, args)

    def write(self, sql: str, args: Sequence[object] = ()) -> None:
        """Run a statement whose outcome this transaction does not look at.

        PostgreSQL keeps it to send with the transaction's next statement or its commit,
        in one round trip; an error it meets is raised there, and the transaction rolls
        back as a whole, as it would have anyway.
        """
        self._store.send(self._cur, sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run one statement for each of ``rows``; return how many rows changed in all."""
        return self._store.run_many(self._cur, sql, rows)

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows inside the transaction (it sees its own writes)."""
        return rows_of(self._store.run(self._cur, sql, args))

    def one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        """The first row, or None."""
        found = self.rows(sql, args)
        return found[0] if found else None

    def insert(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run an INSERT that ends in ``RETURNING id``; return the new row's id."""
        row = self.one(sql, args)
        if row is None or not isinstance(row[0], int):
            raise JournalError(self._store.name, f"the insert returned no id: {sql}")
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

    def chain_head(self) -> tuple[int, str] | None:
        """The event chain's last (seq, hash) as this transaction sees it; None: empty.

        Read once per write transaction and then kept (:meth:`chain_advanced`): the
        transaction holds the write lock, so no one else moves the head meanwhile.
        """
        store = self._store
        if store.head is None:
            last = self.one("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            store.head = (last.integer("seq"), last.text("hash")) if last else NO_HEAD
        return None if store.head is NO_HEAD else store.head

    def chain_advanced(self, seq: int, digest: str) -> None:
        """This transaction appended event ``seq`` with hash ``digest``."""
        self._store.head = (seq, digest)


class Store(ABC):
    """labd's journal database, whichever backend holds it.  Thread-safe."""

    dialect: Dialect = Dialect()
    # Whether several print servers (nodes) may share this journal.
    shared: bool = False

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name  # how messages name the journal: a path, or a URL without secrets
        self.clock = clock
        # The event chain's head in the running write transaction (Tx.chain_head), or
        # None: not read yet.  A backend forgets it when a transaction or a savepoint
        # ends in a rollback, and when the outermost transaction ends.
        self.head: tuple[int, str] | None = None

    # -- what a backend provides -----------------------------------------------------------

    @abstractmethod
    def transaction(self, *, known_head: bool = False) -> AbstractContextManager[Tx]:
        """A write transaction: ``with store.transaction() as tx: ...``.

        ``known_head``: the event chain's head may be taken as this process last saw it
        (PostgreSQL checks it with the writes, and raises StaleGuess if another writer
        has appended since; the caller then does it the usual way).  For a transaction
        whose other reads are :meth:`Tx.expect` checks: one round trip in all.
        """

    @abstractmethod
    def read(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Read rows."""

    @abstractmethod
    def scan(self, sql: str, args: Sequence[object] = ()) -> AbstractContextManager[Iterator[Row]]:
        """Rows one by one, for a long read (the whole event chain): ``with ... as rows:``."""

    @abstractmethod
    def run(self, cur: object, sql: str, args: Sequence[object]) -> Cursor:
        """Run one statement on a transaction's cursor (for :class:`Tx`)."""

    def expect(self, cur: object, sql: str, args: Sequence[object]) -> None:
        """:meth:`Tx.expect`: here a read, now."""
        if not rows_of(self.run(cur, sql, args)):
            raise StaleGuess(self.name)

    def send(self, cur: object, sql: str, args: Sequence[object]) -> None:
        """Run a statement whose result is not read (for :meth:`Tx.write`); a backend
        may send it without waiting."""
        self.run(cur, sql, args)

    @abstractmethod
    def run_many(self, cur: object, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Run one statement per row on a transaction's cursor; rows changed in all."""

    @abstractmethod
    def relaxed(self) -> AbstractContextManager[None]:
        """Commits in this block need not wait for the disk (records reconciliation can
        rebuild after a power cut); the next durable commit makes them durable too."""

    @abstractmethod
    def batch(self) -> AbstractContextManager[None]:
        """Commit every write made in this block (by this thread) at once, at its end."""

    @abstractmethod
    def durable(self) -> bool:
        """Whether a commit now waits until the database has it on disk (outside
        :meth:`relaxed`, always)."""

    @abstractmethod
    def scrub(self) -> bool:
        """Leave no copy of erased rows where the database keeps old pages, as far as the
        backend allows; False when that could not finish now."""

    @abstractmethod
    def size_bytes(self) -> int:
        """How much room the journal takes (its files, or its database)."""

    @abstractmethod
    def schema_version(self) -> int:
        """The core schema version of the open journal."""

    @abstractmethod
    def component_version(self, name: str) -> int | None:
        """The schema version of a component's tables, or None before they exist."""

    @abstractmethod
    def _core_version_in(self, tx: Tx) -> int:
        """The core schema version, read in the migrating transaction (making the place it
        is kept where a new database has none)."""

    @abstractmethod
    def _set_core_version(self, tx: Tx, version: int) -> None:
        """Record the core schema version, in the migrating transaction."""

    def ddl(self, statement: str) -> list[str]:
        """A migration statement as this backend runs it (SQLite's, as written)."""
        return [statement]

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    # -- shared ----------------------------------------------------------------------------

    def migrate(self, core: Sequence[tuple[str, ...]]) -> None:
        """Bring the core tables to ``core``'s last migration; cheap when they are current
        (no write lock taken: a command must open a busy journal)."""
        target = len(core)
        if self.schema_version() == target:
            return
        with self.transaction() as tx:
            version = self._core_version_in(tx)
            if version > target:
                raise JournalSchemaError(self.name, version, target)
            self._apply(tx, core, version, {})
            if version < target:
                self._set_core_version(tx, target)

    def ensure_schema(self, schema: Schema) -> None:
        """Create or migrate a component's tables; cheap when they are current."""
        if self.component_version(schema.name) == len(schema.migrations):
            return
        with self.transaction() as tx:
            row = tx.one("SELECT version FROM component_schema WHERE name = ?", (schema.name,))
            version = row.integer("version") if row else 0
            target = len(schema.migrations)
            if version > target:
                raise JournalSchemaError(f"{self.name} ({schema.name})", version, target)
            self._apply(tx, schema.migrations, version, {"component": schema.name})
            if version < target:
                tx.execute(
                    "INSERT INTO component_schema (name, version) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    (schema.name, target),
                )

    def _apply(
        self,
        tx: Tx,
        migrations: Sequence[tuple[str, ...]],
        version: int,
        about: Mapping[str, str],
    ) -> None:
        """The migrations after ``version``, in ``tx``, each logged."""
        for number in range(version, len(migrations)):
            for statement in migrations[number]:
                for ddl in self.ddl(statement):
                    tx.execute(ddl)
            log.info("journal.migrated", **about, to_version=number + 1)

    def read_one(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        """The first row read, or None."""
        found = self.read(sql, args)
        return found[0] if found else None

    def read_each(self, queries: Sequence[tuple[str, Sequence[object]]]) -> list[list[Row]]:
        """Several reads at once, each one's rows (PostgreSQL: in one round trip)."""
        return [self.read(sql, args) for sql, args in queries]

    def now(self) -> str:
        """The store's timestamp for this moment (the injected clock's)."""
        return isoformat(self.clock.now())

    def check_versions(self, core: Sequence[tuple[str, ...]], schemas: Sequence[Schema]) -> None:
        """For a store opened without migrating: the journal's schema must be the code's."""
        wanted = [("", self.schema_version(), len(core))]
        wanted += [
            (s.name, self.component_version(s.name) or 0, len(s.migrations)) for s in schemas
        ]
        for component, found, target in wanted:
            where = f"{self.name} ({component})" if component else self.name
            if found > target:
                raise JournalSchemaError(where, found, target)
            if found < target:
                raise JournalError(
                    where,
                    f"has schema version {found}, older than this labd's ({target}): start "
                    "the labd service once (it migrates the journal), then run this again",
                )
