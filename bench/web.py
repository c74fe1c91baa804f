"""The console (`labd web`) at a lab's scale: its pages over a long journal, how soon a
change reaches an open board, and what a console watching costs labd's print rate.

    .venv/bin/python bench/web.py [--jobs 100000] [--requests 50] [--changes 20]
        [--print-jobs 200] [--rounds 3] [--boards 2] [--verbose]

1. A SQLite journal gets --jobs jobs (a year of a busy lab: nearly all DONE, some HELD,
   UNCERTAIN and QUARANTINED spread over it, the newest in progress), built a thousand
   jobs a transaction.  A real `labd web` process serves it; the board (`/`) and the
   journal page (`/journal`) are fetched --requests times each over HTTP as a logged-in
   browser fetches them: median and p95.  Beside them, the same data the way a technician
   gets it without the console: `labd jobs --format json --limit 100` and
   `labd journal --format json --limit 50`, each a process of its own.
2. A board's open `/events` stream: --changes state changes written to the journal (at a
   random moment of the stream's poll), the milliseconds from the write's commit to the
   event read by the client.
3. bench/print.py's labd measurement (--print-jobs jobs handed to a /dev/null queue of a
   private CUPS and followed to DONE), interleaved --rounds times alone and with a `labd
   web` on the same journal and --boards browsers watching its board (each: an open
   `/events` stream and a fetch of `/board/table` per event, as the board's script does).
   The ratio of the print rates is what the console costs.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchargs
from print import bench_labd  # bench/print.py: the print rate's measurement

from labd.clock import ManualClock  # after the path set-up above
from labd.config import load
from labd.demo.embedded import EmbeddedPrintServer
from labd.journal import Discovery, Journal
from labd.model import JobKind, JobState
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, write_config
from tests.webconsole import PASSWORD, ConsoleProcess, add_user, log_in, try_login

REPO = Path(__file__).resolve().parent.parent
BATCH = 1000  # jobs a transaction while the journal is built
HOTFOLDERS = ("prints", "posters")
TECHNICIANS = ("anna", "ola", "kari", "mikko")
IN_PROGRESS = 20  # the newest jobs, still printing
# A job in how many ends HELD, UNCERTAIN, QUARANTINED (the rest DONE).
EVERY = {JobState.HELD: 2000, JobState.UNCERTAIN: 10000, JobState.QUARANTINED: 2000}
_ROUTE = (JobState.CONVERTED, JobState.SUBMITTING, JobState.SUBMITTED)
_FATE_RULES = {
    JobState.HELD: ("print.printer_stopped", "the printer is stopped: paper out"),
    JobState.UNCERTAIN: ("print.history_lost", "CUPS' history cannot tell"),
    JobState.QUARANTINED: ("input.truncated", "IMG_0001.jpg is truncated"),
}


def _fate(i: int, n: int) -> JobState:
    if i >= n - IN_PROGRESS:
        return JobState.SUBMITTED
    if i % EVERY[JobState.UNCERTAIN] == 17:
        return JobState.UNCERTAIN
    if i % EVERY[JobState.HELD] == 7:
        return JobState.HELD
    if i % EVERY[JobState.QUARANTINED] == 1000:
        return JobState.QUARANTINED
    return JobState.DONE


def build_journal(journal: Journal, spool_root: Path, n: int) -> list[int]:
    """``n`` jobs through the life cycle, ``BATCH`` a transaction; the ids in progress."""
    in_progress = []
    with journal.relaxed():  # set up, not measured: no fsync per commit
        for start in range(0, n, BATCH):
            found = [
                Discovery(
                    HOTFOLDERS[i % len(HOTFOLDERS)],
                    JobKind.FILE,
                    f"IMG_{i:06}.jpg",
                    TECHNICIANS[i % len(TECHNICIANS)],
                    i,
                )
                for i in range(start, min(n, start + BATCH))
            ]
            jobs = journal.discover_many(found, spool_root)
            journal.claimed_many([(j.id, [(j.entry, 4_000_000)]) for j in jobs])
            with journal.transaction() as tx:
                for i, job in enumerate(jobs, start):
                    fate = _fate(i, n)
                    if fate is JobState.QUARANTINED:
                        rule, reason = _FATE_RULES[fate]
                        journal.move_in(tx, job.id, fate, rule=rule, reason=reason)
                        continue
                    for state in _ROUTE:
                        journal.move_in(tx, job.id, state)
                    if fate in _FATE_RULES:
                        rule, reason = _FATE_RULES[fate]
                        journal.move_in(tx, job.id, fate, rule=rule, reason=reason)
                    elif fate is JobState.DONE:
                        journal.move_in(tx, job.id, JobState.PRINTED)
                        journal.move_in(tx, job.id, JobState.DONE)
                    else:
                        in_progress.append(job.id)
    return in_progress


def timed_gets(client: httpx.Client, path: str, n: int, must: str) -> list[float]:
    """Milliseconds of ``n`` GETs of ``path`` (after one not counted), each checked."""
    client.get(path).raise_for_status()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        if must not in response.text:
            raise AssertionError(f"{path} lacks {must!r}: {response.text[:500]}")
    return times


def timed_commands(config: Path, args: list[str], n: int) -> list[float]:
    """Milliseconds of ``n`` runs of ``labd --config CONFIG ARGS`` (after one not counted)."""
    command = [sys.executable, "-m", "labd", "--config", str(config), *args]
    times = []
    for i in range(n + 1):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        if i:
            times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def event_latencies(
    client: httpx.Client, journal: Journal, job_id: int, changes: int
) -> list[float]:
    """Milliseconds from a state change's commit to its ``/events`` message, ``changes``
    times: the job held, then back to SUBMITTED, and so on."""
    latencies = []
    with client.stream("GET", "/events", timeout=30) as stream:
        lines = stream.iter_lines()
        next(line for line in lines if line.startswith("data: "))
        for k in range(changes):
            time.sleep(random.uniform(0, 0.3))  # any moment of the stream's poll  # noqa: S311
            if k % 2 == 0:
                journal.held(job_id, rule="print.printer_stopped", reason="bench")
            else:
                journal.resume(job_id, JobState.SUBMITTED)
            written, seq = time.perf_counter(), journal.last_seq()
            for line in lines:
                if line.startswith("data: ") and int(line.removeprefix("data: ")) >= seq:
                    break
            latencies.append((time.perf_counter() - written) * 1000)
    return latencies


# -- the print rate with and without a console -----------------------------------------------


def watch_board(url: str, ready: Synchronized[int], fetches: Synchronized[int]) -> None:
    """A browser with the board open, in a process of its own (a technician's tablet, not
    the print server's labd): an ``/events`` stream, and the board's table fetched on each
    message, as static/console.js does.  Runs until the console stops."""
    with contextlib.suppress(httpx.HTTPError), httpx.Client(base_url=url, timeout=30) as client:
        if try_login(client, "bench", PASSWORD).status_code != 303:
            raise AssertionError("the bench's board could not log in")
        with client.stream("GET", "/events", timeout=None) as stream:
            with ready.get_lock():
                ready.value += 1
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    client.get("/board/table").raise_for_status()
                    with fetches.get_lock():
                        fetches.value += 1


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def console_on(
    root: Path, server: EmbeddedPrintServer, queue: str, boards: int
) -> Iterator[list[float]]:
    """A `labd web` on the journal bench_labd will use in ``root``, watched by ``boards``
    browsers, for the ``with`` block; yields a list that then holds the console's CPU
    seconds in the block."""
    config = root / "labd.toml"
    config.write_text(
        f'[labd]\nstate_dir = "{root / "state"}"\nspool_dir = "{root / "spool"}"\n'
        f'quarantine_dir = "{root / "q"}"\nhotfolder_root = "{root / "hot"}"\n'
        f'[cups]\nserver = "{server.server}"\n[printers.p]\nqueue = "{queue}"\n'
        '[products.x]\nformat = "jpeg"\nsize = "6x4 in"\n'
        '[hotfolders.h]\nproduct = "x"\nprinter = "p"\n'
    )
    open_journal(root / "state" / "journal.sqlite").close()  # the console never creates it
    add_user(config, root, "bench", "technician")
    console = ConsoleProcess(config, root / "web.log").start()
    spawn = multiprocessing.get_context("spawn")
    ready, fetches = spawn.Value("i", 0), spawn.Value("i", 0)
    watchers = [
        spawn.Process(target=watch_board, args=(console.url, ready, fetches)) for _ in range(boards)
    ]
    for w in watchers:
        w.start()
    deadline = time.monotonic() + 60
    while ready.value < boards:  # every board open before labd prints
        if time.monotonic() > deadline:
            raise AssertionError(f"{boards - ready.value} boards did not open their stream")
        time.sleep(0.05)
    assert console.proc is not None
    cpu = [-cpu_seconds(console.proc.pid)]  # from here: what watching costs, not starting
    try:
        yield cpu
    finally:
        cpu[0] += cpu_seconds(console.proc.pid)
        console.stop()  # ends the streams
        for w in watchers:
            w.join(30)
    print(
        f"    (a round with the console: {boards} boards fetched the table {fetches.value} times)"
    )


def print_rates(
    base: Path, n: int, rounds: int, boards: int
) -> tuple[list[float], list[float], list[float]]:
    """Jobs/s of bench_labd alone and with a console watching, interleaved rounds; and the
    console's share of a core while labd printed."""
    photo = base / "photo.jpg"
    Image.new("RGB", (600, 400), (200, 120, 40)).save(photo, quality=85)
    alone: list[float] = []
    watched: list[float] = []
    console_cpu: list[float] = []
    with EmbeddedPrintServer(base / "cups-root").start(()) as server:
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for with_console in order:
                root = base / f"print-{r}-{'web' if with_console else 'alone'}"
                root.mkdir()
                queue = f"bench-{r}-{'web' if with_console else 'alone'}"
                server.add_raw_queue(queue)
                at = root / "state" / "journal.sqlite"
                if with_console:
                    with console_on(root, server, queue, boards) as cpu:
                        seconds = bench_labd(root, server, queue, photo, n, journal_at=at)
                    watched.append(n / seconds)
                    console_cpu.append(cpu[0] / seconds)
                else:
                    seconds = bench_labd(root, server, queue, photo, n, journal_at=at)
                    alone.append(n / seconds)
    return alone, watched, console_cpu


def main() -> int:
    parser = benchargs.parser(__doc__)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs in the journal")
    parser.add_argument("--requests", type=int, default=50, help="timed fetches of each page")
    parser.add_argument("--commands", type=int, default=5, help="timed runs of each command")
    parser.add_argument("--changes", type=int, default=20, help="state changes to the board")
    parser.add_argument("--print-jobs", type=int, default=200, help="jobs printed a round")
    parser.add_argument("--rounds", type=int, default=3, help="print rounds, each both ways")
    parser.add_argument("--boards", type=int, default=2, help="browsers watching the board")
    args = benchargs.parse(parser)
    # `labd user add` run here, and the consoles started, log as quietly as the bench.
    os.environ["LABD_LOG_LEVEL"] = "DEBUG" if args.verbose else "WARNING"
    base = Path(tempfile.mkdtemp(prefix="labd-bench-web-"))
    base.chmod(0o755)  # CUPS runs its backends as user lp
    try:
        return measure(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure(args: argparse.Namespace, base: Path) -> int:
    """Everything the docstring says, in ``base``; the figures printed."""
    text = GOOD_CONFIG + '\n[hotfolders.posters]\nproduct = "p10x15"\nprinter = "minilab"\n'
    config_path = write_config(base, text)
    config = load(config_path)
    journal = open_journal(config.journal_path, ManualClock())
    start = time.perf_counter()
    in_progress = build_journal(journal, config.spool_dir, args.jobs)
    built = time.perf_counter() - start
    size = sum(p.stat().st_size for p in config.state_dir.glob("journal.sqlite*")) >> 20
    print(
        f"journal: {args.jobs} jobs, {journal.last_seq()} events, {size} MiB "
        f"(built in {built:.0f} s)"
    )
    add_user(config_path, base, "supe", "supervisor")
    console = ConsoleProcess(config_path, base / "web.log").start()
    try:
        client = log_in(console, "supe")
        board = timed_gets(client, "/", args.requests, 'id="section-attention"')
        page = timed_gets(client, "/journal", args.requests, "data-seq=")
        jobs_cli = timed_commands(
            config_path, ["jobs", "--format", "json", "--limit", "100"], args.commands
        )
        journal_cli = timed_commands(
            config_path, ["journal", "--format", "json", "--limit", "50"], args.commands
        )
        latencies = event_latencies(client, journal, in_progress[0], args.changes)
        client.close()
    finally:
        console.stop()
    journal.close()
    n = args.requests
    rows = [
        ("board  GET /", board, "labd jobs --format json --limit 100", jobs_cli),
        ("journal GET /journal", page, "labd journal --format json --limit 50", journal_cli),
    ]
    for name, times, other, other_times in rows:
        median = statistics.median(times)
        print(
            f"  {name:22} median {median:6.1f} ms, p95 {p95(times):6.1f} ms ({n} requests)"
            f"   | {other}: median {statistics.median(other_times):6.0f} ms"
            f" -> console/command {median / statistics.median(other_times):.2f}"
        )
    print(
        f"  a change to an open /events stream: median {statistics.median(latencies):.0f} ms, "
        f"max {max(latencies):.0f} ms ({len(latencies)} changes)"
    )
    alone, watched, console_cpu = print_rates(base, args.print_jobs, args.rounds, args.boards)
    ratio = statistics.median(watched) / statistics.median(alone)
    # Within a round the two ran back to back, under the same load: the fairest ratio.
    per_round = [w / a for w, a in zip(watched, alone, strict=True)]
    print(
        f"print rate, {args.print_jobs} jobs a round, {args.rounds} rounds each way: "
        f"alone {statistics.median(alone):.1f} jobs/s "
        f"({', '.join(f'{v:.0f}' for v in alone)}), "
        f"with a console and {args.boards} boards {statistics.median(watched):.1f} jobs/s "
        f"({', '.join(f'{v:.0f}' for v in watched)})"
    )
    print(
        f"  with console / alone: {ratio:.3f} (medians); per round: median "
        f"{statistics.median(per_round):.3f} ({', '.join(f'{r:.2f}' for r in per_round)})"
    )
    print(
        f"  the console's own CPU while labd printed: {statistics.median(console_cpu) * 100:.1f} %"
        f" of a core (median; {', '.join(f'{c * 100:.1f}' for c in console_cpu)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
