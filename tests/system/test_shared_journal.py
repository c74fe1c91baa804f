"""labd on a PostgreSQL journal: a real ``labd run``, a real PostgreSQL server stopped and
started under it, real CUPS.

Nothing lost, nothing printed twice: while the database is gone the node holds intake and
printing (the journal cannot record what it would do), and it carries on when the
database is back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

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
