"""How fast labd's journal takes writes on each store, with 1, 2 and 4 writers at once.

    .venv/bin/python bench/journal.py [--store sqlite,postgres] [--writers 1,2,4]
        [--seconds 2] [--rounds 3] [--url URL] [--fsync on|off] [--verbose]

Every append to the one hash chain reads the chain's head and writes the next event under
the store's write lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock), so several
print servers on one PostgreSQL journal take turns.  This measures what that costs.  Each
writer is a process with its own journal connection, as a labd node is.  For each store
and number of writers a round makes a fresh journal, in which the writers write as fast
as they can for --seconds four ways, one after the other:

- chained event: one event per transaction (``with journal.transaction() as tx:
  tx.event(...)``);
- bare insert, the alternative: the same row, in a table shaped like the events table, one
  INSERT per transaction on a second connection of the driver (tests/rawdb.py), with the
  same durability (synchronous=FULL; synchronous_commit on): no chain, no write lock;
- job life: the journal writes of one job as the daemon makes them (discover, claimed,
  converted, submit intent, submitted, the follow pass's CUPS state, printed, done): six
  commits, ten events, four synchronous and two relaxed as in the pipeline;
- bare job, its alternative: six bare inserts per job, four synchronous, two relaxed.

Afterwards every journal's chain is verified (``journal.verify()``) and must hold every
event the writers appended.  Rates are medians of --rounds interleaved rounds; latencies
are per operation (an event, a row, a whole job), over all rounds.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import multiprocessing.synchronize
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Final

from stores import STORES, add_store_options, journal_store  # puts tests/ on the path

from labd.clock import ManualClock
from labd.journal import Journal
from labd.journal.schema import MIGRATIONS
from labd.logging import configure as configure_logging
from labd.model import JobKind
from labd.schemas import open_journal
from labd.store import GENESIS, Schema, StoreLocation, chain
from tests.rawdb import RawDB


def _bare_table() -> tuple[str, ...]:
    """The events table and its indexes as labd's migrations make them, named bench_events
    and with ids of their own: the alternative writes the same rows, unchained."""
    statements = (s for migration in MIGRATIONS for s in migration)
    return tuple(
        re.sub(r"\bevents", "bench_events", s).replace(
            "seq INTEGER PRIMARY KEY", "seq INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        for s in statements
        if re.match(r"CREATE (TABLE events\b|INDEX \w+ ON events\()", s.strip())
    )


BARE: Final = Schema("bench_bare", (_bare_table(),))
BARE_INSERT: Final = (
    "INSERT INTO bench_events (ts, job_id, kind, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)"
)
# The daemon's commits of one job, in order: True where it waits for the flush.
JOB_COMMITS: Final = (True, True, True, True, False, False)

WORKLOADS: Final = ("chained event", "bare insert", "job life", "bare job")
ALTERNATIVE: Final = {"chained event": "bare insert", "job life": "bare job"}


@dataclass(frozen=True)
class Task:
    """What one writer process does."""

    location: StoreLocation
    workload: str
    writer: int
    seconds: float
    spool: Path


@dataclass(frozen=True)
class Outcome:
    """What one writer did: operations, events appended, each operation's seconds."""

    ops: int
    events: int
    latencies: list[float]
    start: float
    end: float


