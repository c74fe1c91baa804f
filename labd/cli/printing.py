"""``labd retry``, ``cancel``, ``reprint``, ``resolve``, ``close``: a technician's decisions
on jobs.

Each writes to the journal only (and cancels CUPS jobs); a running daemon picks the change
up on its next follow pass.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal
from labd.printing import CupsClient
from labd.printing.actions import cancel_job, close_job, reprint_job, resolve_job, retry_job


def cmd_retry(args: argparse.Namespace, out: TextIO) -> int:
    """Put a held job back into the life cycle."""
    config = config_of(args)
    with open_journal(config) as journal:
        again = retry_job(journal, CupsClient(config.cups_server), args.job, by=getpass.getuser())
        state = journal.job(args.job).state
        # Outputs CUPS never had (a job held before it was sent): they print for the first time.
        first = [o.seq for o in journal.outputs(args.job) if o.cups_job_id is None]
        first = [seq for seq in first if seq not in again]
    said = [f"job {args.job}: {state.value}"]
    if again:
        said.append(f"outputs printed again: {', '.join(map(str, again))}")
    if first:
        said.append(f"outputs printed for the first time: {', '.join(map(str, first))}")
    if not again and not first:
        said.append("nothing to print again (converted anew, or CUPS has every output)")
    out.write("; ".join(said) + "\n")
    return 0


def cmd_cancel(args: argparse.Namespace, out: TextIO) -> int:
    """Cancel a job and its CUPS jobs."""
    config = config_of(args)
    with open_journal(config) as journal:
        cancelled = cancel_job(
            journal, CupsClient(config.cups_server), args.job, by=getpass.getuser()
        )
    ids = ", ".join(map(str, cancelled)) or "none"
    out.write(f"job {args.job}: CANCELED; CUPS jobs cancelled: {ids}\n")
    return 0


def cmd_reprint(args: argparse.Namespace, out: TextIO) -> int:
    """Print a job's outputs again, as a new job linked to it."""
    with open_journal(config_of(args)) as journal:
        new = reprint_job(journal, args.job, args.files, by=getpass.getuser())
    out.write(f"job {new.id}: reprint of job {args.job}, {new.state.value}\n")
    return 0


def cmd_resolve(args: argparse.Namespace, out: TextIO) -> int:
    """Decide an UNCERTAIN job: it printed, or print it again."""
    with open_journal(config_of(args)) as journal:
        state = resolve_job(journal, args.job, args.decision, by=getpass.getuser())
    out.write(f"job {args.job}: {state.value}\n")
    return 0


def cmd_close(args: argparse.Namespace, out: TextIO) -> int:
    """Close a quarantined job whose files will not come again: out of "needs attention"."""
    with open_journal(config_of(args)) as journal:
        job = close_job(
            journal,
            args.job,
            by=getpass.getuser(),
            reason=args.reason,
            replaced_by=args.replaced_by,
        )
    replaced = f", replaced by job {args.replaced_by}" if args.replaced_by is not None else ""
    out.write(
        f"job {job.id}: {job.state.value}, closed{replaced}; its files stay in the quarantine "
        "until its retention period ends (labd retention due)\n"
    )
    return 0


def register(sub: Subparsers) -> None:
    """Add retry, cancel, reprint, resolve and close."""
    retry = sub.add_parser("retry", help="put a held job back into the life cycle")
    retry.add_argument("job", type=int)
    retry.set_defaults(func=cmd_retry)
    cancel = sub.add_parser("cancel", help="cancel a job and its CUPS jobs")
    cancel.add_argument("job", type=int)
    cancel.set_defaults(func=cmd_cancel)
    reprint = sub.add_parser("reprint", help="print a job again, as a new linked job")
    reprint.add_argument("job", type=int)
    reprint.add_argument(
        "--files", type=int, nargs="+", metavar="SEQ", help="only these outputs (default: all)"
    )
    reprint.set_defaults(func=cmd_reprint)
    resolve = sub.add_parser("resolve", help="decide an UNCERTAIN job")
    resolve.add_argument("job", type=int)
    resolve.add_argument("decision", choices=["printed", "reprint"])
    resolve.set_defaults(func=cmd_resolve)
    close = sub.add_parser(
        "close", help="close a QUARANTINED job whose files will not be dropped in again"
    )
    close.add_argument("job", type=int)
    close.add_argument("--reason", required=True, help="why (kept in the journal, erasable)")
    close.add_argument(
        "--replaced-by", type=int, metavar="JOB", help="the job its fixed files became"
    )
    close.set_defaults(func=cmd_close)
