"""The print servers (nodes) that share a journal, and their heartbeats.

Every labd daemon writes its heartbeat here: its node name, labd's version, its hot
folders, when it started and when it was last seen.  ``labd nodes`` lists them, and
``labd status`` says which node has been silent for longer than ``node_down_seconds`` —
a node that is down holds its jobs (nobody else follows, reconciles or purges them), so
the supervisor must know.  A journal of one server has one row: its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from labd.store import Schema, Store

NODES_SCHEMA: Final = Schema(
    "nodes",
    (
        (
            """CREATE TABLE nodes (
                name TEXT PRIMARY KEY,
                version TEXT NOT NULL,
                hotfolders TEXT NOT NULL,
                started_at TEXT NOT NULL,
                last_seen TEXT NOT NULL
            )""",
        ),
    ),
)


@dataclass(frozen=True)
class Node:
    """One print server as its last heartbeat described it."""

    name: str
    version: str
    hotfolders: tuple[str, ...]
    started_at: str
    last_seen: str
    silent_seconds: float  # since its last heartbeat, by this server's clock
    down: bool


def beat(
    store: Store, node: str, *, version: str, hotfolders: Sequence[str], started_at: str
) -> None:
    """Record that ``node`` is alive now (a quick write; not a chained event)."""
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO nodes (name, version, hotfolders, started_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "version = excluded.version, hotfolders = excluded.hotfolders, "
            "started_at = excluded.started_at, last_seen = excluded.last_seen",
            (node, version, ",".join(sorted(hotfolders)), started_at, tx.now()),
        )


def nodes(store: Store, *, down_seconds: float) -> list[Node]:
    """Every node that ever beat, by name, with how long each has been silent."""
    now = store.clock.now()
    found = []
    for r in store.read(
        "SELECT name, version, hotfolders, started_at, last_seen FROM nodes ORDER BY name"
    ):
        seen = datetime.fromisoformat(r.text("last_seen"))
        silent = max(0.0, (now - seen).total_seconds())
        found.append(
            Node(
                name=r.text("name"),
                version=r.text("version"),
                hotfolders=tuple(h for h in r.text("hotfolders").split(",") if h),
                started_at=r.text("started_at"),
                last_seen=r.text("last_seen"),
                silent_seconds=silent,
                down=silent > down_seconds,
            )
        )
    return found


def node_names(store: Store) -> list[str]:
    """Every node the journal knows: those that beat, and those that claimed a job."""
    rows = store.read(
        "SELECT name FROM nodes UNION SELECT node FROM jobs WHERE node IS NOT NULL ORDER BY 1"
    )
    return [r.text("name") for r in rows]


def job_counts(store: Store) -> dict[str, dict[str, int]]:
    """How many jobs each node has in each state, in one read: node -> state -> count."""
    counts: dict[str, dict[str, int]] = {}
    rows = store.read(
        "SELECT node, state, count(*) AS n FROM jobs WHERE node IS NOT NULL "
        "GROUP BY node, state ORDER BY node, state"
    )
    for r in rows:
        counts.setdefault(r.text("node"), {})[r.text("state")] = r.integer("n")
    return counts