class Writer:
    """One writer's operations on its own connection(s) to the journal."""

    def __init__(self, journal: Journal, task: Task) -> None:
        self.journal = journal
        self.task = task
        self.raw = RawDB(journal) if task.workload.startswith("bare") else None
        self.durable_sql, self.relaxed_sql = (
            ("SET synchronous_commit = on", "SET synchronous_commit = off")
            if self.raw is not None and self.raw.postgres
            else ("PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL")
        )
        if self.raw is not None:
            self.raw.rows(self.durable_sql)
        self.last_job: int | None = None

    def operation(self) -> Callable[[int], None]:
        """The operation of the task's workload: called with its number."""
        return {
            "chained event": self.chained_event,
            "bare insert": self.bare_insert,
            "job life": self.job_life,
            "bare job": self.bare_job,
        }[self.task.workload]

    def events_per_operation(self) -> int:
        """How many events one operation appended (a job: counted on the last one)."""
        if self.task.workload == "chained event":
            return 1
        if self.task.workload == "job life" and self.last_job is not None:
            return len(self.journal.events(job_id=self.last_job))
        return 0

    def chained_event(self, n: int) -> None:
        with self.journal.transaction() as tx:
            tx.event("bench.appended", {"writer": self.task.writer, "n": n})

    def bare_insert(self, n: int, *, durable: bool = True) -> None:
        assert self.raw is not None
        if not durable:
            self.raw.rows(self.relaxed_sql)
        data = chain.canonical({"writer": self.task.writer, "n": n})
        self.raw.rows(
            BARE_INSERT, (self.journal.store.now(), None, "bench.appended", data, GENESIS, GENESIS)
        )
        if not durable:
            self.raw.rows(self.durable_sql)

    def job_life(self, n: int) -> None:
        """A job's journal writes, each as labd's pipeline and follow pass commit it."""
        journal = self.journal
        job = journal.discover(
            hotfolder="h",
            kind=JobKind.FILE,
            entry=f"photo-{self.task.writer}-{n}.jpg",
            technician="bench",
            source_inode=0,
            spool_root=self.task.spool,
        )
        journal.claimed(job.id, [("photo.jpg", 250_000)])
        with journal.batch():
            journal.converted(job.id, [("out/0001.jpg", 1)], "bench")
        journal.printing.submit_intent(job.id, 1)
        with journal.relaxed():
            journal.printing.submitted(job.id, 1, n + 1)
        with journal.relaxed(), journal.batch():
            journal.printing.cups_state(job.id, 1, "completed", impressions=1)
            journal.printed(job.id, outputs=1)
            journal.done(job.id)
        self.last_job = job.id

    def bare_job(self, n: int) -> None:
        for durable in JOB_COMMITS:
            self.bare_insert(n, durable=durable)

    def close(self) -> None:
        if self.raw is not None:
            self.raw.close()


def write(
    task: Task, barrier: multiprocessing.synchronize.Barrier, results: Queue[Outcome | str]
) -> None:
    """One writer process: open its connection, wait for the others, write until time's up.

    Puts its :class:`Outcome` on ``results``, or what went wrong.
    """
    try:
        journal = open_journal(task.location, migrate=False, node=f"bench-{task.writer}")
        writer = Writer(journal, task)
        operation = writer.operation()
    except BaseException:
        barrier.abort()  # the others and the bench stop waiting
        raise
    try:
        latencies: list[float] = []
        barrier.wait()
        start = now = time.monotonic()
        deadline = start + task.seconds
        while now < deadline:
            operation(len(latencies))
            done = time.monotonic()
            latencies.append(done - now)
            now = done
        events = writer.events_per_operation() * len(latencies)
        results.put(Outcome(len(latencies), events, latencies, start, now))
    except Exception as e:
        results.put(f"writer {task.writer}: {e!r}")
        raise
    finally:
        writer.close()
        journal.close()


def run(
    location: StoreLocation, workload: str, writers: int, seconds: float, spool: Path
) -> list[Outcome]:
    """``writers`` processes doing ``workload`` at once for ``seconds``."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each, as a node is
    barrier = ctx.Barrier(writers + 1)
    results: Queue[Outcome | str] = ctx.Queue()
    procs = [
        ctx.Process(target=write, args=(Task(location, workload, i, seconds, spool), barrier,
                                         results))
        for i in range(writers)
    ]  # fmt: skip
    for p in procs:
        p.start()
    barrier.wait(timeout=120)  # every writer connected: none pays for another's start-up
    outcomes = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    failed = [o for o in outcomes if isinstance(o, str)]
    if failed:
        raise RuntimeError(f"{workload} failed: {'; '.join(failed)}")
    return [o for o in outcomes if isinstance(o, Outcome)]


@dataclass
class Figures:
    """One (store, writers, workload)'s measures over the rounds."""

    rates: list[float] = field(default_factory=list)  # operations a second, a round each
    event_rates: list[float] = field(default_factory=list)  # events a second, a round each
    latencies: list[float] = field(default_factory=list)  # seconds, every operation's

    def add(self, outcomes: list[Outcome]) -> int:
        """Add one run's writers' figures; return the events they appended."""
        took = max(o.end for o in outcomes) - min(o.start for o in outcomes)
        events = sum(o.events for o in outcomes)
        self.rates.append(sum(o.ops for o in outcomes) / took)
        self.event_rates.append(events / took)
        self.latencies.extend(t for o in outcomes for t in o.latencies)
        return events

    def percentile(self, p: int) -> float:
        """The ``p``th percentile latency in milliseconds."""
        return 1000 * statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


