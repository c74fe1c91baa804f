"""The JSON API's tokens: one per integration (the lab's order system, a wall display).

A lab's order system asks "how far is order X?" many times a day, unattended: it cannot
fill in a login form, and a person's password must not sit in its configuration.  It gets
a token of its own instead (``labd token add erp --role supervisor``), made on the print
server like an account and revoked there (``labd token revoke erp``) when the integration
goes or the secret leaks; every other integration goes on.

A token is a random 256-bit secret shown once when it is made.  Only its SHA-256 is kept:
a secret with that much entropy cannot be found from its hash by guessing, so a slow
password hash (Argon2, as the accounts use) would only cost every API call its time.  The
secret starts with ``labd_`` so that a secret scanner, or a person, knows what leaked.

Making and revoking a token are chained events (``api.token_added``, ``api.token_revoked``)
naming the token and who did it, never the secret or its hash.  A wrong or revoked token is
journaled (``api.token_refused``), with the client's address beside the event, and counts
towards the per-address throttle of :class:`labd.web.sessions.AddressThrottle`, as a wrong
password does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from labd.clock import parse_timestamp
from labd.errors import LabdError
from labd.journal import Journal
from labd.store import Row, Schema
from labd.web.accounts import Role, check_name

__all__ = ["PREFIX", "ROLES", "SCHEMA", "ApiToken", "TokenError", "Tokens", "digest_of"]

# What every secret starts with: a leaked one is recognisable as labd's.
PREFIX: Final = "labd_"
# The roles a token may have: an integration reads, it never administers the console.
ROLES: Final = (Role.TECHNICIAN, Role.SUPERVISOR)
# When a token was last used is noted at most this often: not a write per API call.
USED_EVERY: Final = timedelta(minutes=1)
_SECRET_MAX: Final = 200  # far above a real token's length: anything longer is no token

SCHEMA: Final = Schema(
    "tokens",  # the API's: its table is web_tokens
    (
        (
            """CREATE TABLE web_tokens (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                revoked_at TEXT,
                last_used_at TEXT
            )""",
        ),
    ),
)
_COLUMNS: Final = "name, role, created_at, revoked_at, last_used_at"


class TokenError(LabdError):
    """{}"""

    # A token command refused: a bad name or role, a name in use, no such token.
    exit_code = 51
    code = "api.token_refused"


@dataclass(frozen=True)
class ApiToken:
    """One token, without its secret or hash."""

    name: str
    role: Role
    created_at: str
    revoked_at: str | None
    last_used_at: str | None

    @property
    def by(self) -> str:
        """Who did it, in the journal's ``by``: never confused with a person's name."""
        return f"api:{self.name}"


def digest_of(secret: str) -> str:
    """What the journal keeps of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: Row) -> ApiToken:
    return ApiToken(
        name=row.text("name"),
        role=Role(row.text("role")),
        created_at=row.text("created_at"),
        revoked_at=row.opt_text("revoked_at"),
        last_used_at=row.opt_text("last_used_at"),
    )


class Tokens:
    """The API's tokens in the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def all(self) -> list[ApiToken]:
        """Every token, revoked ones too, by name."""
        rows = self.journal.store.read(f"SELECT {_COLUMNS} FROM web_tokens ORDER BY name")  # noqa: S608  # constants only
        return [_token(r) for r in rows]

    def get(self, name: str) -> ApiToken | None:
        """The token ``name``, or None."""
        row = self.journal.store.read_one(
            f"SELECT {_COLUMNS} FROM web_tokens WHERE name = ?",  # noqa: S608  # constants only
            (name,),
        )
        return None if row is None else _token(row)

    def add(self, name: str, role: Role, *, by: str) -> tuple[ApiToken, str]:
        """A new token (``api.token_added``) and its secret, which nothing keeps: the
        caller shows it once.  A revoked token's name may be given again."""
        try:
            check_name(name)
        except LabdError as e:
            raise TokenError(e.get_message().replace("user name", "token name")) from None
        if role not in ROLES:
            allowed = " or ".join(r.value for r in ROLES)
            raise TokenError(f"a token is a {allowed}'s, not an {role.value}'s")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.journal.transaction() as tx:
            now = tx.now()
            added = tx.execute(
                "INSERT INTO web_tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
                "token_hash = excluded.token_hash, created_at = excluded.created_at, "
                "revoked_at = NULL, last_used_at = NULL WHERE web_tokens.revoked_at IS NOT NULL",
                (name, role.value, digest_of(secret), now),
            )
            if not added:
                raise TokenError(
                    f"there is already a token {name!r} (labd token list); revoke it first"
                )
            tx.event("api.token_added", {"token": name, "role": role.value, "by": by})
        return self.must(name), secret

    def revoke(self, name: str, *, by: str) -> ApiToken:
        """Revoke a token (``api.token_revoked``): refused from its next use on."""
        with self.journal.transaction() as tx:
            revoked = tx.execute(
                "UPDATE web_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (tx.now(), name),
            )
            if not revoked:
                token = self.get(name)
                if token is not None:
                    raise TokenError(f"the token {name!r} was revoked already")
                raise self._unknown(name)
            tx.event("api.token_revoked", {"token": name, "by": by})
        return self.must(name)

    def must(self, name: str) -> ApiToken:
        """The token ``name``; a TokenError naming the tokens if there is none."""
        token = self.get(name)
        if token is None:
            raise self._unknown(name)
        return token

    def _unknown(self, name: str) -> TokenError:
        known = ", ".join(t.name for t in self.all()) or "none"
        return TokenError(f"no token {name!r}; the tokens: {known}")

    def authenticate(self, secret: str, *, address: str) -> ApiToken | None:
        """The live token whose secret this is; None (journaled ``api.token_refused``)
        for a secret no token has, or a revoked token's."""
        row = None
        if secret.startswith(PREFIX) and len(secret) <= _SECRET_MAX:
            row = self.journal.store.read_one(
                f"SELECT {_COLUMNS} FROM web_tokens WHERE token_hash = ?",  # noqa: S608  # constants only
                (digest_of(secret),),
            )
        token = None if row is None else _token(row)
        if token is None or token.revoked_at is not None:
            with self.journal.transaction() as tx:
                data = {
                    "token": None if token is None else token.name,
                    "why": "unknown" if token is None else "revoked",
                }
                tx.event("api.token_refused", data, detail=f"from {address}")
            return None
        now = self.journal.store.clock.now()
        if token.last_used_at is None or parse_timestamp(token.last_used_at) + USED_EVERY <= now:
            with self.journal.transaction() as tx:
                tx.execute(
                    "UPDATE web_tokens SET last_used_at = ? WHERE name = ?", (tx.now(), token.name)
                )
        return token
