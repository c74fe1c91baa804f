"""Where a shared journal is, told apart from the driver that reaches it.

The configuration names a PostgreSQL database long before (and often without) a
connection being made: ``labd check-config`` and every command read it.  This module
checks the URL without importing the driver, which costs a command 0.16 s to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from labd.errors import AccessDenied, JournalError


@dataclass(frozen=True)
class PostgresLocation:
    """Where a shared journal is: a ``postgresql://`` URL without a password, and the file
    that holds the password (or none: libpq's ``PGPASSWORD``/``~/.pgpass``, or peer
    authentication on a local socket)."""

    url: str
    password_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"not a postgresql:// URL: {self.display}")
        parsed = urlsplit(self.url)
        query = parse_qs(parsed.query)
        if parsed.password or query.get("password"):
            raise ValueError(
                "the URL holds a password: put it in a file named by password_file "
                "(mode 0600), or in the service's environment (PGPASSWORD), never in the "
                "configuration"
            )

    @property
    def display(self) -> str:
        """The URL as messages and logs show it: no query (options, secrets)."""
        return self.url.split("?", 1)[0]

    def password(self) -> str | None:
        """The password from ``password_file``, or None."""
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text(encoding="utf-8").strip() or None
        except PermissionError as e:
            raise AccessDenied(str(self.password_file), "cannot read the password file") from e
        except OSError as e:
            raise JournalError(str(self.password_file), f"cannot read it: {e}") from e
