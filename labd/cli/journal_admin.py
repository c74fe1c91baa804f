"""``labd journal migrate`` and ``labd journal grants``, and the journal's checks that
``labd check-config`` and ``labd doctor`` share.

The daemon migrates the journal when it starts.  A PostgreSQL journal that several print
servers share is better served by two roles: the tables' owner, who migrates, and labd's
own role, who may append events but not rewrite them (README: "Several print servers").
Then labd cannot migrate, and the administrator does it as the owner with ``labd journal
migrate --url``, and gives labd's role its privileges with ``labd journal grants``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Final, TextIO

from labd import schemas
from labd.errors import AccessDenied, JournalError, JournalSchemaError, LabdError
from labd.journal import MIGRATIONS
from labd.store import PostgresLocation, StoreLocation
from labd.store.admin import (
    EVENTS,
    VERSION_TABLES,
    RoleFacts,
    SchemaVersions,
    grant_statements,
    open_as_is,
    role_facts,
    role_name,
    schema_versions,
)

# The oldest PostgreSQL labd runs on: 13, the oldest release the PostgreSQL project still
# maintained when the shared journal was written.  labd's tables need 11 (CREATE TRIGGER
# ... EXECUTE FUNCTION); older releases get no fixes, so check-config and doctor refuse them.
MIN_SERVER_VERSION: Final = 13
_README: Final = 'README: "Several print servers"'


def role_arg(text: str) -> str:
    """A role name as argparse takes it: refused before anything is printed."""
    try:
        return role_name(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def target_versions() -> SchemaVersions:
    """The versions this labd's code creates and understands."""
    return SchemaVersions(len(MIGRATIONS), tuple((s.name, len(s.migrations)) for s in schemas.ALL))


def _names() -> list[str]:
    return [s.name for s in schemas.ALL]


def _where(where: StoreLocation) -> str:
    return where.display if isinstance(where, PostgresLocation) else str(where)


# -- labd journal migrate --------------------------------------------------------------------


def migrate(where: StoreLocation, node: str, out: TextIO) -> int:
    """Create or migrate the journal at ``where``; say what it was and what it is now."""
    name = _where(where)
    store = open_as_is(where)
    try:
        before = schema_versions(store, _names())
        facts = role_facts(store) if store is not None and _is_postgres(where) else None
    finally:
        if store is not None:
            store.close()
    if before != target_versions() and facts is not None and not facts.may_migrate:
        schema = facts.schema or "(none on the search_path exists)"
        raise AccessDenied(
            name,
            f"role {facts.role} may not create or alter the journal's tables in schema "
            f"{schema}. Migrate as the tables' owner: labd journal migrate --url "
            f"postgresql://OWNER@HOST/DATABASE ({_README})",
        )
    journal = schemas.open_journal(where, create=True, migrate=True, node=node)
    try:
        after = schema_versions(journal.store, _names())
    finally:
        journal.close()
    out.write(_migration_report(name, before, after, postgres=facts is not None))
    return 0


def _is_postgres(where: StoreLocation) -> bool:
    return isinstance(where, PostgresLocation)


def _migration_report(
    name: str, before: SchemaVersions, after: SchemaVersions, *, postgres: bool
) -> str:
    if before == after:
        done = "current, nothing to do"
    elif before.core == 0:
        done = "created"
    else:
        done = "migrated"
    lines = [f"journal {name}: {done}"]
    rows: list[tuple[str, int | None, int | None]] = [("core", before.core or None, after.core)]
    rows += [(n, before.of(n), after.of(n)) for n, _ in after.components]
    width = max(len(r[0]) for r in rows)
    for component, old, new in rows:
        was = "-" if old is None else str(old)
        now = "-" if new is None else str(new)
        change = f"{now}" if old == new else f"{was} -> {now}"
        lines.append(f"  {component.ljust(width)}  {change}")
    if postgres and before != after:
        lines.append(
            "the journal has new tables or columns: give labd's role their privileges "
            "again, as the owner: labd journal grants ROLE | psql -v ON_ERROR_STOP=1 ..."
        )
    return "\n".join(lines) + "\n"


# -- labd journal grants -----------------------------------------------------------------------


