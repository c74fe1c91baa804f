"""How fast labd hands jobs to CUPS and follows them to completion, against `lp` and pycups.

    .venv/bin/python bench/print.py [--jobs 200] [--rounds 3] [--verbose]
        [--store sqlite|postgres] [--url URL] [--fsync on|off]

On a private CUPS (EmbeddedPrintServer) with file:///dev/null queues, the same small JPEG
is printed JOBS times three ways, each to a queue of its own and timed until CUPS reports
every job completed:

- labd: the pipeline's submit (journaled intent and result, synchronous=FULL) and follow
  passes until every job is DONE in the journal (conversion is not timed);
- lp: `lp` run once per file, as a shell script would;
- limit: pycups printFile in a tight loop, no journal, no following.

labd's journal is the SQLite file, or with --store postgres a PostgreSQL database: a server
the bench starts (fsync on unless --fsync off) or the one --url names (see bench/stores.py).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import benchargs
import cups
from PIL import Image
from stores import STORES, add_store_options, journal_store

from labd.clock import ManualClock
from labd.config import parse
from labd.demo.embedded import EmbeddedPrintServer
from labd.model import JobKind, JobState
from labd.pipeline import Pipeline
from labd.printing import CupsClient
from labd.schemas import open_journal
from labd.store import StoreLocation


def wait_completed(conn: cups.Connection, ids: list[int]) -> None:
    """Poll CUPS until every job in ``ids`` is completed (job-state 9)."""
    left = set(ids)
    while left:
        jobs = conn.getJobs(which_jobs="all", requested_attributes=["job-id", "job-state"])
        left = {i for i in left if jobs.get(i, {}).get("job-state") != 9}
        if left:
            time.sleep(0.01)


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_labd(
    root: Path,
    server: EmbeddedPrintServer,
    queue: str,
    photo: Path,
    n: int,
    *,
    journal_at: StoreLocation,  # the SQLite file in root/state, or a PostgreSQL schema
) -> float:
    config = parse(
        {
            "labd": {
                "state_dir": str(root / "state"),
                "spool_dir": str(root / "spool"),
                "quarantine_dir": str(root / "q"),
                "hotfolder_root": str(root / "hot"),
            },
            "cups": {"server": server.server},
            "printers": {"p": {"queue": queue}},
            "products": {"x": {"format": "jpeg", "size": "6x4 in"}},
            "hotfolders": {"h": {"product": "x", "printer": "p"}},
        },
        str(root / "labd.toml"),
    )
    clock = ManualClock(datetime.now(UTC))
    journal = open_journal(journal_at, clock)
    pipeline = Pipeline(
        config=config,
        journal=journal,
        cups=CupsClient(server.server),
        clock=clock,
        stop=threading.Event(),
    )
    ids = []
    for _ in range(n):  # converted jobs, as the conversion step leaves them (not timed)
        job = journal.discover(
            hotfolder="h",
            kind=JobKind.FILE,
            entry="photo.jpg",
            technician="bench",
            source_inode=0,
            spool_root=config.spool_dir,
        )
        out = Path(job.spool) / "out"
        out.mkdir(parents=True)
        (out / "0001.jpg").write_bytes(photo.read_bytes())
        journal.claimed(job.id, [("photo.jpg", photo.stat().st_size)])
        journal.converted(job.id, [("out/0001.jpg", 1)], queue)
        ids.append(job.id)

    def run() -> None:
        for job_id in ids:
            pipeline.process(job_id)
        while journal.counts().get(JobState.DONE, 0) < n:
            pipeline.follow()

    seconds = timed(run)
    journal.close()
    return seconds


def main() -> int:
    parser = benchargs.parser(__doc__)
    parser.add_argument("--jobs", type=int, default=200, help="jobs printed each way a round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians count")
    parser.add_argument("--store", choices=STORES, default="sqlite", help="labd's journal")
    add_store_options(parser)
    # labd's pipeline logs every submit and state change: thousands of lines a run.
    args = benchargs.parse(parser)
    n, rounds = args.jobs, args.rounds
    root = Path(tempfile.mkdtemp(prefix="labd-bench-"))
    root.chmod(0o755)  # CUPS runs filters and backends as user lp
    photo = root / "photo.jpg"
    Image.new("RGB", (600, 400), (200, 120, 40)).save(photo, quality=85)
    results: dict[str, list[float]] = {"labd": [], "lp": [], "pycups loop (limit)": []}
    with (
        EmbeddedPrintServer(root / "cups-root").start(()) as server,
        journal_store(args.store, url=args.url, fsync=args.fsync == "on") as store,
    ):
        conn = cups.Connection(host=server.server)
        # A warm-up, not counted: the first jobs into an empty CUPS history run faster
        # than any later ones, whichever way comes first.
        server.add_raw_queue("bench-warm-up")
        wait_completed(
            conn, [conn.printFile("bench-warm-up", str(photo), f"w-{i}", {}) for i in range(n)]
        )
        # Rounds interleave the three ways, so a load that comes and goes on the machine
        # falls on all of them alike; the medians are reported.
        for r in range(rounds):
            for q in ("labd", "lp", "limit"):
                server.add_raw_queue(f"bench-{q}-{r}")

            def run_lp(queue: str = f"bench-lp-{r}") -> None:
                ids = []
                for i in range(n):
                    out = subprocess.run(
                        ["lp", "-h", server.server, "-d", queue, "-t", f"lp-{i}", str(photo)],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout  # "request id is bench-lp-0-12 (1 file(s))"
                    ids.append(int(out.split()[3].rsplit("-", 1)[1]))
                wait_completed(conn, ids)

            def run_limit(queue: str = f"bench-limit-{r}") -> None:
                ids = [conn.printFile(queue, str(photo), f"limit-{i}", {}) for i in range(n)]
                wait_completed(conn, ids)

            runs: list[tuple[str, Callable[[], float]]] = [
                ("pycups loop (limit)", lambda: timed(run_limit)),
                ("lp", lambda: timed(run_lp)),
                ("labd", lambda r=r: bench_labd(  # type: ignore[misc]  # bound per round
                    root / f"labd-{r}", server, f"bench-labd-{r}", photo, n,
                    journal_at=store.location(root / f"labd-{r}" / "state"))),
            ]  # fmt: skip
            # Each round starts with another of the three: CUPS slows as its job history
            # grows, and the one that runs last in every round would pay for it.
            for name, run in runs[r % 3 :] + runs[: r % 3]:
                results[name].append(n / run())
    rates = {name: statistics.median(values) for name, values in results.items()}
    print(f"{n} jobs each, {rounds} interleaved rounds, file:///dev/null queues, private cupsd")
    print(f"  labd's journal: {store.settings}")
    for name, rate in rates.items():
        spread = ", ".join(f"{v:.0f}" for v in results[name])
        print(f"  {name:20} {rate:8.1f} jobs/s (median; rounds: {spread})")
    print(f"  labd / lp     = {rates['labd'] / rates['lp']:.2f}")
    print(f"  labd / limit  = {rates['labd'] / rates['pycups loop (limit)']:.2f}")
    # Within a round the three ran back to back, under the same load: the fairest ratio.
    per_round = [
        labd / limit
        for labd, limit in zip(results["labd"], results["pycups loop (limit)"], strict=True)
    ]
    spread = ", ".join(f"{r:.2f}" for r in per_round)
    print(f"  labd / limit per round: median {statistics.median(per_round):.2f} ({spread})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
