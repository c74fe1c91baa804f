"""``labd hold``, ``release``, ``erase`` and ``retention``: keeping and deleting customer data."""

from __future__ import annotations

import argparse
import getpass
import json
import time
from datetime import timedelta
from typing import Final, TextIO

from labd.cli.common import (
    Subparsers,
    add_node_option,
    config_of,
    open_journal,
    select_node,
    write_table,
)
from labd.clock import SystemClock, readable
from labd.config import Config
from labd.journal import Journal
from labd.printing import CupsClient
from labd.privacy.model import ErasurePlan
from labd.privacy.retention import Retention

PENDING_EXIT: Final = 33


def _retention(config: Config, journal: Journal) -> Retention:
    return Retention(journal, config, SystemClock(), CupsClient(config.cups_server))


def cmd_hold(args: argparse.Namespace, out: TextIO) -> int:
    """Place a legal hold on a job or an order: nothing of it is deleted until released."""
    config = config_of(args)
    with open_journal(config) as journal:
        hold = _retention(config, journal).hold(
            job_id=args.job, order_ref=args.order, by=args.by, reason=args.reason
        )
    out.write(f"hold {hold.id} placed\n")
    return 0


def cmd_release(args: argparse.Namespace, out: TextIO) -> int:
    """Release legal holds: by number, or every active one of a job or an order."""
    config = config_of(args)
    with open_journal(config) as journal:
        released = _retention(config, journal).release(
            hold_id=args.hold, job_id=args.job, order_ref=args.order, by=args.by,
            reason=args.reason,
        )  # fmt: skip
    out.write(f"released hold(s) {', '.join(str(h.id) for h in released)}\n")
    return 0


def cmd_erase(args: argparse.Namespace, out: TextIO) -> int:
    """Erase an order's or a job's files and personal data, keeping a tombstone."""
    config = config_of(args)
    with open_journal(config) as journal:
        retention = _retention(config, journal)
        if args.dry_run:
            plan = retention.plan(order_ref=args.order, job_id=args.job)
        else:
            plan = retention.erase(
                order_ref=args.order, job_id=args.job, by=args.by, request=args.request
            )
            left = _wait_for_nodes(retention, plan, args.wait)
    verb = "would erase" if args.dry_run else "erased"
    out.write(
        f"{verb}: jobs {', '.join(map(str, plan.jobs)) or '-'}; files of jobs "
        f"{', '.join(map(str, plan.purge)) or '-'} ({plan.files} files, {plan.bytes} bytes, "
        f"{plan.cups_jobs} CUPS jobs); personal data of {plan.media_items} media items and "
        f"{plan.waste_entries} waste entries\n"
    )
    if plan.pending:
        out.write(
            f"not finished for jobs {', '.join(map(str, plan.pending))} (CUPS unreachable): "
            "the daemon finishes them, or run this again\n"
        )
        return PENDING_EXIT
    if not args.dry_run and left:
        for node, jobs in sorted(left.items()):
            out.write(
                f"node {node} has still to delete the files of jobs {', '.join(map(str, jobs))}: "
                "it does on its next retention pass (labd nodes shows whether it runs); "
                f"erasure {plan.request} is done when it has\n"
            )
        return PENDING_EXIT
    return 0


def _wait_for_nodes(
    retention: Retention, plan: ErasurePlan, seconds: float
) -> dict[str, list[int]]:
    """Wait up to ``seconds`` for the other nodes to delete their files of ``plan``'s jobs;
    what is left, node -> jobs."""
    if plan.request is None or not plan.elsewhere:
        return {}
    deadline = time.monotonic() + seconds
    while True:
        left = retention.erasure.outstanding(plan.request)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def cmd_retention(args: argparse.Namespace, out: TextIO) -> int:
    """List jobs due for deletion (or held), list holds, or run the deletion now."""
    config = config_of(args)
    with open_journal(config) as journal:
        retention = _retention(config, journal)
        if args.action == "run":
            if journal.store.shared:
                journal.scope = config.journal.node  # this server's files, no other's
            out.write(json.dumps(retention.run_due().as_dict()) + "\n")
            return 0
        if args.action == "holds":
            write_table(
                out,
                ["HOLD", "JOB", "ORDER", "BY", "PLACED", "REASON"],
                [
                    [str(h.id), str(h.job_id or "-"), h.order_ref or "-", h.placed_by,
                     readable(h.placed_at, config.timezone), h.reason or ""]
                    for h in retention.holds()
                ],
            )  # fmt: skip
            return 0
        select_node(journal, args.node)
        due = retention.due(until=SystemClock().now() + timedelta(days=args.within))
    write_table(
        out,
        ["JOB", "HOTFOLDER", "STATE", "FINISHED", "DUE", "HELD"],
        [
            [str(d.job_id), d.hotfolder, d.state.value, readable(d.finished_at, config.timezone),
             readable(d.due_at, config.timezone), "held" if d.held else ""]
            for d in due
        ],
    )  # fmt: skip
    return 0


def register(sub: Subparsers) -> None:
    """Add ``hold``, ``release``, ``erase`` and ``retention``."""
    user = getpass.getuser()
    hold = sub.add_parser("hold", help="stop the deletion of a job or an order (legal hold)")
    target = hold.add_mutually_exclusive_group(required=True)
    target.add_argument("job", nargs="?", type=int, help="the job")
    target.add_argument("--order", help="every job of this order, also later ones")
    hold.add_argument("--reason", required=True, help="why (e.g. the complaint's number)")
    hold.add_argument("--by", default=user, help="who (default: you)")
    hold.set_defaults(func=cmd_hold)

    release = sub.add_parser("release", help="release a legal hold")
    which = release.add_mutually_exclusive_group(required=True)
    which.add_argument("job", nargs="?", type=int, help="every active hold of this job")
    which.add_argument("--hold", type=int, help="the hold's number")
    which.add_argument("--order", help="every active hold of this order")
    release.add_argument("--reason", required=True)
    release.add_argument("--by", default=user)
    release.set_defaults(func=cmd_release)

    erase = sub.add_parser("erase", help="erase an order's or a job's files and personal data")
    what = erase.add_mutually_exclusive_group(required=True)
    what.add_argument("--order", help="the order reference")
    what.add_argument("--job", type=int, help="one job")
    erase.add_argument("--dry-run", action="store_true", help="show what would go; change nothing")
    erase.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="in a shared journal: wait this long for the other nodes to delete their files",
    )
    erase.add_argument("--by", default=user, help="who erases (default: you)")
    erase.add_argument(
        "--request", default="", help="the request's reference number (chained: no names)"
    )
    erase.set_defaults(func=cmd_erase)

    retention = sub.add_parser("retention", help="jobs due for deletion, holds, or delete now")
    retention.add_argument("action", nargs="?", choices=["due", "holds", "run"], default="due")
    retention.add_argument(
        "--within", type=int, default=0, help="also jobs due within this many days"
    )
    add_node_option(retention, "jobs due")
    retention.set_defaults(func=cmd_retention)
