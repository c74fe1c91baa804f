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
    RouteRule(
        "GET", "/jobs/{job_id:int}/preview.jpg", Role.TECHNICIAN, "an output's preview (journaled)"
    ),
    RouteRule("POST", "/jobs/{job_id:int}/retry", Role.TECHNICIAN, "retry a HELD job"),
    RouteRule("POST", "/jobs/{job_id:int}/cancel", Role.TECHNICIAN, "cancel a job"),
    RouteRule("POST", "/jobs/{job_id:int}/reprint", Role.TECHNICIAN, "print a job again"),
    RouteRule("POST", "/jobs/{job_id:int}/close", Role.TECHNICIAN, "close a QUARANTINED job"),
    RouteRule("POST", "/jobs/{job_id:int}/resolve", Role.SUPERVISOR, "decide an UNCERTAIN job"),
    RouteRule("GET", "/journal", Role.SUPERVISOR, "the journal's events, filtered, in pages"),
    RouteRule("GET", "/journal/verify", Role.SUPERVISOR, "walk the chain; the head to copy"),
    RouteRule("GET", "/users", Role.ADMIN, "the accounts (changed with labd user)"),
    # The JSON API (labd.web.api): a token's role (labd token), never a session's.
    RouteRule("GET", "/api/v1/openapi.json", None, "the API's OpenAPI document"),
    RouteRule("GET", "/api/v1/health", Role.TECHNICIAN, "the daemon and journal's health"),
    RouteRule("GET", "/api/v1/jobs", Role.TECHNICIAN, "jobs, filtered, in pages"),
    RouteRule("GET", "/api/v1/jobs/{job_id}", Role.TECHNICIAN, "a job: files, outputs, history"),
    RouteRule("GET", "/api/v1/orders/{order_ref}", Role.SUPERVISOR, "an order's jobs"),
    RouteRule("GET", "/api/v1/printers", Role.TECHNICIAN, "each queue's CUPS state"),
    # The lab's physical duties (labd.web.duties).
    RouteRule("GET", "/quarantine", Role.TECHNICIAN, "open quarantined jobs, what to do"),
    RouteRule("GET", "/media", Role.TECHNICIAN, "customer media outstanding and overdue"),
    RouteRule("POST", "/media/register", Role.TECHNICIAN, "receive a carrier with its order"),
    RouteRule("POST", "/media/link", Role.TECHNICIAN, "link a carrier to its order or job"),
    RouteRule("POST", "/media/ready", Role.TECHNICIAN, "a carrier's order is done"),
    RouteRule("POST", "/media/return", Role.TECHNICIAN, "a carrier handed back"),
    RouteRule("POST", "/media/destroy", Role.TECHNICIAN, "a carrier destroyed"),
    RouteRule("GET", "/waste", Role.TECHNICIAN, "secure-waste containers, possible duplicates"),
    RouteRule("POST", "/waste/containers/open", Role.TECHNICIAN, "put a container into service"),
    RouteRule("POST", "/waste/containers/seal", Role.TECHNICIAN, "seal a container"),
    RouteRule("POST", "/waste/containers/collect", Role.TECHNICIAN, "a container collected"),
    RouteRule("POST", "/waste/containers/certify", Role.TECHNICIAN, "a container certified"),
    RouteRule("GET", "/waste/misprint", Role.TECHNICIAN, "the tablet's misprint form"),
    RouteRule("POST", "/waste/misprint", Role.TECHNICIAN, "record a misprint, print it again"),
    RouteRule("POST", "/waste/duplicates/confirm", Role.TECHNICIAN, "an extra print found"),
    RouteRule("POST", "/waste/duplicates/dismiss", Role.TECHNICIAN, "no extra print came out"),
    RouteRule("GET", "/retention", Role.SUPERVISOR, "deletions due, legal holds, erasure"),
    RouteRule("POST", "/retention/holds/place", Role.SUPERVISOR, "place a legal hold"),
    RouteRule("POST", "/retention/holds/release", Role.SUPERVISOR, "release a legal hold"),
    RouteRule("POST", "/retention/erase/preview", Role.SUPERVISOR, "what an erasure would delete"),
    RouteRule("POST", "/retention/erase", Role.SUPERVISOR, "erase an order or a job"),
    # Reports and the Art. 30 record (labd.web.reports): they name technicians.
    RouteRule("GET", "/reports", Role.SUPERVISOR, "a day or a week in figures and charts"),
    RouteRule("GET", "/reports.csv", Role.SUPERVISOR, "the report, or one table, as CSV"),
    RouteRule("GET", "/records", Role.SUPERVISOR, "the GDPR Art. 30 record of processing"),
)


def allowed(rule: RouteRule, role: Role | None) -> bool:
    """Whether ``role`` (None: no session) may use the route of ``rule``."""
    if rule.lowest is None:
        return True
    return role is not None and role.rank >= rule.lowest.rank
