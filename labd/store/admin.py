"""What the administrator of a journal asks of its database, besides what labd reads and
writes: the schema versions as they are (before a migration says what it did), and, in a
PostgreSQL journal, who the connected role is, what it may do to the tables, and the
privileges another role needs to run labd.

With PostgreSQL the tables' owner (who migrates) and labd's own role (who appends) are best
two roles: labd's role may then append events but never rewrite them, and the database
refuses an ``UPDATE events`` even from someone who removed labd's append-only trigger.
What that role needs is read from the database's catalogue, so it stays right as the
schema grows, and is written once, here, for ``labd journal grants`` and ``labd doctor``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from labd.clock import Clock, SystemClock
from labd.store import PostgresLocation, Schema, SQLiteStore, Store, StoreLocation

if TYPE_CHECKING:
    from labd.store.postgres import PostgresStore

__all__ = [
    "EVENTS",
    "REWRITES",
    "VERSION_TABLES",
    "Grants",
    "RoleFacts",
    "SchemaVersions",
    "grant_statements",
    "needed_privileges",
    "open_as_is",
    "quote_ident",
    "role_facts",
    "role_name",
    "schema_versions",
]

# The chained event log: labd's role appends to it and reads it, nothing more.
EVENTS: Final = "events"
# The schema versions: only the owner's `labd journal migrate` writes them.
VERSION_TABLES: Final = ("labd_schema", "component_schema")
# What would rewrite the event log; a role that holds one of these on it could rewrite
# history behind labd's trigger.
REWRITES: Final = ("UPDATE", "DELETE", "TRUNCATE")
# Every other table: rows change with the jobs, and personal data is deleted on erasure.
_TABLE_RIGHTS: Final = ("SELECT", "INSERT", "UPDATE", "DELETE")

# A role name as SQL takes it without quotes: what `labd journal grants` accepts, so its
# output never carries a name that could end a statement or start another.
_ROLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def needed_privileges(table: str) -> tuple[str, ...]:
    """The privileges labd's role needs on one of the journal's tables, and no more."""
    if table == EVENTS:
        return ("SELECT", "INSERT")  # append-only: no UPDATE, DELETE or TRUNCATE
    if table in VERSION_TABLES:
        return ("SELECT",)
    return _TABLE_RIGHTS


def role_name(text: str) -> str:
    """``text`` as a role name, or ValueError saying why it is not one."""
    if _ROLE.fullmatch(text) is None:
        raise ValueError(
            f"{text!r} is not a role name: letters, digits and '_', not starting with a "
            "digit, at most 63 characters"
        )
    return text


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# -- a journal as it is ----------------------------------------------------------------------


class _AsIsSQLite(SQLiteStore):
    """A SQLite journal opened without checking its schema against the code's."""

    def check_versions(self, core: Sequence[tuple[str, ...]], schemas: Sequence[Schema]) -> None:
        """Any version: the administrator's commands read it to say what they do."""


def _postgres_as_is() -> type[PostgresStore]:
    # The driver is loaded only for a PostgreSQL journal (see labd.store.open_store).
    from labd.store.postgres import PostgresStore  # noqa: PLC0415

    class _AsIsPostgres(PostgresStore):
        """A PostgreSQL journal opened without checking its schema against the code's."""

        def check_versions(
            self, core: Sequence[tuple[str, ...]], schemas: Sequence[Schema]
        ) -> None:
            """Any version: the administrator's commands read it to say what they do."""

    return _AsIsPostgres


def open_as_is(where: StoreLocation, clock: Clock | None = None) -> Store | None:
    """The journal at ``where``, neither migrated nor checked; None: no SQLite file yet."""
    clock = clock or SystemClock()
    if isinstance(where, PostgresLocation):
        return _postgres_as_is().open(where, clock, migrate=False)
    if not Path(where).exists():
        return None
    return _AsIsSQLite.open(where, clock, create=False, migrate=False)


@dataclass(frozen=True)
class SchemaVersions:
    """The core schema version and each component's (None: its tables do not exist)."""

    core: int
    components: tuple[tuple[str, int | None], ...]

    def of(self, name: str) -> int | None:
        """One component's version."""
        return dict(self.components).get(name)


def schema_versions(store: Store | None, components: Sequence[str]) -> SchemaVersions:
    """The versions of the journal in ``store`` (None: a journal not created yet)."""
    if store is None:
        return SchemaVersions(0, tuple((name, None) for name in components))
    return SchemaVersions(
        store.schema_version(), tuple((name, store.component_version(name)) for name in components)
    )


# -- PostgreSQL: the role ----------------------------------------------------------------------


