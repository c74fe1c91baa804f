"""The CUPS adapter against a real private CUPS and a virtual IPP Everywhere printer."""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image, ImageCms

from labd.demo.embedded import EmbeddedPrintServer
from labd.errors import EmbeddedPrintServerError, PrintError
from labd.printing.cups import CupsClient, CupsJobState, CupsJobStatus
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.cups,
    pytest.mark.skipif(
        bool(EmbeddedPrintServer.missing_tools()),
        reason="; ".join(EmbeddedPrintServer.missing_tools()),
    ),
]

QUEUE = "labd-virtual"
DEADLINE = 20.0  # seconds; a job through the virtual printer takes about 1 s

_titles = itertools.count(1000)
_T = TypeVar("_T")


def new_title() -> str:
    """A labd-style job name, unique in this session."""
    return f"labd-{next(_titles)}"


def poll(what: str, probe: Callable[[], _T | None], timeout: float = DEADLINE) -> _T:
    """Return probe()'s first non-None result; fail after timeout seconds."""
    return wait_until(probe, timeout=timeout, what=what)


def wait_finished(client: CupsClient, job_id: int) -> CupsJobStatus:
    def finished() -> CupsJobStatus | None:
        status = client.status(job_id)
        return status if status.state.finished else None

    return poll(f"CUPS job {job_id} finished", finished)


def received_for(server: EmbeddedPrintServer, title: str) -> Path | None:
    """The document the virtual printer received for the job named title, if any yet."""
    for document in server.received():
        if server.job_attributes(document).get("IPP_JOB_NAME") == title:
            return document
    return None


@pytest.fixture(scope="module")
def client(print_server):
    return CupsClient(print_server.server)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A print-ready JPEG as labd's converter makes it: 6x4 in at 300 dpi, sRGB profile."""
    path = tmp_path_factory.mktemp("print") / "labd-1-1.jpg"
    image = Image.linear_gradient("L").resize((1800, 1200)).convert("RGB")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(path, "JPEG", quality=92, dpi=(300, 300), icc_profile=srgb)
    return path


@dataclass(frozen=True)
class Printed:
    title: str
    job_id: int
    status: CupsJobStatus
    document: Path


@pytest.fixture(scope="module")
def printed(print_server, client, photo):
    """One JPEG job sent through the virtual printer queue and followed to its end."""
    title = new_title()
    job_id = client.submit(QUEUE, photo, title=title)
    status = wait_finished(client, job_id)
    document = poll("document at the virtual printer", lambda: received_for(print_server, title))
    return Printed(title, job_id, status, document)


def test_jpeg_job_completes(printed):
    assert printed.status.state is CupsJobState.COMPLETED
    assert printed.status.job_id == printed.job_id
    assert printed.status.queue == QUEUE
    assert printed.status.impressions == 1


def test_printer_receives_the_jpeg_untouched(print_server, printed, photo):
    # CUPS passes JPEG through to a printer that takes it: no re-rendering to PDF or raster.
    assert printed.document.read_bytes() == photo.read_bytes()
    with Image.open(printed.document) as image, Image.open(photo) as original:
        assert image.format == "JPEG"
        assert image.size == (1800, 1200)
        assert image.info["dpi"] == (300, 300)
        assert image.info["icc_profile"] == original.info["icc_profile"]
    assert print_server.job_attributes(printed.document)["CONTENT_TYPE"] == "image/jpeg"


def test_job_name_is_the_title(print_server, printed):
    assert print_server.job_attributes(printed.document)["IPP_JOB_NAME"] == printed.title


def test_find_jobs_finds_the_completed_job(printed, client):
    found = client.find_jobs(printed.title)
    assert [(j.job_id, j.state) for j in found] == [(printed.job_id, CupsJobState.COMPLETED)]
    assert found[0].document_name == "labd-1-1.jpg"
    assert client.find_jobs(new_title()) == []


def test_raw_queue_completes(print_server, client, photo):
    print_server.add_raw_queue("labd-raw")
    job_id = client.submit("labd-raw", photo, title=new_title())
    assert wait_finished(client, job_id).state is CupsJobState.COMPLETED
    assert client.queue_accepting("labd-raw") == (True, "")


