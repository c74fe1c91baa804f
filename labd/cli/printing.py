"""``labd retry``, ``cancel``, ``reprint``, ``resolve``: a technician's decisions on jobs.

Each writes to the journal only (and cancels CUPS jobs); a running daemon picks the change
up on its next follow pass.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal
from labd.printing import CupsClient
from labd.printing.actions import cancel_job, reprint_job, resolve_job, retry_job


def cmd_retry(args: argparse.Namespace, out: TextIO) -> int:
    """Put a held job back into the life cycle."""
    config = config_of(args)
    with open_journal(config) as journal:
        again = retry_job(journal, CupsClient(config.cups_server), args.job, by=getpass.getuser())
        state = journal.job(args.job).state
    printed_again = ", ".join(map(str, again)) or "none"
    out.write(f"job {args.job}: {state.value}; outputs printed again: {printed_again}\n")
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


def register(sub: Subparsers) -> None:
    """Add retry, cancel, reprint and resolve."""
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
