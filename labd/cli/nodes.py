"""``labd nodes``: the print servers that share the journal, and whether each runs.

A node that stopped beating holds its jobs: nobody else follows, reconciles or purges
them (they are in its spool and its CUPS), and an erasure waits for it.  The supervisor
reads here which node that is and since when.
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.clock import readable
from labd.journal.nodes import job_counts, nodes


def cmd_nodes(args: argparse.Namespace, out: TextIO) -> int:
    """Every node with its last heartbeat, version, hot folders and jobs by state."""
    config = config_of(args)
    with open_journal(config) as journal:
        found = nodes(journal.store, down_seconds=config.journal.node_down_seconds)
        every = job_counts(journal.store)
    counts = {node.name: every.get(node.name, {}) for node in found}
    if args.format == "json":
        for node in found:
            row = {
                "node": node.name,
                "state": "down" if node.down else "up",
                "last_seen": node.last_seen,
                "silent_seconds": round(node.silent_seconds, 1),
                "started_at": node.started_at,
                "version": node.version,
                "hotfolders": list(node.hotfolders),
                "jobs": counts[node.name],
                "this": node.name == config.journal.node,
            }
            out.write(json.dumps(row) + "\n")
        return 0
    write_table(
        out,
        ["NODE", "STATE", "LAST SEEN", "SILENT", "VERSION", "HOT FOLDERS", "JOBS"],
        [
            [
                node.name + (" (this)" if node.name == config.journal.node else ""),
                "DOWN" if node.down else "up",
                readable(node.last_seen, config.timezone),
                f"{int(node.silent_seconds)} s",
                node.version,
                ", ".join(node.hotfolders) or "-",
                " ".join(f"{s}={n}" for s, n in counts[node.name].items()) or "-",
            ]
            for node in found
        ],
    )
    if not found:
        out.write("no node has run on this journal yet (labd run writes a heartbeat)\n")
    return 0


def register(sub: Subparsers) -> None:
    """Add ``nodes``."""
    p = sub.add_parser("nodes", help="the print servers sharing the journal, up or down")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_nodes)
