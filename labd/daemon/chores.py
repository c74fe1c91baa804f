"""The main thread's chores between its status lines: this node's heartbeat in the
journal, customer media that became ready, and media overdue in the log.

Each runs inside the main loop's failure boundary (``Loops.guarded``): a journal that
cannot be written now skips a chore for this tick, never the status line or the
watchdog's ping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import structlog

from labd import __version__
from labd.clock import Clock
from labd.config import Config
from labd.daemon.loops import Loops
from labd.journal import Journal
from labd.journal.nodes import beat
from labd.media.ledger import MediaLedger

log = structlog.get_logger(__name__)

# How often media still in the house past their deadline are logged again.
OVERDUE_LOG_SECONDS: Final = 3600.0


class Chores:
    """What the main loop does each tick, each at its own pace."""

    def __init__(
        self,
        journal: Journal,
        media: MediaLedger,
        *,
        loops: Loops,
        clock: Clock,
        config: Callable[[], Config],
    ) -> None:
        self.journal = journal
        self.media = media
        self.loops = loops
        self.clock = clock
        self.config = config  # the configuration in force (a reload changes hot folders)
        self.started_at = journal.store.now()
        self._next_beat = self._next_overdue = clock.monotonic()

    def run(self) -> None:
        """The chores that are due now."""
        now = self.clock.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + self.config().journal.node_down_seconds / 4
            self.loops.guarded("main", self.heartbeat)
        # Customer media whose orders are all done are ready to go back (or to the
        # shredder); the ledger says which.
        self.loops.guarded("main", self.media.ready_for_done_jobs)
        if now >= self._next_overdue:
            self._next_overdue = now + OVERDUE_LOG_SECONDS
            self.loops.guarded("main", self.log_overdue)

    def heartbeat(self) -> None:
        """This node is alive (``labd nodes``; shown as down when it stops beating)."""
        config = self.config()
        beat(
            self.journal.store,
            config.journal.node,
            version=__version__,
            hotfolders=sorted(config.hotfolders),
            started_at=self.started_at,
        )

    def log_overdue(self) -> None:
        """Customer media still in the house past their deadline: logged until resolved."""
        for item in self.media.overdue():
            log.warning(
                "media.overdue",
                item=item.id,
                kind=item.kind.value,
                disposition=item.disposition.value,
                ready_since=item.ready_at,
                jobs=list(item.jobs),
            )
