"""What a metrics scrape costs labd, on a journal with a long history.

    .venv/bin/python bench/metrics.py [--history 20000] [--new 1000] [--verbose]

A journal in a temporary folder gets --history jobs printed and done (the jobs of months),
then labd's registry is made as the daemon makes it (its own read connection, counting
from the journal's end) and scraped:

- steady: nothing new since the last read (every gauge read anew: jobs by state, held
  jobs, the journal's size);
- after --new: that many more jobs printed since the last read (the tally reads their state
  changes, and each printed job's outputs and ticket);
- cached: a second scrape within CACHE_SECONDS.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import generate_latest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchargs

from labd.clock import ManualClock  # after the path set-up above
from labd.config import load
from labd.journal import Journal
from labd.metrics.collect import CACHE_SECONDS, JournalCollector, Live, make_registry
from labd.model import JobState
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, job_in_state, write_config


def add_done(journal: Journal, spool: Path, n: int, first: int) -> None:
    with journal.relaxed():  # the history is set up, not measured: no fsync per step
        for i in range(first, first + n):
            job_in_state(journal, JobState.DONE, spool, source_inode=i)


def main() -> None:
    parser = benchargs.parser(__doc__)
    parser.add_argument("--history", type=int, default=20000, help="jobs done before the scrapes")
    parser.add_argument("--new", type=int, default=1000, help="jobs printed since the last scrape")
    args = benchargs.parse(parser)
    history, new = args.history, args.new
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = load(write_config(root, GOOD_CONFIG))
        clock = ManualClock()
        journal = open_journal(config.journal_path, clock)
        add_done(journal, config.spool_dir, history, 0)
        reader = open_journal(config.journal_path, clock, create=False, migrate=False)
        collector = JournalCollector(
            reader, config=lambda: config, clock=clock, after=reader.last_seq()
        )
        registry = make_registry(collector, Live(beat_ages=dict, intake_held=lambda: None))

        def scrape(*, fresh: bool = True) -> float:
            clock.advance(CACHE_SECONDS if fresh else 0.0)
            start = time.perf_counter()
            generate_latest(registry)
            return (time.perf_counter() - start) * 1000

        steady = statistics.median(scrape() for _ in range(21))
        add_done(journal, config.spool_dir, new, history)
        after_new = scrape()
        cached = statistics.median(scrape(fresh=False) for _ in range(21))
        size = sum(p.stat().st_size for p in config.state_dir.glob("journal.sqlite*"))
        print(f"journal: {history + new} jobs, {journal.last_seq()} events, {size >> 20} MiB")
        print(f"steady scrape: {steady:.1f} ms (median of 21)")
        print(f"scrape after {new} jobs printed: {after_new:.0f} ms")
        print(f"cached scrape: {cached:.2f} ms")
        reader.close()
        journal.close()


if __name__ == "__main__":
    main()