def test_unknown_queue_is_not_transient(client, photo):
    with pytest.raises(PrintError) as caught:
        client.submit("frontier", photo, title=new_title())
    assert not caught.value.transient
    assert caught.value.queue == "frontier"
    assert str(caught.value) == "Printing on frontier: no CUPS queue named 'frontier'"
    assert client.queue_accepting("frontier") == (False, "no CUPS queue named 'frontier'")


def test_rejecting_queue_is_transient(print_server, client, photo):
    print_server.add_raw_queue("labd-rejecting")
    subprocess.run(
        ["cupsreject", "-h", print_server.server, "-r", "paper jam", "labd-rejecting"],
        check=True,
    )
    with pytest.raises(PrintError) as caught:
        client.submit("labd-rejecting", photo, title=new_title())
    assert caught.value.transient
    assert caught.value.problem == "queue 'labd-rejecting' is not accepting jobs: paper jam"
    assert client.queue_accepting("labd-rejecting") == (False, caught.value.problem)


def test_stopped_queue_keeps_the_job_pending_until_cancelled(print_server, client, photo):
    print_server.add_raw_queue("labd-stopped")
    subprocess.run(
        ["cupsdisable", "-h", print_server.server, "-r", "out of paper", "labd-stopped"],
        check=True,
    )
    accepting, reason = client.queue_accepting("labd-stopped")
    assert not accepting
    assert reason == "queue 'labd-stopped' is stopped (jobs wait in CUPS): out of paper"
    job_id = client.submit("labd-stopped", photo, title=new_title())
    assert client.status(job_id).state is CupsJobState.PENDING
    client.cancel(job_id)
    assert wait_finished(client, job_id).state is CupsJobState.CANCELED


def test_unknown_job_is_not_transient(client):
    with pytest.raises(PrintError) as caught:
        client.status(987654)
    assert not caught.value.transient
    assert "CUPS has no job 987654" in caught.value.problem


def test_missing_socket_is_transient(tmp_path, photo):
    socket_path = str(tmp_path / "cups.sock")
    client = CupsClient(socket_path)
    for call in (
        lambda: client.submit(QUEUE, photo, title=new_title()),
        lambda: client.status(1),
        lambda: client.find_jobs("labd-1"),
    ):
        with pytest.raises(PrintError) as caught:
            call()
        assert caught.value.transient
        assert f"CUPS is not reachable at {socket_path}" in caught.value.problem


def test_clients_in_threads_use_their_own_connections(printed, client):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        states = list(pool.map(lambda _: client.status(printed.job_id).state, range(16)))
    assert states == [CupsJobState.COMPLETED] * 16


def test_queues_have_printers_of_their_own(print_server, client, photo):
    # Two jobs at once on two queues: neither waits for the other's printer.
    print_server.add_printer_queue("labd-second")
    titles = {QUEUE: new_title(), "labd-second": new_title()}
    jobs = {queue: client.submit(queue, photo, title=title) for queue, title in titles.items()}
    for queue, job_id in jobs.items():
        assert wait_finished(client, job_id).state is CupsJobState.COMPLETED
        document = poll("document", functools.partial(received_for, print_server, titles[queue]))
        assert print_server.job_attributes(document)["LABD_QUEUE"] == queue


def test_restart_under_the_same_root_keeps_queues_and_history(photo):
    root = Path(tempfile.mkdtemp(prefix="labd-cups-"))
    try:
        titles = [new_title(), new_title()]
        job_ids = []
        for title in titles:
            with EmbeddedPrintServer(root).start((QUEUE,)) as server:
                client = CupsClient(server.server)
                job_ids.append(client.submit(QUEUE, photo, title=title))
                assert wait_finished(client, job_ids[-1]).state is CupsJobState.COMPLETED
                # CUPS' job history outlives cupsd: what crash reconciliation relies on.
                assert [j.job_id for j in client.find_jobs(titles[0])] == job_ids[:1]
        assert [server.job_attributes(d)["IPP_JOB_NAME"] for d in server.received()] == titles
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_failed_start_leaves_no_process():
    root = Path(tempfile.mkdtemp(prefix="labd-cups-"))
    try:
        server = EmbeddedPrintServer(root)
        # The bad name fails start() once the bus, cupsd and the first queue are up.
        with pytest.raises(EmbeddedPrintServerError, match="bad name"):
            server.start((QUEUE, "bad name"))
        assert not server.running
        assert _processes_under(root) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _processes_under(root: Path) -> list[str]:
    """Command lines of live processes that mention root."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in text:
            found.append(text)
    return found