def grants(where: StoreLocation, role: str, out: TextIO) -> int:
    """Print the SQL that gives ``role`` what labd needs, and no more (PostgreSQL only).

    Everything is read before anything is printed: a refusal leaves stdout empty, so
    nothing half-made can reach the psql it is piped into.
    """
    if not isinstance(where, PostgresLocation):
        raise JournalError(
            str(where),
            "is a SQLite file, which has no roles or privileges to grant; `labd journal "
            "grants` is for a PostgreSQL journal ([journal] url)",
        )
    store = open_as_is(where)
    assert store is not None  # noqa: S101  # a PostgreSQL journal always opens
    try:
        found = grant_statements(store, role)  # the catalogue only: any role may ask
    except ValueError as e:
        raise JournalError(where.display, str(e)) from None
    finally:
        store.close()
    url = " ".join(where.display.split())
    header = (
        f"-- What labd's role {role} needs on the journal at {url}, and no more:",
        f"-- the {found.tables} tables of schema {found.schema}.",
        "-- SELECT and INSERT on events (the database keeps the log append-only: no UPDATE,",
        "-- DELETE or TRUNCATE); SELECT on the schema versions (only the owner migrates);",
        "-- SELECT, INSERT, UPDATE, DELETE on the other tables (erasure deletes personal data).",
        "-- Identity columns need no privilege on their sequences: INSERT on the table does.",
        "-- Apply as the tables' owner, and again after each migration that adds tables:",
        f"--   labd journal grants {role} | psql -v ON_ERROR_STOP=1 postgresql://OWNER@HOST/DB",
    )
    out.write("\n".join((*header, *found.statements)) + "\n")
    return 0


# -- the checks of check-config and doctor -------------------------------------------------------


@dataclass(frozen=True)
class Inspection:
    """A PostgreSQL journal as labd's configured role finds it."""

    name: str  # the URL without secrets
    facts: RoleFacts
    versions: SchemaVersions | None  # None: the role may not read them (privileges_problem)

    def server_problem(self) -> str | None:
        """Why the server is too old for labd, or None."""
        major = self.facts.server_version_num // 10000
        if major >= MIN_SERVER_VERSION:
            return None
        return (
            f"PostgreSQL {self.facts.server_version.split()[0]} is older than labd supports "
            f"({MIN_SERVER_VERSION} or newer)"
        )

    def schema_problem(self) -> LabdError | None:
        """What is wrong with the journal's schema for this labd, or None (also when the
        role may not read the versions: :meth:`privileges_problem` says so)."""
        if self.versions is None:
            return None
        target = target_versions()
        wanted = [("", self.versions.core, target.core)]
        wanted += [(n, self.versions.of(n) or 0, v) for n, v in target.components if v]
        for component, found, code in wanted:
            if found > code:
                where = f"{self.name} ({component})" if component else self.name
                return JournalSchemaError(where, found, code)
        if self.versions.core == 0:
            return JournalError(
                self.name,
                "has no journal yet: create it as the tables' owner with `labd journal "
                f"migrate --url postgresql://OWNER@HOST/DATABASE` ({_README})",
            )
        for component, found, code in wanted:
            if found < code:
                where = f"{self.name} ({component})" if component else self.name
                return JournalError(
                    where,
                    f"has schema version {found}, older than this labd's ({code}): run "
                    "`labd journal migrate` (as the tables' owner when labd's role is "
                    f"another; {_README})",
                )
        return None

    def privileges_problem(self) -> str | None:
        """The privileges labd needs and its role lacks, or None."""
        missing = self.facts.missing
        if not missing:
            return None
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        return f"role {self.facts.role} lacks what labd needs: {shown}"

    def rewrites_warning(self) -> str | None:
        """Why the event log is append-only by labd's trigger alone, or None."""
        if not self.facts.rewrites:
            return None
        if self.facts.superuser:
            who = "a superuser"
        elif EVENTS in self.facts.not_owned:
            who = "granted to it"
        else:
            who = "it owns the tables"
        return (
            f"role {self.facts.role} ({who}) may {', '.join(self.facts.rewrites)} the event "
            "log: only labd's trigger keeps it append-only"
        )


def inspect_journal(location: PostgresLocation) -> Inspection:
    """Connect as the configured role and look; a LabdError, one line naming the URL (and
    never a password), when the password file cannot be read or the connection fails."""
    _read_password(location)
    store = open_as_is(location)
    assert store is not None  # noqa: S101  # a PostgreSQL journal always opens
    try:
        facts = role_facts(store)
        readable = not any(f"SELECT on {t}" in facts.missing for t in VERSION_TABLES)
        versions = schema_versions(store, _names()) if readable else None
        return Inspection(location.display, facts, versions)
    finally:
        store.close()


def _read_password(location: PostgresLocation) -> None:
    """The password file's trouble, named with the URL it is for."""
    try:
        location.password()
    except LabdError as e:
        file = location.password_file
        reason = "permission denied" if isinstance(e, AccessDenied) else _reason(e)
        error = AccessDenied if isinstance(e, AccessDenied) else JournalError
        raise error(location.display, f"cannot read the password file {file}: {reason}") from e


def _reason(error: LabdError) -> str:
    """The OS's words for why a file could not be read."""
    cause = error.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return " ".join(str(error).split())
