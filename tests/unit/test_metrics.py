"""Metrics: what the journal says, as Prometheus parses it; the endpoint that never stops labd.

The collectors run on a real journal with jobs taken through the real life cycle
(``job_in_state``) on a manual clock, so every latency is known to the second; what they
produce is read back with prometheus_client's own parser.  The endpoint is a real HTTP
server on a loopback port.  The daemon serving it end to end is ``tests/system``'s.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry
from structlog.testing import capture_logs

from labd.cli import main
from labd.clock import ManualClock
from labd.config import Config, MetricsSettings, load
from labd.demo.processes import free_port
from labd.journal import Journal
from labd.metrics import Live, Metrics
from labd.metrics.collect import CACHE_SECONDS, JournalCollector, make_registry
from labd.model import JobState
from labd.schemas import open_journal
from tests.factories import GOOD_CONFIG, job_in_state, write_config
from tests.scraping import OPENMETRICS, Samples, get, labd_samples, refused, value

# What the jobs of these tests are called, and whose they are: none of it may be scraped.
PERSONAL = ("Hansen wedding", "IMG_4711.jpg", "IMG_4712.jpg", "A-2026-0815", "anna")
FILES = (("IMG_4711.jpg", 10), ("IMG_4712.jpg", 20))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load(write_config(tmp_path, GOOD_CONFIG))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal(config: Config, clock: ManualClock) -> Iterator[Journal]:
    with open_journal(config.journal_path, clock) as journal:
        yield journal


def new_job(journal: Journal, config: Config, state: JobState) -> int:
    """An order of two photos, taken to ``state`` through the journal's life cycle."""
    return job_in_state(journal, state, config.spool_dir, entry="Hansen wedding", files=FILES).id


def collector_on(journal: Journal, config: Config, clock: ManualClock) -> CollectorRegistry:
    """labd's registry as the daemon makes it, counting from the journal's end now."""
    collector = JournalCollector(
        journal, config=lambda: config, clock=clock, after=journal.last_seq()
    )
    live = Live(beat_ages=lambda: {"intake": 0.25, "work": 1.5}, intake_held=lambda: None)
    return make_registry(collector, live)


def scrape(registry: CollectorRegistry) -> tuple[bytes, Samples]:
    """The exposition text and labd's samples in it, parsed by prometheus_client's parser."""
    text = generate_latest(registry)
    return text, labd_samples(text)


