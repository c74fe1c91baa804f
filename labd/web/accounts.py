"""The console's accounts: who may log in, with which role, and the lockout of guessing.

An account is a name, a role (technician, supervisor, admin: what each may do is
:mod:`labd.web.roles`), an Argon2id hash of its password (argon2-cffi, the library's
default parameters: RFC 9106's low-memory profile) and a disabled flag.  Accounts are made
and changed on the print server (``labd user``), never over the web: whoever changes them
already has the server.

Every change of an account, every login, every failed one and every lockout is a chained
event (``web.user_added``, ``web.login_failed``, ``web.locked`` ...) naming the account and
who did it, never a password or a hash.  Where a failed login came from (the client's
address) is kept beside the event, outside the chain, so it can be erased.

Guessing is stopped twice: :data:`LOCK_AFTER` wrong passwords in a row lock the account
for :data:`LOCK_MINUTES` (on the journal's clock, so every console process sees it), and
:class:`labd.web.sessions.AddressThrottle` refuses an address that keeps failing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from labd.clock import isoformat, parse_timestamp
from labd.errors import LabdError
from labd.journal import Journal, Tx
from labd.store import Row, Schema
from labd.web.i18n import _

__all__ = [
    "LOCK_AFTER",
    "LOCK_MINUTES",
    "SCHEMA",
    "Account",
    "AccountError",
    "Accounts",
    "Login",
    "Outcome",
    "Role",
    "check_name",
    "check_password",
]

# Wrong passwords in a row that lock an account, and for how long.
LOCK_AFTER: Final = 5
LOCK_MINUTES: Final = 15
# Like a Unix user name, so a web user's name reads like a technician's in the journal.
NAME: Final = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
PASSWORD_MIN: Final = 10
PASSWORD_MAX: Final = 1024  # Argon2 takes any length; a megabyte would only cost CPU

SCHEMA: Final = Schema(
    "web_users",
    (
        (
            """CREATE TABLE web_users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL,
                failed_logins INTEGER NOT NULL,
                locked_until TEXT,
                created_at TEXT NOT NULL,
                changed_at TEXT NOT NULL,
                last_login_at TEXT
            )""",
        ),
    ),
)
_COLUMNS: Final = "name, role, disabled, failed_logins, locked_until, created_at, last_login_at"


class AccountError(LabdError):
    """{}"""

    # An account command refused: a bad name or password, a name taken, no such account.
    exit_code = 50
    code = "web.account_refused"


class Role(enum.StrEnum):
    """What a web user is; each role may do what the one before it may, and more."""

    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Technician 0, supervisor 1, admin 2: a route names the lowest role allowed."""
        return list(Role).index(self)


@dataclass(frozen=True)
class Account:
    """One account, without its hash."""

    name: str
    role: Role
    disabled: bool
    failed_logins: int
    locked_until: str | None
    created_at: str
    last_login_at: str | None


class Outcome(enum.StrEnum):
    """What a login attempt came to."""

    OK = "ok"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  # an outcome's name, no password
    UNKNOWN_USER = "unknown_user"
    DISABLED = "disabled"
    LOCKED = "locked"


@dataclass(frozen=True)
class Login:
    """A login attempt's outcome; ``account`` when it succeeded (or names an account)."""

    outcome: Outcome
    account: Account | None = None
    locked_until: str | None = None  # LOCKED: until when


def check_name(name: str) -> str:
    """``name`` if it can be an account's name; else an AccountError saying what can."""
    if not NAME.match(name):
        # The login form shows it in the browser's language; `labd user` in English.
        raise AccountError(
            _(
                "%(name)r is not a user name: 1 to 32 lower-case letters, digits, '.', '_' "
                "and '-', starting with a letter (like a Unix user name)",
                name=name,
            )
        )
    return name


