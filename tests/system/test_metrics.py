"""The metrics endpoint of a real ``labd run``: scraped over HTTP while a photo prints.

The counters are read as Prometheus reads them (prometheus_client's parser, both
exposition formats) and must move as the job goes through; nothing the technician or the
customer named the file may appear in what is served.  A port another program has stops
labd from serving metrics, never from printing.
"""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path

from labd.demo.processes import free_port
from tests.imagegen import make_photo
from tests.scraping import (
    OPENMETRICS,
    Samples,
    get,
    labd_samples,
    openmetrics_families,
    value,
)
from tests.system.conftest import Lab
from tests.waiting import wait_until

# The customer's name is in the file name, as labs get them.
PHOTO = "Nordmann_Kari_confirmation_0815.jpg"
WHERE = {"product": "prints-10x15", "printer": "virtual"}


def serve_metrics(lab: Lab) -> int:
    port = free_port()
    lab.more_config = f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
    lab.write_config()
    return port


def drop_photo(lab: Lab, tmp_path: Path) -> None:
    source = tmp_path / PHOTO
    make_photo(source, size=(1200, 800))
    shutil.copy(source, lab.hot / PHOTO)


def test_counters_move_as_a_photo_prints_and_no_file_name_is_served(
    lab: Lab, tmp_path: Path
) -> None:
    port = serve_metrics(lab)
    lab.start()
    served: list[bytes] = []

    def scrape() -> Samples:
        status, content_type, body = get(port)
        assert (status, content_type.split(";")[0]) == (200, "text/plain")
        served.append(body)
        return labd_samples(body)

    before = scrape()
    assert {loop for (name, labels) in before if name == "labd_loop_heartbeat_age_seconds"
            for _, loop in labels} == {"intake", "work", "follow", "alerts"}  # fmt: skip
    assert value(before, "labd_jobs", state="DONE") == 0
    assert value(before, "labd_prints_total", **WHERE) is None  # nothing printed yet
    assert value(before, "labd_intake_held") == 0

    drop_photo(lab, tmp_path)
    seen: list[Samples] = []

    def printed() -> Samples | None:
        samples = scrape()
        seen.append(samples)
        return samples if value(samples, "labd_jobs", state="DONE") == 1 else None

    after = wait_until(printed, timeout=60, what="the job DONE in the metrics")
    [job_id] = lab.wait_for_jobs(1)
    assert lab.job_states()[job_id] == "DONE"
    assert value(after, "labd_prints_total", **WHERE) == 1
    assert value(after, "labd_printed_jobs_total", **WHERE) == 1
    claimed = {"hotfolder": "prints-10x15", "event": "claimed"}
    assert value(after, "labd_intake_events_total", **claimed) == 1
    assert value(after, "labd_conversion_latency_seconds_count", product="prints-10x15") == 1
    assert value(after, "labd_print_latency_seconds_count", printer="virtual") == 1
    assert (value(after, "labd_journal_size_bytes") or 0) > 0
    # Counters only grow between scrapes, whatever the moment each one caught.
    for name, labels in (("labd_intake_events_total", claimed), ("labd_prints_total", WHERE)):
        series = [value(s, name, **labels) or 0 for s in seen]
        assert series == sorted(series), (name, series)

    # The same in OpenMetrics, for a scraper that asks for it.
    status, content_type, body = get(port, accept=OPENMETRICS)
    assert (status, content_type.split(";")[0]) == (200, OPENMETRICS)
    served.append(body)
    families = openmetrics_families(body)
    [prints] = families["labd_prints"].samples
    assert (prints.name, prints.labels, prints.value) == ("labd_prints_total", WHERE, 1)
    assert "process_start_time_seconds" in families  # the process, from labd's registry

    for body in served:
        for personal in (PHOTO, Path(PHOTO).stem, "Nordmann", lab.hot.name + "/"):
            assert personal.encode() not in body, personal
    assert [e["url"] for e in lab.events("metrics.listening")] == [
        f"http://127.0.0.1:{port}/metrics"
    ]
    assert lab.stop() == 0


def test_a_port_taken_by_another_program_stops_the_metrics_not_the_printing(
    lab: Lab, tmp_path: Path
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = int(taken.getsockname()[1])
    try:
        lab.more_config = f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
        lab.write_config()
        lab.start()  # READY=1 all the same
        [unavailable] = lab.events("metrics.unavailable")
        assert unavailable["listen"] == f"http://127.0.0.1:{port}/metrics"
        drop_photo(lab, tmp_path)
        [job_id] = lab.wait_for_jobs(1)
        assert lab.wait_for_state(job_id, {"DONE", "HELD", "QUARANTINED"}) == "DONE"
    finally:
        taken.close()

    # The other program gone, a reload (the same file) serves the metrics: no restart.
    assert lab.proc is not None
    lab.proc.send_signal(signal.SIGHUP)

    def serving() -> Samples | None:
        try:
            return labd_samples(get(port)[2])
        except ConnectionRefusedError:
            return None

    samples = wait_until(serving, timeout=30, what="the metrics served after the reload")
    assert value(samples, "labd_jobs", state="DONE") == 1
    assert value(samples, "labd_prints_total", **WHERE) == 1  # counted from labd's start
    assert lab.stop() == 0
