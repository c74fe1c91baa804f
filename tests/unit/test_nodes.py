"""Two print servers (nodes) on one PostgreSQL journal: whose jobs are whose, heartbeats,
and an erasure that reaches both.

Two real Journal connections, as two labd daemons have, to one real PostgreSQL schema
(tests/pgserver.py); each node with a spool of its own, as on two machines.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from labd.cli import main
from labd.clock import ManualClock
from labd.config import Config, parse
from labd.journal import Journal
from labd.journal.nodes import beat, node_names, nodes
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind, MediaState
from labd.model import JobState
from labd.privacy.model import RetentionError
from labd.privacy.retention import Retention
from labd.schemas import open_journal
from labd.store import PostgresLocation
from tests.factories import job_in_state, journal_table
from tests.pgserver import PostgresServer
from tests.rawdb import RawDB

ORDER = "ORD-NODES-1"


@dataclass
class Node:
    """One print server: its configuration (own spool), its journal connection."""

    name: str
    config: Config
    config_file: Path
    journal: Journal

    def job(self, state: JobState, entry: str, order: str | None = ORDER) -> int:
        return job_in_state(
            self.journal, state, self.config.spool_dir, entry=entry, order=order,
            files=[(f"{entry}/a.jpg", 100)], queue="m", write_inputs=True, output_size=50,
        ).id  # fmt: skip

    def cli(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = main(["--config", str(self.config_file), *argv], out=out)
        return code, out.getvalue()


def _node(root: Path, name: str, where: PostgresLocation, clock: ManualClock) -> Node:
    root.mkdir(parents=True)
    text = (
        '[labd]\nstate_dir = "state"\nspool_dir = "spool"\nquarantine_dir = "quarantine"\n'
        'hotfolder_root = "hot"\n[products.p]\nformat = "jpeg"\nsize = "6x4 in"\n'
        '[printers.m]\nqueue = "m"\n[hotfolders.prints]\nproduct = "p"\nprinter = "m"\n'
        + journal_table(where, node=name)
    )
    file = root / "labd.toml"
    file.write_text(text)
    import tomllib  # noqa: PLC0415  # only here

    config = parse(tomllib.loads(text), str(file))
    journal = open_journal(where, clock, node=name)
    return Node(name, config, file, journal)


@pytest.fixture
def two_nodes(
    tmp_path: Path, postgres_server: PostgresServer
) -> Iterator[tuple[Node, Node, ManualClock]]:
    where = postgres_server.location()
    clock = ManualClock()
    a = _node(tmp_path / "a", "a", where, clock)
    b = _node(tmp_path / "b", "b", where, clock)
    try:
        yield a, b, clock
    finally:
        a.journal.close()
        b.journal.close()


def test_each_node_sees_its_own_jobs_and_the_supervisor_every_one(two_nodes) -> None:
    a, b, _ = two_nodes
    ja, jb = a.job(JobState.DONE, "from-a"), b.job(JobState.HELD, "from-b")
    assert a.journal.job(ja).node == "a"
    assert b.journal.job(jb).node == "b"
    # The daemon's view (scope): its own jobs only; a command's: every node's.
    a.journal.scope = "a"
    assert [j.id for j in a.journal.jobs()] == [ja]
    assert a.journal.counts() == {JobState.DONE: 1}
    assert sorted(j.id for j in b.journal.jobs()) == [ja, jb]
    assert node_names(b.journal.store) == ["a", "b"]

    code, text = b.cli("jobs", "--node", "b", "--format", "json")
    assert code == 0
    assert f'"id": {jb}' in text
    assert f'"id": {ja}' not in text
    code, text = b.cli("jobs")
    assert code == 0
    assert "NODE" in text.splitlines()[0]


def test_an_unknown_node_is_a_clear_error_and_changes_nothing(
    two_nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _, _ = two_nodes
    a.job(JobState.DONE, "from-a")
    with RawDB(a.journal) as db:
        before = db.everything()
        code, text = a.cli("jobs", "--node", "c")
        assert code != 0
        assert text == ""
        err = capsys.readouterr().err
        assert "No node 'c' in the journal; the known ones: a." in err
        assert db.everything() == before


def test_heartbeats_show_who_is_up_and_who_is_down(two_nodes) -> None:
    a, b, clock = two_nodes
    beat(a.journal.store, "a", version="1", hotfolders=["prints"], started_at="x")
    clock.advance(100)
    beat(b.journal.store, "b", version="1", hotfolders=["prints"], started_at="y")
    clock.advance(30)
    seen = {n.name: n for n in nodes(a.journal.store, down_seconds=120)}
    assert seen["a"].down
    assert not seen["b"].down
    assert round(seen["a"].silent_seconds) == 130
    code, text = b.cli("nodes")
    assert code == 0
    [row_a] = [line for line in text.splitlines() if line.startswith("a ")]
    assert "DOWN" in row_a


def test_an_erasure_reaches_every_node_and_is_done_once_the_last_has_deleted(two_nodes) -> None:
    a, b, clock = two_nodes
    ja, jb = a.job(JobState.DONE, "Hansen A"), b.job(JobState.DONE, "Hansen B")
    a_spool = Path(a.journal.job(ja).spool)
    b_spool = Path(b.journal.job(jb).spool)
    assert a_spool.is_dir()
    assert b_spool.is_dir()

    plan = Retention(a.journal, a.config, clock).erase(order_ref=ORDER, by="sue", request="R-1")

    # Node a: its job is gone, files and all.  Node b's files wait for b.
    assert a.journal.job(ja).state is JobState.PURGED
    assert not a_spool.exists()
    assert plan.elsewhere == {"b": (jb,)}
    assert b_spool.is_dir()
    # The personal data in the shared database is gone at once, for both.
    assert b.journal.job(jb).entry == ""
    assert b.journal.job(jb).order_ref is None
    erasure_a = Retention(a.journal, a.config, clock).erasure
    assert plan.request is not None
    assert erasure_a.outstanding(plan.request) == {"b": [jb]}
    assert [e.kind for e in a.journal.events() if e.kind.startswith("erasure.")] == [
        "erasure.requested"
    ]
    # Node a may not delete b's files, nor mark b's job purged.
    with pytest.raises(RetentionError, match="node b's"):
        Retention(a.journal, a.config, clock).purge(jb, cause="erasure")
    assert b_spool.is_dir()

    # Node b's next retention pass finishes it; the erasure is then done, once.
    b.journal.scope = "b"
    Retention(b.journal, b.config, clock).run_due()
    assert not b_spool.exists()
    assert b.journal.job(jb).state is JobState.PURGED
    Retention(a.journal, a.config, clock).run_due()
    done = [e for e in a.journal.events() if e.kind == "erasure.done"]
    assert [(e.data["request"], e.data["jobs"]) for e in done] == [(plan.request, [ja, jb])]
    assert erasure_a.outstanding(plan.request) == {}
    assert a.journal.verify().first_bad is None


def test_a_node_never_purges_another_nodes_begun_purge(two_nodes) -> None:
    a, b, clock = two_nodes
    jb = b.job(JobState.DONE, "Only B")
    with b.journal.transaction() as tx:
        Retention(b.journal, b.config, clock).purger.begin(tx, jb, cause="erasure")
    # a's pass (scoped to a, as its daemon is) leaves it to b.
    a.journal.scope = "a"
    summary = Retention(a.journal, a.config, clock).run_due()
    assert summary.failed == []
    assert summary.purged == []
    assert b.journal.job(jb).state is JobState.DONE
    assert Path(b.journal.job(jb).spool).is_dir()


@pytest.mark.parametrize(
    ("state", "argv"),
    [
        pytest.param(JobState.HELD, ["retry"], id="retry"),
        pytest.param(JobState.HELD, ["cancel"], id="cancel"),
        pytest.param(JobState.DONE, ["reprint"], id="reprint"),
    ],
)
def test_a_command_on_another_nodes_job_is_refused_and_changes_nothing(
    two_nodes, capsys: pytest.CaptureFixture[str], state: JobState, argv: list[str]
) -> None:
    a, b, _ = two_nodes
    jb = b.job(state, "from-b")
    with RawDB(a.journal) as db:
        before = db.everything()
        code, _ = a.cli(*argv, str(jb))
        assert code == 12
        err = capsys.readouterr().err
        assert f"Job {jb} is {state.value}: it belongs to print server b" in err
        assert f"Run labd {argv[0]} {jb} there" in err
        assert db.everything() == before


def test_a_stick_received_at_one_shop_and_returned_at_the_other_is_one_item(two_nodes) -> None:
    a, b, _ = two_nodes
    at_a, at_b = MediaLedger(a.journal), MediaLedger(b.journal)
    item = at_a.register(MediaKind.USB, "SERIAL-SHOP-1", by="anna", orders=[ORDER])
    at_b.in_use(item.id, by="bob")
    at_b.ready(item.id, by="bob")
    at_b.returned(item.id, by="bob")
    [seen] = at_a.items(order=ORDER)
    assert (seen.id, seen.state) == (item.id, MediaState.RETURNED)
    assert [i.id for i in at_b.items()] == [item.id]
    kinds = [e.kind for e in a.journal.events() if e.kind.startswith("media.")]
    assert kinds == ["media.registered", "media.in_use", "media.ready", "media.returned"]
    assert b.journal.verify().first_bad is None


def test_the_journal_of_one_node(two_nodes) -> None:
    a, b, _ = two_nodes
    ja, jb = a.job(JobState.DONE, "from-a"), b.job(JobState.DONE, "from-b")
    code, text = a.cli("journal", "--node", "b", "--format", "json")
    assert code == 0
    jobs = {json.loads(line)["job_id"] for line in text.splitlines()}
    assert jobs == {jb}
    code, text = a.cli("journal", "--format", "json")
    assert {json.loads(line)["job_id"] for line in text.splitlines()} >= {ja, jb}
