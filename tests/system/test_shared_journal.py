"""labd on a PostgreSQL journal: a real ``labd run``, a real PostgreSQL server stopped and
started under it, real CUPS; and two daemons, each with its own CUPS, on one PostgreSQL.

Nothing lost, nothing printed twice: while the database is gone the node holds intake and
printing (the journal cannot record what it would do), and it carries on when the
database is back.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from labd.demo.embedded import EmbeddedPrintServer
from labd.printing import CupsClient
from tests.imagegen import make_photo
from tests.pgserver import PostgresServer, running_server
from tests.system.conftest import Lab
from tests.system.test_crash_kill_points import documents_for
from tests.waiting import wait_until

pytestmark = pytest.mark.cups


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own: the test stops and starts it."""
    with running_server() as server:
        yield server


def _printed_once(lab: Lab, job_id: int, outputs: int) -> None:
    """Every output of the job reached this lab's printer exactly once, as one CUPS job."""
    cups = CupsClient(lab.server.server)
    for seq in range(1, outputs + 1):
        title = f"labd-{job_id}-{seq}"
        wait_until(partial(documents_for, lab, title), timeout=60, what=f"{title} printed")
        named = [s for s in cups.find_jobs(title) if s.queue == lab.queue]
        assert len(named) == 1, f"CUPS jobs named {title}: {named}"
        assert len(documents_for(lab, title)) == 1, f"{title} printed twice"


def _drop_photos(lab: Lab, tmp_path: Path, name: str, count: int) -> None:
    """An order folder of ``count`` photos, moved into the hot folder at once."""
    folder = tmp_path / name
    folder.mkdir()
    for n in range(count):
        make_photo(folder / f"IMG_{n:04d}.jpg", size=(1200, 800), noise=6 + n)
    shutil.move(folder, lab.hot / name)


def test_postgresql_stopped_and_started_under_a_running_daemon(
    lab: Lab, tmp_path: Path, own_postgres: PostgresServer
) -> None:
    lab.journal_at = own_postgres.location()
    lab.node = "solo"
    lab.write_config()
    # A CUPS history that reaches back before any submit intent (see the crash tests).
    make_photo(tmp_path / "baseline.jpg", size=(600, 400))
    CupsClient(lab.server.server).submit(lab.queue, tmp_path / "baseline.jpg", title="baseline")
    lab.start()

    _drop_photos(lab, tmp_path, "before", 2)
    [first] = lab.wait_for_jobs(1)
    own_postgres.stop()  # while the first order is on its way
    _drop_photos(lab, tmp_path, "while-down", 3)
    wait_until(lambda: lab.events("daemon.storage_trouble"), timeout=60, what="labd to notice")
    assert lab.proc is not None
    assert lab.proc.poll() is None  # it holds; it does not stop
    own_postgres.start()

    second = max(lab.wait_for_jobs(2, timeout=60))
    assert lab.wait_for_state(first, {"DONE", "HELD", "UNCERTAIN"}, timeout=90) == "DONE"
    assert lab.wait_for_state(second, {"DONE", "HELD", "UNCERTAIN"}, timeout=90) == "DONE"
    _printed_once(lab, first, 2)
    _printed_once(lab, second, 3)
    assert sorted(lab.job_states()) == [first, second]  # nothing doubled, nothing lost
    assert lab.labd("journal", "verify").stdout.startswith("OK: ")
    assert lab.stop() == 0


@pytest.fixture
def second_cups() -> Iterator[EmbeddedPrintServer]:
    """Node b's own private CUPS (node a has the session's), as on another machine."""
    root = Path(tempfile.mkdtemp(prefix="labd-cups-"))  # lp must reach it: not pytest's
    try:
        with EmbeddedPrintServer(root).start(("labd-virtual",)) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _order_with_ticket(lab: Lab, tmp_path: Path, name: str, order: str, photos: int) -> None:
    folder = tmp_path / name
    folder.mkdir()
    for n in range(photos):
        make_photo(folder / f"IMG_{n:04d}.jpg", size=(1200, 800), noise=6 + n)
    (folder / "ticket.toml").write_text(f'order = "{order}"\n')
    shutil.move(folder, lab.hot / name)


