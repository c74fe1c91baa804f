"""labd's metrics as Prometheus reads them: a registry of labd's own and its two collectors.

:class:`JournalCollector` reads the journal when it is scraped, at most every
:data:`CACHE_SECONDS` (several scrapers, or one scraping every second, cost one read):
jobs by state, held jobs and how long the oldest has waited, the journal's size, and the
counts and latencies of :class:`~labd.metrics.tally.JournalTally`.  :class:`LoopsCollector`
reads what only the running daemon knows: each loop's heartbeat and whether intake is held.

Labels name only the lab's own things: hot folders, products, printers, states, rules,
loops.  Never a file or folder name, an order reference or a reason (reasons name files),
and no technician: those are people, staff rather than customers, but a count of prints
per person in a monitoring system is a measure of their work, which is for ``labd
report`` (a supervisor asks it for a day), not for a dashboard kept for months.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector

from labd.alerts.outbox import Outbox
from labd.clock import Clock, epoch
from labd.config import Config
from labd.errors import LabdError
from labd.journal import Journal
from labd.metrics.tally import JournalTally, Latencies
from labd.model import JobState

__all__ = ["CACHE_SECONDS", "JournalCollector", "Live", "LoopsCollector", "make_registry"]

log = structlog.get_logger(__name__)

# A scrape within this many seconds of the last journal read is answered from that read.
CACHE_SECONDS: Final = 2.0


class JournalCollector:
    """The journal's figures, read on a scrape (at most every :data:`CACHE_SECONDS`)."""

    def __init__(
        self,
        journal: Journal,
        *,
        config: Callable[[], Config],
        clock: Clock,
        after: int,
    ) -> None:
        """Counts start after sequence number ``after`` (the journal's end when labd
        started); ``config`` gives the configuration in force."""
        self.journal = journal
        self.config = config
        self.clock = clock
        self.tally = JournalTally(journal, after)
        self._lock = threading.Lock()  # scrapes come in threads of their own
        self._families: list[Metric] | None = None
        self._read_at = -math.inf

    def collect(self) -> Iterator[Metric]:
        """The journal's families, read anew when the last read is older than the cache."""
        with self._lock:
            now = self.clock.monotonic()
            if self._families is None or now - self._read_at >= CACHE_SECONDS:
                try:
                    self._families = self._read()
                    self._read_at = now
                except LabdError as e:
                    # The journal locked or its disk in trouble: the daemon says so itself
                    # (labd status, its log); the scrape gets the last figures read, if any.
                    log.warning("metrics.journal_unreadable", problem=e.get_message())
            families = list(self._families or ())
        yield from families

    def _read(self) -> list[Metric]:
        self.tally.read(self.config())
        return [*self._gauges(), *self._counters(), *self._histograms()]

    def _gauges(self) -> Iterator[Metric]:
        counts = self.journal.counts()
        jobs = GaugeMetricFamily("labd_jobs", "Jobs in the journal, by state", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], counts.get(state, 0))
        yield jobs
        held: dict[str, list[float]] = {}
        now = self.clock.now().timestamp()
        for job in self.journal.jobs([JobState.HELD]):
            held.setdefault(job.rule or "unknown", []).append(now - epoch(job.updated_at))
        count = GaugeMetricFamily(
            "labd_held_jobs",
            "Jobs held for a technician, by the rule that held them",
            labels=["rule"],
        )
        oldest = GaugeMetricFamily(
            "labd_oldest_held_job_age_seconds",
            "How long the longest-held job has been held, by rule",
            labels=["rule"],
        )
        for rule, ages in sorted(held.items()):
            count.add_metric([rule], len(ages))
            oldest.add_metric([rule], max(0.0, *ages))
        yield count
        yield oldest
        size = GaugeMetricFamily(
            "labd_journal_size_bytes", "The journal: its SQLite file and log, or its database"
        )
        size.add_metric([], self.journal.store.size_bytes())
        yield size
        outbox = GaugeMetricFamily(
            "labd_alert_outbox", "Alert messages waiting to be sent (mail, webhook)"
        )
        outbox.add_metric([], Outbox(self.journal).length())
        yield outbox

    def _counters(self) -> Iterator[Metric]:
        tally = self.tally
        for name, help_text, labels, values in (
            (
                "labd_prints",
                "Prints made (copies of each output), by product and printer",
                ["product", "printer"],
                tally.prints,
            ),
            (
                "labd_printed_jobs",
                "Jobs printed, by product and printer",
                ["product", "printer"],
                tally.printed_jobs,
            ),
            (
                "labd_intake_events",
                "Entries of hot folders claimed, withdrawn or quarantined, by hot folder",
                ["hotfolder", "event"],
                tally.intake,
            ),
        ):
            family = CounterMetricFamily(name, help_text, labels=labels)
            for key, n in sorted(values.items()):
                family.add_metric(list(key), n)
            yield family

    def _histograms(self) -> Iterator[Metric]:
        for name, help_text, label, histograms in (
            (
                "labd_conversion_latency_seconds",
                "From a job's claim to its print-ready outputs, by product",
                "product",
                self.tally.conversion,
            ),
            (
                "labd_print_latency_seconds",
                "From a job's submission to CUPS to its last output printed, by printer",
                "printer",
                self.tally.printing,
            ),
        ):
            family = HistogramMetricFamily(name, help_text, labels=[label])
            for value, latencies in sorted(histograms.items()):
                family.add_metric([value], _buckets(latencies), latencies.total)
            yield family


@dataclass(frozen=True)
class Live:
    """What only the running daemon knows, asked at each scrape."""

    beat_ages: Callable[[], Mapping[str, float]]  # loop -> seconds since its last heartbeat
    intake_held: Callable[[], str | None]  # why no job is taken now, or None


class LoopsCollector:
    """The daemon's loops: each one's heartbeat age, and whether intake is held."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        """Read at every scrape: the daemon's own memory, no I/O."""
        beats = GaugeMetricFamily(
            "labd_loop_heartbeat_age_seconds",
            "Seconds since each loop last made progress (stall_seconds restarts labd)",
            labels=["loop"],
        )
        for loop, age in sorted(self.live.beat_ages().items()):
            beats.add_metric([loop], age)
        yield beats
        held = GaugeMetricFamily(
            "labd_intake_held", "1 while labd takes no new jobs (disk full, journal locked)"
        )
        held.add_metric([], 0 if self.live.intake_held() is None else 1)
        yield held


def make_registry(journal: JournalCollector, live: Live) -> CollectorRegistry:
    """labd's own registry (never prometheus_client's global one): these collectors, and
    the process's CPU, memory, open files and start time (``process_*``)."""
    registry = CollectorRegistry(auto_describe=False)  # a collector is read on a scrape only
    registry.register(journal)
    registry.register(LoopsCollector(live))
    ProcessCollector(registry=registry)
    return registry


def _buckets(latencies: Latencies) -> list[tuple[str, float]]:
    """Bounds written as prometheus_client writes its own: ``1.0``, ``2.5``, ``+Inf``."""
    return [
        ("+Inf" if math.isinf(bound) else repr(float(bound)), float(n))
        for bound, n in latencies.cumulative()
    ]
