"""``labd web``: the console in a browser; ``labd user``: its accounts.

Accounts are changed here, on the print server, never over the web.  A password comes
from a prompt (asked twice), a file (``--password-file``, its first line) or standard
input when it is not a terminal (a script's pipe): never from the command line, where
``ps`` and the shell's history would show it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import tzinfo
from pathlib import Path
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.cli.media import default_user
from labd.clock import readable
from labd.config import web_listen
from labd.web.accounts import AccountError, Accounts, Role, check_name, check_password


def _listen(text: str) -> tuple[str, int]:
    try:
        return web_listen(text)
    except Exception as e:  # noqa: BLE001  # argparse wants its own error type
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_web(args: argparse.Namespace, _out: TextIO) -> int:
    """Serve the console until stopped (SIGTERM, Ctrl-C)."""
    from labd.web.server import serve  # noqa: PLC0415  # only this command pays for uvicorn

    config = config_of(args)
    with open_journal(config) as journal:
        serve(config, journal, args.listen or config.web.listen)
    return 0


def read_password(args: argparse.Namespace) -> str:
    """The new password: ``--password-file``, else standard input if it is not a terminal,
    else a prompt (twice, and both must match)."""
    if args.password_file is not None:
        lines = args.password_file.read_text().splitlines()
        return check_password(lines[0] if lines else "")
    if not sys.stdin.isatty():
        return check_password(sys.stdin.readline().rstrip("\r\n"))
    first = getpass.getpass(f"New password for {args.name}: ")
    check_password(first)
    if getpass.getpass("Again: ") != first:
        raise AccountError("the two passwords differ; nothing was changed")
    return first


def cmd_user(args: argparse.Namespace, out: TextIO) -> int:
    """Add, change, disable, enable or list the console's accounts."""
    config = config_of(args)
    by = default_user()
    with open_journal(config) as journal:
        accounts = Accounts(journal)
        if args.step == "list":
            _list(accounts, args.format, config.timezone, out)
            return 0
        if args.step == "add":
            check_name(args.name)  # before the prompt: a bad name, no password asked
            if accounts.get(args.name) is not None:
                raise AccountError(f"there is already an account {args.name!r} (labd user list)")
            account = accounts.add(args.name, Role(args.role), read_password(args), by=by)
            said = f"added, {account.role.value}"
        elif args.step == "passwd":
            accounts.must(args.name)  # before the prompt: no such account, no password asked
            accounts.set_password(args.name, read_password(args), by=by)
            said = "password changed (a lockout is lifted)"
        else:
            disabled = args.step == "disable"
            accounts.set_disabled(args.name, disabled=disabled, by=by)
            said = "disabled: its sessions end now" if disabled else "enabled"
    out.write(f"user {args.name}: {said}\n")
    return 0


def _list(accounts: Accounts, fmt: str, zone: tzinfo | None, out: TextIO) -> None:
    rows = accounts.all()
    if fmt == "json":
        for a in rows:
            out.write(
                json.dumps(
                    {
                        "name": a.name,
                        "role": a.role.value,
                        "disabled": a.disabled,
                        "locked_until": a.locked_until,
                        "created_at": a.created_at,
                        "last_login_at": a.last_login_at,
                    }
                )
                + "\n"
            )
        return
    cells = [
        [
            a.name,
            a.role.value,
            "disabled" if a.disabled else "enabled",
            readable(a.locked_until, zone),
            readable(a.last_login_at, zone),
        ]
        for a in rows
    ]
    write_table(out, ["NAME", "ROLE", "STATE", "LOCKED UNTIL", "LAST LOGIN"], cells)


def register(sub: Subparsers) -> None:
    """Add ``web`` and ``user``."""
    web = sub.add_parser("web", help="serve the console in a browser ([web] in the configuration)")
    web.add_argument(
        "--listen",
        type=_listen,
        metavar="ADDRESS:PORT",
        help="where to listen (default: [web] listen, or 127.0.0.1:8631)",
    )
    web.set_defaults(func=cmd_web)
    user = sub.add_parser("user", help="the console's accounts: add, passwd, disable, list")
    steps = user.add_subparsers(dest="step", required=True, metavar="STEP")
    add = steps.add_parser("add", help="a new account (the password is asked for)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    passwd = steps.add_parser("passwd", help="set an account's password; lifts a lockout")
    passwd.add_argument("name")
    for parser in (add, passwd):
        parser.add_argument(
            "--password-file",
            type=Path,
            metavar="FILE",
            help="read the password from FILE's first line (default: standard input when "
            "it is not a terminal, else a prompt)",
        )
    for step, what in (("disable", "no more logins; its sessions end"), ("enable", "again")):
        steps.add_parser(step, help=f"{step} an account: {what}").add_argument("name")
    listing = steps.add_parser("list", help="every account, its role and state")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    user.set_defaults(func=cmd_user)