def test_counts_and_latencies_come_from_the_journal_and_name_no_one(
    journal: Journal, config: Config, clock: ManualClock
) -> None:
    # Before labd started: one job printed (history), one in CUPS, one claimed.
    new_job(journal, config, JobState.DONE)
    in_cups = new_job(journal, config, JobState.SUBMITTED)
    waiting = new_job(journal, config, JobState.CLAIMED)
    registry = collector_on(journal, config, clock)

    clock.advance(7)
    journal.converted(waiting, [("out/0001.jpg", 1), ("out/0002.jpg", 2)], "minilab")
    clock.advance(40)
    journal.printed(in_cups)  # 47 s after its submission, before the start
    order = new_job(journal, config, JobState.CLAIMED)
    journal.notes.ticket(order, order_ref="A-2026-0815", copies={1: 3}, media=0)
    clock.advance(12)
    journal.converted(order, [("out/0001.jpg", 1), ("out/0002.jpg", 2)], "minilab")
    for seq in (1, 2):
        journal.printing.submit_intent(order, seq)
        journal.printing.submitted(order, seq, 9000 + seq)
    new_job(journal, config, JobState.HELD)  # claimed, converted and held at once
    clock.advance(600)  # the order waits for the stopped printer too, then prints
    journal.held(order, rule="print.printer_stopped", reason="queue 'minilab' is stopped")
    clock.advance(30)
    journal.resume(order, JobState.SUBMITTED)
    journal.printed(order)
    journal.done(order)
    new_job(journal, config, JobState.QUARANTINED)
    new_job(journal, config, JobState.WITHDRAWN)
    clock.advance(90)

    text, samples = scrape(registry)

    for state, n in {"DONE": 2, "SUBMITTED": 0, "CONVERTED": 1, "HELD": 1, "PURGED": 0}.items():
        assert value(samples, "labd_jobs", state=state) == n
    assert value(samples, "labd_held_jobs", rule="print.printer_stopped") == 1
    assert value(samples, "labd_oldest_held_job_age_seconds", rule="print.printer_stopped") == (
        720  # the held job: 600 + 30 + 90 s ago
    )
    # Counted from the start: the job done before it is not; the one in CUPS is.  The
    # order's ticket gives its first photo 3 copies, the product its second 1.
    where = {"product": "p10x15", "printer": "minilab"}
    assert value(samples, "labd_printed_jobs_total", **where) == 2
    assert value(samples, "labd_prints_total", **where) == 2 + 4
    # The order, the held job, the quarantined one (claimed, then refused); not the
    # withdrawn one (gone before it was taken), nor the three before the start.
    for event, n in {"claimed": 3, "quarantined": 1, "withdrawn": 1}.items():
        assert value(samples, "labd_intake_events_total", hotfolder="prints", event=event) == n
    # Claim to converted: 7 s (claimed before the start), 12 s, and 0 s for the held job.
    conversion = "labd_conversion_latency_seconds"
    assert value(samples, f"{conversion}_count", product="p10x15") == 3
    assert value(samples, f"{conversion}_sum", product="p10x15") == 19
    assert value(samples, f"{conversion}_bucket", product="p10x15", le="5.0") == 1
    assert value(samples, f"{conversion}_bucket", product="p10x15", le="10.0") == 2
    # Submitted to printed: 47 s, and 630 s for the order, its wait for the printer included.
    assert value(samples, "labd_print_latency_seconds_count", printer="minilab") == 2
    assert value(samples, "labd_print_latency_seconds_sum", printer="minilab") == 47 + 630
    assert value(samples, "labd_print_latency_seconds_bucket", printer="minilab", le="60.0") == 1
    assert value(samples, "labd_loop_heartbeat_age_seconds", loop="work") == 1.5
    assert value(samples, "labd_intake_held") == 0
    wal = config.journal_path.with_name("journal.sqlite-wal")
    assert value(samples, "labd_journal_size_bytes") == (
        config.journal_path.stat().st_size + wal.stat().st_size
    )
    for personal in PERSONAL:
        assert personal.encode() not in text, personal


def test_counters_only_grow_and_a_scrape_within_the_cache_reads_nothing(
    journal: Journal, config: Config, clock: ManualClock
) -> None:
    registry = collector_on(journal, config, clock)
    claimed = (
        "labd_intake_events_total",
        frozenset({("hotfolder", "prints"), ("event", "claimed")}),
    )
    new_job(journal, config, JobState.DONE)
    _, first = scrape(registry)
    assert first[claimed] == 1
    new_job(journal, config, JobState.DONE)
    _, cached = scrape(registry)
    assert cached == first  # within CACHE_SECONDS: the figures of the last read
    clock.advance(CACHE_SECONDS)
    _, second = scrape(registry)
    assert second[claimed] == 2  # the new state changes only: the first job counted once
    assert value(second, "labd_printed_jobs_total", product="p10x15", printer="minilab") == 2
    clock.advance(CACHE_SECONDS)
    _, third = scrape(registry)
    assert third[claimed] == 2


def test_a_journal_that_cannot_be_read_gives_the_last_figures_and_a_warning(
    config: Config, clock: ManualClock, journal: Journal
) -> None:
    new_job(journal, config, JobState.SUBMITTED)
    reader = open_journal(config.journal_path, clock, create=False, migrate=False)
    registry = collector_on(reader, config, clock)
    journal.printed(1)
    _, before = scrape(registry)
    assert value(before, "labd_printed_jobs_total", product="p10x15", printer="minilab") == 1
    reader.close()  # as when a scrape comes while labd stops
    clock.advance(CACHE_SECONDS)
    with capture_logs() as logs:
        _, during = scrape(registry)  # no exception: the scrape is answered
    assert during == before
    [warning] = [e for e in logs if e["event"] == "metrics.journal_unreadable"]
    assert "closed" in warning["problem"]


# -- the endpoint ------------------------------------------------------------------------------