def check_password(password: str) -> str:
    """``password`` if it is long enough (and not absurdly long)."""
    if len(password) < PASSWORD_MIN or not password.strip():
        raise AccountError(f"the password is too short: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"the password is too long: at most {PASSWORD_MAX} characters")
    return password


def _account(row: Row) -> Account:
    return Account(
        name=row.text("name"),
        role=Role(row.text("role")),
        disabled=bool(row.integer("disabled")),
        failed_logins=row.integer("failed_logins"),
        locked_until=row.opt_text("locked_until"),
        created_at=row.text("created_at"),
        last_login_at=row.opt_text("last_login_at"),
    )


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # Argon2id, RFC 9106 low-memory parameters


@cache
def _decoy_hash() -> str:
    """A hash to verify against for a name with no account, so that a wrong name takes as
    long as a wrong password and the time does not tell which names exist."""
    return _hasher().hash("no account has this password")


class Accounts:
    """The console's accounts in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    # -- reading --------------------------------------------------------------------------------

    def get(self, name: str) -> Account | None:
        """The account ``name``, or None."""
        row = self.journal.store.read_one(
            f"SELECT {_COLUMNS} FROM web_users WHERE name = ?",  # noqa: S608  # constants only
            (name,),
        )
        return None if row is None else _account(row)

    def all(self) -> list[Account]:
        """Every account, by name."""
        rows = self.journal.store.read(f"SELECT {_COLUMNS} FROM web_users ORDER BY name")  # noqa: S608  # constants only
        return [_account(r) for r in rows]

    # -- changing (labd user) -------------------------------------------------------------------

    def add(self, name: str, role: Role, password: str, *, by: str) -> Account:
        """A new account (``web.user_added``); refused if the name is taken."""
        check_name(name)
        digest = _hasher().hash(check_password(password))
        with self.journal.transaction() as tx:
            now = tx.now()
            added = tx.execute(
                "INSERT INTO web_users (name, role, password_hash, disabled, failed_logins, "
                "created_at, changed_at) VALUES (?, ?, ?, 0, 0, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, role.value, digest, now, now),
            )
            if not added:
                raise AccountError(f"there is already an account {name!r} (labd user list)")
            tx.event("web.user_added", {"user": name, "role": role.value, "by": by})
        return self.must(name)

    def set_password(self, name: str, password: str, *, by: str) -> Account:
        """A new password (``web.password_changed``); it also lifts a lockout."""
        digest = _hasher().hash(check_password(password))
        with self.journal.transaction() as tx:
            self._changed(
                tx,
                name,
                "password_hash = ?, failed_logins = 0, locked_until = NULL",
                (digest,),
            )
            tx.event("web.password_changed", {"user": name, "by": by})
        return self.must(name)

    def set_disabled(self, name: str, *, disabled: bool, by: str) -> Account:
        """Disable (``web.user_disabled``) or enable (``web.user_enabled``) an account;
        a disabled account's sessions end at their next request."""
        with self.journal.transaction() as tx:
            self._changed(tx, name, "disabled = ?", (int(disabled),))
            kind = "web.user_disabled" if disabled else "web.user_enabled"
            tx.event(kind, {"user": name, "by": by})
        return self.must(name)

    def _changed(self, tx: Tx, name: str, assignments: str, args: tuple[object, ...]) -> None:
        changed = tx.execute(
            f"UPDATE web_users SET {assignments}, changed_at = ? WHERE name = ?",  # noqa: S608  # assignments are this module's constants
            (*args, tx.now(), name),
        )
        if not changed:
            raise self._unknown(name)

    def must(self, name: str) -> Account:
        """The account ``name``; an AccountError naming the accounts if there is none."""
        account = self.get(name)
        if account is None:
            raise self._unknown(name)
        return account

    def _unknown(self, name: str) -> AccountError:
        known = ", ".join(a.name for a in self.all()) or "none"
        return AccountError(f"no account {name!r}; the accounts: {known}")

    # -- logging in -----------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, address: str) -> Login:
        """Check a login; journal it (``web.login``, ``web.login_failed``, ``web.locked``).

        A locked or disabled account is refused before its password is looked at; a
        wrong password counts towards the lockout, a right one resets the count.
        """
        row = self.journal.store.read_one(
            f"SELECT {_COLUMNS}, password_hash FROM web_users WHERE name = ?",  # noqa: S608  # constants only
            (name,),
        )
        if row is None:
            _verify(_decoy_hash(), password)
            return self._failed(None, Outcome.UNKNOWN_USER, address)
        account = _account(row)
        now = self.journal.store.clock.now()
        if account.locked_until is not None and parse_timestamp(account.locked_until) > now:
            return self._failed(account, Outcome.LOCKED, address)
        if account.disabled:
            return self._failed(account, Outcome.DISABLED, address)
        digest = row.text("password_hash")
        if not _verify(digest, password):
            return self._wrong_password(account, address)
        with self.journal.transaction() as tx:
            fresh = _hasher().hash(password) if _hasher().check_needs_rehash(digest) else digest
            tx.execute(
                "UPDATE web_users SET failed_logins = 0, locked_until = NULL, "
                "last_login_at = ?, password_hash = ? WHERE name = ?",
                (tx.now(), fresh, name),
            )
            tx.event("web.login", {"user": name}, detail=f"from {address}")
        return Login(Outcome.OK, self.must(name))

    def _failed(self, account: Account | None, outcome: Outcome, address: str) -> Login:
        with self.journal.transaction() as tx:
            user = account.name if account is not None else None
            # A name with no account is not journaled: it may be a password in the wrong box.
            tx.event(
                "web.login_failed", {"user": user, "why": outcome.value}, detail=f"from {address}"
            )
        until = account.locked_until if outcome is Outcome.LOCKED and account else None
        return Login(outcome, account, until)

    def _wrong_password(self, account: Account, address: str) -> Login:
        with self.journal.transaction() as tx:
            row = tx.one(
                "UPDATE web_users SET failed_logins = failed_logins + 1 WHERE name = ? "
                "RETURNING failed_logins",
                (account.name,),
            )
            failures = 0 if row is None else row.integer("failed_logins")
            data = {"user": account.name, "why": Outcome.WRONG_PASSWORD.value}
            tx.event("web.login_failed", data, detail=f"from {address}")
            if failures < LOCK_AFTER:
                return Login(Outcome.WRONG_PASSWORD, account)
            until = isoformat(self.journal.store.clock.now() + timedelta(minutes=LOCK_MINUTES))
            tx.execute(
                "UPDATE web_users SET failed_logins = 0, locked_until = ? WHERE name = ?",
                (until, account.name),
            )
            tx.event(
                "web.locked",
                {"user": account.name, "failures": failures, "until": until},
                detail=f"from {address}",
            )
        return Login(Outcome.LOCKED, account, until)


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher().verify(digest, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        return False  # a damaged hash lets nobody in; `labd user passwd` sets a new one
