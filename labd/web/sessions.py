"""The console's sessions, their CSRF tokens, and the throttle of an address that guesses.

Sessions are kept on the server, in the console's memory: the browser holds only a random
token (256 bits) in an HttpOnly, SameSite=Strict cookie, so nothing in the cookie can be
forged or replayed after a logout, and a restart of ``labd web`` ends every session
(people log in again; nothing of the lab's work is lost).  A session ends after
``[web] session_idle_minutes`` without a request a person made; the board's live updates
do not count as one.  Each session has its own CSRF token, which every form carries and
every POST must send back.

Time comes from the injected clock (:mod:`labd.clock`): the tests make the idle timeout
and the throttle's window pass without sleeping.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from labd.clock import Clock
from labd.web.accounts import Role

__all__ = ["ADDRESS_FAILURES", "ADDRESS_WINDOW_SECONDS", "AddressThrottle", "Session", "Sessions"]

# Failed logins from one address within the window that make it wait for the window's end.
ADDRESS_FAILURES: Final = 20
ADDRESS_WINDOW_SECONDS: Final = 600.0


def new_token() -> str:
    """A random token for a cookie or a form: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str) -> bool:
    """Whether a token sent back is the one handed out (in constant time)."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


@dataclass
class Session:
    """One logged-in browser."""

    token: str
    user: str
    role: Role
    csrf: str
    last_seen: float  # the clock's monotonic seconds of the last request a person made
    notes: list[str] = field(default_factory=list)  # said once on the next page ("job 3: ...")


class Sessions:
    """The sessions of one console process.  Thread-safe."""

    def __init__(self, clock: Clock, idle_seconds: float) -> None:
        self.clock = clock
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, user: str, role: Role) -> Session:
        """A new session (a new token: never one a browser had before logging in)."""
        session = Session(new_token(), user, role, new_token(), self.clock.monotonic())
        with self._lock:
            self._expire()
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session of ``token``; ``touch``: a person's request, which keeps it alive."""
        if not token:
            return None
        now = self.clock.monotonic()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_seen >= self.idle_seconds:
                del self._sessions[token]
                return None
            if touch:
                session.last_seen = now
            return session

    def end(self, token: str | None) -> None:
        """Log out (nothing if there is no such session)."""
        with self._lock:
            self._sessions.pop(token or "", None)

    def end_user(self, user: str) -> None:
        """End every session of ``user`` (an account disabled, or gone)."""
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.user == user]:
                del self._sessions[token]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._sessions)

    def _expire(self) -> None:
        now = self.clock.monotonic()
        for token in [
            t for t, s in self._sessions.items() if now - s.last_seen >= self.idle_seconds
        ]:
            del self._sessions[token]


class AddressThrottle:
    """Failed logins per client address: past ``limit`` within ``window`` seconds, that
    address is refused until its oldest failure in the window has aged out.

    This is what stops one machine guessing many accounts' passwords; the lockout of one
    account (:mod:`labd.web.accounts`) stops many machines guessing one.
    """

    def __init__(
        self,
        clock: Clock,
        limit: int = ADDRESS_FAILURES,
        window: float = ADDRESS_WINDOW_SECONDS,
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        """Whether ``address`` must wait before it may try again."""
        with self._lock:
            return len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> bool:
        """Count a failure; True when this one made the address wait (journal it once)."""
        with self._lock:
            recent = self._recent(address)
            recent.append(self.clock.monotonic())
            self._failures[address] = recent
            return len(recent) == self.limit

    def _recent(self, address: str) -> deque[float]:
        now = self.clock.monotonic()
        recent = self._failures.get(address, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if not recent:
            self._failures.pop(address, None)
        return recent
