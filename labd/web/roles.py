"""Who may use which route of the console: the table the README shows, as data.

Each route names the lowest role allowed (roles rank technician < supervisor < admin);
the application checks it before a handler runs, and the tests walk every route with
every role (and with no session) against this same table.  None: no login needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from labd.web.accounts import Role

__all__ = ["ROUTES", "RouteRule", "allowed"]


@dataclass(frozen=True)
class RouteRule:
    """One route: its method, its path pattern, the lowest role, and what it is for."""

    method: str
    path: str  # as Starlette spells it: /jobs/{job_id:int}
    lowest: Role | None  # None: anyone, logged in or not
    what: str


ROUTES: Final[tuple[RouteRule, ...]] = (
    RouteRule("GET", "/login", None, "the login form"),
    RouteRule("POST", "/login", None, "log in"),
    RouteRule("POST", "/logout", Role.TECHNICIAN, "log out"),
    RouteRule("GET", "/", Role.TECHNICIAN, "the board: jobs by state, held ones first"),
    RouteRule("GET", "/board/table", Role.TECHNICIAN, "the board's table (live updates)"),
    RouteRule("GET", "/events", Role.TECHNICIAN, "server-sent events: the journal moved"),
    RouteRule("GET", "/printers", Role.TECHNICIAN, "each queue's CUPS state, labd's jobs there"),
    RouteRule("GET", "/jobs/{job_id:int}", Role.TECHNICIAN, "a job: files, outputs, history"),
    RouteRule("POST", "/jobs/{job_id:int}/retry", Role.TECHNICIAN, "retry a HELD job"),
    RouteRule("POST", "/jobs/{job_id:int}/cancel", Role.TECHNICIAN, "cancel a job"),
    RouteRule("POST", "/jobs/{job_id:int}/reprint", Role.TECHNICIAN, "print a job again"),
    RouteRule("POST", "/jobs/{job_id:int}/close", Role.TECHNICIAN, "close a QUARANTINED job"),
    RouteRule("POST", "/jobs/{job_id:int}/resolve", Role.SUPERVISOR, "decide an UNCERTAIN job"),
    RouteRule("GET", "/journal", Role.SUPERVISOR, "the journal's events, filtered, in pages"),
    RouteRule("GET", "/journal/verify", Role.SUPERVISOR, "walk the chain; the head to copy"),
    RouteRule("GET", "/users", Role.ADMIN, "the accounts (changed with labd user)"),
)


def allowed(rule: RouteRule, role: Role | None) -> bool:
    """Whether ``role`` (None: no session) may use the route of ``rule``."""
    if rule.lowest is None:
        return True
    return role is not None and role.rank >= rule.lowest.rank