@pytest.fixture
def metrics(config: Config, clock: ManualClock, journal: Journal) -> Iterator[Metrics]:
    live = Live(beat_ages=lambda: {"follow": 0.5}, intake_held=lambda: "spool: disk full")
    metrics = Metrics(config.journal_path, clock, config=lambda: config, live=live)
    yield metrics
    metrics.close()


def test_a_taken_port_is_logged_labd_runs_on_and_a_reload_tries_again(
    metrics: Metrics, journal: Journal, config: Config
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = int(taken.getsockname()[1])
    settings = MetricsSettings(listen=("127.0.0.1", port))
    try:
        with capture_logs() as logs:
            metrics.apply(settings)  # raises nothing
    finally:
        taken.close()
    [unavailable] = [e for e in logs if e["event"] == "metrics.unavailable"]
    assert unavailable["listen"] == f"http://127.0.0.1:{port}/metrics"
    assert "in use" in unavailable["problem"]
    assert metrics.endpoint is None
    new_job(journal, config, JobState.CLAIMED)  # after the start: counted once it serves

    with capture_logs() as logs:
        metrics.apply(settings)  # a reload with the same file: the port is free now
    assert [e["url"] for e in logs if e["event"] == "metrics.listening"] == [settings.url]
    status, content_type, body = get(port)
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = labd_samples(body)
    assert value(samples, "labd_intake_events_total", hotfolder="prints", event="claimed") == 1
    assert value(samples, "labd_intake_held") == 1
    assert value(samples, "labd_loop_heartbeat_age_seconds", loop="follow") == 0.5


def test_a_reload_moves_the_endpoint_and_an_empty_listen_stops_it(metrics: Metrics) -> None:
    first, second = free_port(), free_port()
    metrics.apply(MetricsSettings(listen=("127.0.0.1", first)))
    assert get(first)[0] == 200
    metrics.apply(MetricsSettings(listen=("127.0.0.1", second)))
    assert refused(first)
    status, content_type, body = get(second, accept=OPENMETRICS)
    assert status == 200
    assert content_type.startswith(OPENMETRICS)
    assert body.endswith(b"# EOF\n")
    metrics.apply(MetricsSettings())
    assert refused(second)
    assert metrics.endpoint is None


# -- the configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "problem"),
    [
        pytest.param('"9464"', "'9464' is not an address and port like", id="port-only"),
        pytest.param('"localhost"', "'localhost' is not an address and port", id="no-port"),
        pytest.param(
            '"::1:9464"', 'an IPv6 address goes in brackets: "[::1]:9464"', id="ipv6-bare"
        ),
        pytest.param(
            '"metrics.lab.example:9464"',
            "'metrics.lab.example' is not an IP address",
            id="host-name",
        ),
        pytest.param(
            '"127.0.0.1:70000"', "port 70000 is out of range; expected 1 to 65535", id="port"
        ),
        pytest.param("9464", "expected a string, got int 9464", id="not-a-string"),
    ],
)
def test_a_bad_listen_is_a_config_error_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listen: str, problem: str
) -> None:
    text = f"{GOOD_CONFIG}\n[metrics]\nlisten = {listen}\n"
    path = write_config(tmp_path, text)
    (tmp_path / "hot" / "prints").mkdir(parents=True, mode=0o770)
    assert main(["--config", str(path), "run"], out=io.StringIO()) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"labd: {path}: metrics.listen: ")
    assert problem in err
    assert err.count("\n") == 1  # one line, no traceback
    assert path.read_text() == text  # the file is untouched
    assert not (tmp_path / "state").exists()  # nothing started, nothing made


def test_listen_takes_ipv4_ipv6_and_localhost_and_is_off_by_default(tmp_path: Path) -> None:
    assert load(write_config(tmp_path, GOOD_CONFIG)).metrics.listen is None
    for given, listen, url in (
        ("127.0.0.1:9464", ("127.0.0.1", 9464), "http://127.0.0.1:9464/metrics"),
        ("[::1]:9464", ("::1", 9464), "http://[::1]:9464/metrics"),
        ("localhost:9100", ("localhost", 9100), "http://localhost:9100/metrics"),
        ("", None, None),
    ):
        path = write_config(tmp_path, f'{GOOD_CONFIG}\n[metrics]\nlisten = "{given}"\n')
        settings = load(path).metrics
        assert (settings.listen, settings.url) == (listen, url)