@dataclass(frozen=True)
class RoleFacts:
    """Who labd is connected as, on which server, and what that role may do."""

    role: str
    superuser: bool
    server_version: str  # as the server says it: "15.18 (Debian 15.18-0+deb12u1)"
    server_version_num: int  # 150018
    schema: str | None  # where labd creates its tables (the first schema on the path)
    may_create: bool  # CREATE on that schema
    not_owned: tuple[str, ...]  # tables there this role cannot alter (another role owns them)
    rewrites: tuple[str, ...]  # which of REWRITES the role holds on the event log
    missing: tuple[str, ...]  # privileges labd needs and the role lacks: "INSERT on nodes"

    @property
    def may_migrate(self) -> bool:
        """Whether this role can create and alter the journal's tables."""
        owns = self.schema is not None and self.may_create and not self.not_owned
        return self.superuser or owns


def role_facts(store: Store) -> RoleFacts:
    """What the role ``store`` is connected as may do (a PostgreSQL store)."""
    row = store.read_one(
        "SELECT current_user AS role, current_schema() AS schema, "
        "current_setting('server_version') AS version, "
        "current_setting('server_version_num')::integer AS version_num, "
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser"
    )
    assert row is not None  # noqa: S101  # a SELECT without FROM gives one row
    schema = row.opt_text("schema")
    may_create = False
    not_owned: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    if schema is not None:
        create = store.read_one("SELECT has_schema_privilege(?, 'CREATE')", (schema,))
        may_create = bool(create and create[0])
        not_owned = tuple(
            r.text("relname")
            for r in store.read(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = ? AND c.relkind IN ('r', 'p') "
                "AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname",
                (schema,),
            )
        )
    tables = _journal_tables(store)
    if tables:
        missing = tuple(
            f"{right} on {table}"
            for schema_name, table in tables
            for right in needed_privileges(table)
            if not _has(store, schema_name, table, right)
        )
    rewrites: tuple[str, ...] = ()
    if tables:
        where = next(s for s, t in tables if t == EVENTS)
        rewrites = tuple(r for r in REWRITES if _has(store, where, EVENTS, r))
    return RoleFacts(
        role=row.text("role"),
        superuser=bool(row["superuser"]),
        server_version=row.text("version"),
        server_version_num=row.integer("version_num"),
        schema=schema,
        may_create=may_create,
        not_owned=not_owned,
        rewrites=rewrites,
        missing=missing,
    )


def _has(store: Store, schema: str, table: str, right: str) -> bool:
    found = store.read_one(
        "SELECT has_table_privilege(?, ?)", (f"{quote_ident(schema)}.{quote_ident(table)}", right)
    )
    return bool(found and found[0])


def _journal_tables(store: Store) -> list[tuple[str, str]]:
    """(schema, table) of the journal's tables: those in the schema of the event log that
    the event log's owner owns (the catalogue, not a list in the code: it grows with
    every migration).  Empty before the journal has tables."""
    return [
        (r.text("nspname"), r.text("relname"))
        for r in store.read(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_class e ON e.oid = to_regclass(?) "
            "WHERE c.relnamespace = e.relnamespace AND c.relowner = e.relowner "
            "AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            (EVENTS,),
        )
    ]


@dataclass(frozen=True)
class Grants:
    """What ``labd journal grants`` prints, or why it refuses."""

    statements: tuple[str, ...]
    schema: str
    tables: int


def grant_statements(store: Store, role: str) -> Grants:
    """The SQL that gives ``role`` what labd needs on the journal's current tables, and no
    more: one transaction, for psql, run by the tables' owner.

    Raises ValueError saying why when it cannot be given: no tables yet, no such role, or
    a role privileges cannot bind (the owner, a superuser).
    """
    role = role_name(role)
    tables = _journal_tables(store)
    if not tables:
        raise ValueError("the journal has no tables yet: run `labd journal migrate` first")
    found = store.read_one(
        "SELECT r.rolsuper, pg_has_role(r.oid, e.relowner, 'USAGE') AS owns "
        "FROM pg_roles r JOIN pg_class e ON e.oid = to_regclass(?) WHERE r.rolname = ?",
        (EVENTS, role),
    )
    if found is None:
        raise ValueError(
            f"there is no role {role!r} on the server: create it first "
            f"(CREATE ROLE {role} LOGIN), then run this again"
        )
    if found["rolsuper"]:
        raise ValueError(
            f"role {role!r} is a superuser: no privilege binds it; give labd a role of its own"
        )
    if found["owns"]:
        raise ValueError(
            f"role {role!r} owns the journal's tables (or is a member of their owner): an "
            "owner may do anything to them; give labd a role of its own"
        )
    schema = tables[0][0]
    who = quote_ident(role)
    lines = ["BEGIN;", f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO {who};"]
    for schema_name, table in tables:
        name = f"{quote_ident(schema_name)}.{quote_ident(table)}"
        # What the role held before goes first, so it ends with exactly what is below.
        lines.append(f"REVOKE ALL ON TABLE {name} FROM {who};")
        lines.append(f"GRANT {', '.join(needed_privileges(table))} ON TABLE {name} TO {who};")
    lines.append("COMMIT;")
    return Grants(tuple(lines), schema, len(tables))
