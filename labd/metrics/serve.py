"""The metrics endpoint: labd's registry over HTTP at ``[metrics] listen``, while labd runs.

Its own port, in threads of its own (there is no web console yet to share a server with).
An endpoint that cannot start (the port taken, an address the server does not have, the
systemd unit's address families) is logged as ``metrics.unavailable`` and labd runs on
without it: monitoring is no reason to stop printing.  A reload that changes ``listen``
moves the endpoint; one that keeps it tries again where it could not start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import CollectorRegistry, start_http_server

from labd.clock import Clock
from labd.config import Config, MetricsSettings
from labd.errors import LabdError
from labd.journal import Journal
from labd.metrics.collect import JournalCollector, Live, make_registry
from labd.schemas import open_journal
from labd.store import StoreLocation

__all__ = ["Endpoint", "Metrics"]

log = structlog.get_logger(__name__)


@dataclass
class Endpoint:
    """A registry served over HTTP at one address."""

    server: WSGIServer
    thread: threading.Thread
    url: str

    @classmethod
    def start(cls, registry: CollectorRegistry, settings: MetricsSettings) -> Endpoint | None:
        """Serve ``registry`` where ``settings`` say; None (logged) when it cannot be."""
        if settings.listen is None or settings.url is None:
            return None
        host, port = settings.listen
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except OSError as e:
            log.warning(
                "metrics.unavailable",
                listen=settings.url,
                problem=e.strerror or str(e),
                hint="another program has the port, or the address is not this server's "
                "(under systemd: the unit's drop-in, README 'Monitoring'); labd runs on "
                "without metrics: fix [metrics] listen and reload",
            )
            return None
        thread.name = "labd-metrics"
        log.info("metrics.listening", url=settings.url)
        return cls(server, thread, settings.url)

    def stop(self) -> None:
        """Stop serving and release the port; a scrape under way finishes in its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Metrics:
    """labd's metrics while it runs: the registry, its own read connection to the journal,
    and the endpoint, started, moved and stopped as ``[metrics]`` says."""

    def __init__(
        self,
        journal_at: StoreLocation,
        clock: Clock,
        *,
        config: Callable[[], Config],
        live: Live,
        scope: str | None = None,
    ) -> None:
        """``config`` gives the configuration in force (products and printers are named by
        it); ``live`` what only the daemon knows; ``scope``: the node whose jobs count (in
        a journal several servers share), None for every job."""
        self.journal_at = journal_at
        self.scope = scope
        self.clock = clock
        self.config = config
        self.live = live
        self.endpoint: Endpoint | None = None
        self._settings = MetricsSettings()
        self._journal: Journal | None = None
        self._registry: CollectorRegistry | None = None

    def apply(self, settings: MetricsSettings) -> None:
        """Serve as ``settings`` say: start, move or stop the endpoint; try again where it
        could not start.  Never raises for a port or a journal it cannot have: logged."""
        if settings == self._settings and (self.endpoint is not None or settings.listen is None):
            return
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None
        self._settings = settings
        if settings.listen is None:
            self.close()
            return
        registry = self._registry or self._make_registry(settings)
        if registry is not None:
            self.endpoint = Endpoint.start(registry, settings)

    def _make_registry(self, settings: MetricsSettings) -> CollectorRegistry | None:
        """The registry on a read connection of its own: a scrape never waits for the
        daemon's writes, nor they for it (WAL).  Counting starts at the journal's end."""
        journal: Journal | None = None
        try:
            journal = open_journal(self.journal_at, self.clock, create=False, migrate=False)
            journal.scope = self.scope
            after = journal.last_seq()
        except LabdError as e:
            if journal is not None:
                journal.close()
            log.warning("metrics.unavailable", listen=settings.url, problem=e.get_message())
            return None
        self._journal = journal
        collector = JournalCollector(journal, config=self.config, clock=self.clock, after=after)
        self._registry = make_registry(collector, self.live)
        return self._registry

    def close(self) -> None:
        """Stop the endpoint and close the journal connection (labd stops)."""
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._registry = None