def _report(lab: Lab, *argv: str) -> dict[str, int]:
    data = json.loads(lab.labd("report", "--format", "json", *argv).stdout)
    totals = data["totals"]
    assert isinstance(totals, dict)
    return {str(k): int(v) for k, v in totals.items() if isinstance(v, int)}


def test_two_daemons_two_cups_one_postgresql(  # one story, told in order
    lab: Lab,
    second_cups: EmbeddedPrintServer,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
) -> None:
    shared = postgres_server.location()
    retention = "[retention]\ncheck_seconds = 1\n"  # erasures reach each node within 1 s
    a = lab
    a.journal_at, a.node, a.more_config = shared, "a", retention
    a.write_config()
    b = Lab(
        root=tmp_path_factory.mktemp("lab-b"), server=second_cups, queue="labd-virtual",
        journal_at=shared, node="b", more_config=retention,
    )  # fmt: skip
    b.write_config()
    tmp = tmp_path_factory.mktemp("drops")
    for node in (a, b):
        make_photo(tmp / "baseline.jpg", size=(600, 400))
        CupsClient(node.server.server).submit(node.queue, tmp / "baseline.jpg", title="base")
    try:
        a.start()
        b.start()
        _order_with_ticket(b, tmp, "b-order", "ORD-BOTH", 2)
        _order_with_ticket(a, tmp, "a-order", "ORD-BOTH", 3)
        # SIGKILL node a in the middle of its order, and start it again.
        in_flight = {"CLAIMED", "CONVERTED", "SUBMITTING", "SUBMITTED", "PRINTED"}

        def a_underway() -> int | None:
            rows = a.query("SELECT id, state FROM jobs WHERE node = ?", "a")
            return next((int(str(i)) for i, s in rows if s in in_flight), None)

        job_a = wait_until(a_underway, timeout=60, what="node a's order under way")
        assert a.stop(signal.SIGKILL) == -signal.SIGKILL
        a.start()
        [job_b] = [int(str(r[0])) for r in b.query("SELECT id FROM jobs WHERE node = ?", "b")]
        for node, job, outputs in ((a, job_a, 3), (b, job_b, 2)):
            assert node.wait_for_state(job, {"DONE", "HELD", "UNCERTAIN"}, timeout=90) == "DONE"
            _printed_once(node, job, outputs)
        # Each node printed its own order on its own printer, and nothing of the other's.
        assert not documents_for(b, f"labd-{job_a}-1")
        assert not documents_for(a, f"labd-{job_b}-1")
        assert b.labd("journal", "verify").stdout.startswith("OK: ")

        rows = [json.loads(line) for line in a.labd("jobs", "--format", "json").stdout.splitlines()]
        assert {(r["id"], r["node"]) for r in rows} == {(job_a, "a"), (job_b, "b")}
        assert "NODE" in b.labd("jobs").stdout.splitlines()[0]
        nodes = a.labd("nodes").stdout
        assert "a (this)" in nodes
        assert "\nb " in nodes
        assert "DOWN" not in nodes
        both, only_a, only_b = _report(a), _report(a, "--node", "a"), _report(a, "--node", "b")
        assert (both["jobs_done"], only_a["jobs_done"], only_b["jobs_done"]) == (2, 1, 1)
        assert both["prints"] == only_a["prints"] + only_b["prints"]

        # An erasure of the order printed on both: a deletes its files at once, b on its
        # next retention pass; labd erase waits for b and the erasure is done once.
        spools = [Path(str(r[0])) for r in a.query("SELECT spool FROM jobs ORDER BY id")]
        assert all(p.is_dir() for p in spools)
        erased = a.labd("erase", "--order", "ORD-BOTH", "--by", "sue", "--request", "R-9",
                        "--wait", "60", check=False)  # fmt: skip
        assert erased.returncode == 0, erased.stdout + erased.stderr
        assert not any(p.exists() for p in spools)
        assert set(a.job_states().values()) == {"PURGED"}
        assert a.query("SELECT count(*) FROM job_personal") == [(0,)]
        done = a.query("SELECT data FROM events WHERE kind = 'erasure.done'")
        assert len(done) == 1
        assert json.loads(str(done[0][0]))["jobs"] == sorted([job_a, job_b])
        assert a.labd("journal", "verify").stdout.startswith("OK: ")
        assert a.stop() == 0
        assert b.stop() == 0
    finally:
        if b.proc is not None and b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
        if b.notify is not None:
            b.notify.close()