def new_journal(location: StoreLocation) -> None:
    """Create the journal at ``location``, with the alternative's table beside it."""
    clock = ManualClock(datetime.now(UTC))
    with open_journal(location, clock) as journal:
        journal.ensure_schema(BARE)


def verified(location: StoreLocation, appended: int) -> int:
    """Verify the chain at ``location`` holds exactly ``appended`` events, and whole."""
    with open_journal(location, migrate=False) as journal:
        check = journal.verify()
    if check.problem is not None or check.events != appended:
        raise SystemExit(
            f"the chain at {location} is not whole: {check.events} events of {appended} "
            f"appended; event {check.first_bad}: {check.problem}"
        )
    return check.events


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--store", default=",".join(STORES), help="stores, comma-separated")
    parser.add_argument("--writers", default="1,2,4", help="writer processes, comma-separated")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long each run writes")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians count")
    add_store_options(parser)
    parser.add_argument("--verbose", action="store_true", help="show labd's log on stderr")
    args = parser.parse_args()
    configure_logging(level="DEBUG" if args.verbose else "WARNING", stream=sys.stderr)
    kinds = [k for k in args.store.split(",") if k]
    if unknown := set(kinds) - set(STORES):
        parser.error(f"no such store: {', '.join(sorted(unknown))} (stores: {', '.join(STORES)})")
    counts = [int(w) for w in args.writers.split(",") if w]
    figures: dict[tuple[str, int, str], Figures] = {}
    chains: dict[str, list[int]] = {k: [] for k in kinds}
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="labd-bench-journal-")))
        stores = [
            stack.enter_context(journal_store(k, url=args.url, fsync=args.fsync == "on"))
            for k in kinds
        ]
        # Rounds interleave stores, writer counts and workloads, so a load that comes and
        # goes on the machine falls on all of them alike; each round starts elsewhere.
        runs = itertools.count(1)
        for r in range(args.rounds):
            order = WORKLOADS[r % len(WORKLOADS) :] + WORKLOADS[: r % len(WORKLOADS)]
            for writers in counts:
                for store in stores:
                    location = store.location(root / f"{store.kind}-{next(runs)}")
                    new_journal(location)
                    appended = 0
                    for workload in order:
                        outcomes = run(location, workload, writers, args.seconds, root / "spool")
                        cell = figures.setdefault((store.kind, writers, workload), Figures())
                        appended += cell.add(outcomes)
                    chains[store.kind].append(verified(location, appended))
        settings = {s.kind: s.settings for s in stores}
    report(figures, chains, settings, args)
    return 0


def report(
    figures: dict[tuple[str, int, str], Figures],
    chains: dict[str, list[int]],
    settings: dict[str, str],
    args: argparse.Namespace,
) -> None:
    """The table: rate, latency and the ratio against the alternative, per store and writers."""
    print(
        f"journal writes: {args.seconds:g} s a run, {args.rounds} interleaved rounds (median "
        "rates), writers are processes with a connection each"
    )
    for kind, text in settings.items():
        print(f"  {kind:8}  {text}")
    print(
        f"\n{'store':8} {'writers':>7}  {'workload':14} {'ops/s':>8} {'events/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7}  vs alternative"
    )
    for (kind, writers, workload), cell in figures.items():
        rate = statistics.median(cell.rates)
        events = statistics.median(cell.event_rates)
        shown = f"{events:9.0f}" if events else f"{'-':>9}"
        versus = ""
        if workload in ALTERNATIVE:
            # Within a round both ran on the same journal, minutes apart at most: the
            # median of the rounds' ratios is fairer than the ratio of the medians.
            other = figures[kind, writers, ALTERNATIVE[workload]].rates
            ratios = [mine / theirs for mine, theirs in zip(cell.rates, other, strict=True)]
            spread = ", ".join(f"{x:.2f}" for x in ratios)
            versus = f"{statistics.median(ratios):.2f} of {ALTERNATIVE[workload]} ({spread})"
        print(
            f"{kind:8} {writers:7}  {workload:14} {rate:8.0f} {shown} "
            f"{cell.percentile(50):7.2f} {cell.percentile(99):7.2f}  {versus}"
        )
    print("\nops: an event, a row, a job (six commits); latency per op, over every round")
    for kind, counted in chains.items():
        print(
            f"chain verified: {kind}: {len(counted)} journal(s), {sum(counted)} events, each "
            "whole and holding every event appended"
        )


if __name__ == "__main__":
    sys.exit(main())
