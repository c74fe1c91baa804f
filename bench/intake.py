"""Intake benchmark: latency to claim, a 10,000-file burst, idle CPU.

Run: .venv/bin/python bench/intake.py [--files 10000] [--idle-seconds 60]

Prints, for labd's intake (watchdog events + stability + claim by rename, journaled):
- latency from a completed copy to the job being claimed, stability period subtracted
  (median, p99);
- time to claim a burst of files dropped at once, and that none was missed or doubled;
  side by side with the obvious alternative, a loop that lists the folder and claims
  every file whose size and mtime did not change since the last pass;
- CPU used by an idle labd watching 20 hot folders (inotify, and forced polling).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import benchargs

from labd.clock import SystemClock
from labd.config import DEFAULT_IGNORE
from labd.intake import EventSink, Intake, Watcher
from labd.model import HotFolder, Job, WatchMode
from labd.schemas import open_journal

STABILITY = 0.5


def hotfolder(root: Path, name: str) -> HotFolder:
    path = root / "hot" / name
    path.mkdir(parents=True, mode=0o770)
    path.chmod(0o770)
    return HotFolder(name=name, path=path, product="p", printer="q",
                     stability_seconds=STABILITY, ignore=DEFAULT_IGNORE)  # fmt: skip


@contextmanager
def running(root: Path, folders: list[HotFolder]) -> Iterator[tuple[Intake, list[float]]]:
    """labd's intake loop in a thread, as the daemon runs it; yields claim times."""
    claimed: list[float] = []
    journal = open_journal(root / "state" / "journal.sqlite")
    intake = Intake({f.name: f for f in folders}, journal, spool_dir=root / "spool",
                    quarantine_dir=root / "quarantine", rescan_seconds=60, clock=SystemClock(),
                    on_claimed=lambda _job: claimed.append(time.monotonic()))  # fmt: skip
    sink, stop = EventSink(), threading.Event()
    watcher = Watcher(sink)
    watcher.start()
    intake.check_folders()
    watcher.sync(intake.inotify_folders())
    thread = threading.Thread(target=intake.run, args=(sink, watcher, stop), daemon=True)
    thread.start()
    try:
        yield intake, claimed
    finally:
        stop.set()
        sink.wake.set()
        thread.join(10)
        watcher.stop()
        journal.close()


def wait_for(count: int, claimed: list[float] | list[Job], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(claimed) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(claimed)} of {count} claimed within {timeout} s")
        time.sleep(0.01)


def latency(samples: int) -> None:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        root = Path(tmp)
        hf = hotfolder(root, "prints")
        staging = root / "staging"
        staging.mkdir()
        with running(root, [hf]) as (_intake, claimed):
            delays = []
            for n in range(samples):
                src = staging / f"IMG_{n:04d}.jpg"
                src.write_bytes(os.urandom(200_000))
                done = time.monotonic()
                src.rename(hf.path / src.name)  # the copy is complete now
                wait_for(n + 1, claimed, 10)
                delays.append((claimed[n] - done - STABILITY) * 1000)
    delays.sort()
    p99 = delays[min(len(delays) - 1, round(len(delays) * 0.99))]
    print(f"latency beyond the {STABILITY} s stability period, {samples} files: "
          f"median {statistics.median(delays):.1f} ms, p99 {p99:.1f} ms, "
          f"max {delays[-1]:.1f} ms")  # fmt: skip


def naive_burst(folder: Path, spool: Path, count: int) -> float:
    """The obvious alternative: list, compare size+mtime with the last pass, rename."""
    started = time.monotonic()
    seen: dict[str, tuple[int, int]] = {}
    taken = 0
    while taken < count:
        for entry in os.scandir(folder):
            st = entry.stat(follow_symlinks=False)
            sig = (st.st_size, st.st_mtime_ns)
            if seen.get(entry.name) == sig:
                Path(entry.path).rename(spool / entry.name)
                taken += 1
            else:
                seen[entry.name] = sig
        time.sleep(0.25)
    return time.monotonic() - started


def burst(count: int) -> None:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        root = Path(tmp)
        hf = replace(hotfolder(root, "burst"), stability_seconds=0.0)
        staging = root / "staging"
        staging.mkdir()
        for n in range(count):
            (staging / f"IMG_{n:05d}.jpg").write_bytes(b"x" * 100)
        with running(root, [hf]) as (intake, claimed):
            started = time.monotonic()
            for p in staging.iterdir():
                p.rename(hf.path / p.name)
            wait_for(count, claimed, 600)
            took = time.monotonic() - started
            jobs = intake.journal.jobs(limit=None)
            entries = {j.entry for j in jobs}
        left = list(hf.path.iterdir())
        print(
            f"burst of {count} files: all claimed in {took:.1f} s ({count / took:.0f} files/s);"
            f" jobs {len(jobs)}, distinct {len(entries)}, left in the hot folder {len(left)}"
        )
        naive_dir, naive_spool = root / "naive", root / "naive-spool"
        naive_dir.mkdir()
        naive_spool.mkdir()
        for n in range(count):
            (naive_dir / f"IMG_{n:05d}.jpg").write_bytes(b"x" * 100)
        naive = naive_burst(naive_dir, naive_spool, count)
        print(f"  naive list+rename loop, no journal: {naive:.1f} s ({count / naive:.0f} files/s); "
              f"labd / naive time ratio {took / naive:.2f}")  # fmt: skip


def idle(seconds: float, mode: WatchMode) -> None:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        root = Path(tmp)
        folders = [replace(hotfolder(root, f"hf{n:02d}"), watch=mode) for n in range(20)]
        for hf in folders:
            for n in range(50):  # something to look at: earlier jobs' leftovers, ignored
                (hf.path / f".old{n}").write_bytes(b"")
        with running(root, folders):
            cpu0, wall0 = time.process_time(), time.monotonic()
            time.sleep(seconds)  # idle on purpose: this is what is measured
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    print(f"idle, 20 hot folders, {mode.value}: {100 * cpu / wall:.2f} % of a core "
          f"over {wall:.0f} s")  # fmt: skip


def main() -> None:
    parser = benchargs.parser(__doc__)
    parser.add_argument("--samples", type=int, default=100, help="files timed one by one")
    parser.add_argument("--files", type=int, default=10_000, help="files dropped at once")
    parser.add_argument(
        "--idle-seconds", type=float, default=60.0, help="how long idle CPU is measured, per mode"
    )
    args = benchargs.parse(parser, json=False)
    latency(args.samples)
    burst(args.files)
    idle(args.idle_seconds, WatchMode.INOTIFY)
    idle(args.idle_seconds, WatchMode.POLL)


if __name__ == "__main__":
    main()
