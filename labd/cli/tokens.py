"""``labd token``: the JSON API's tokens, one per integration (``labd.web.tokens``).

Made and revoked on the print server, as accounts are.  The secret is printed once, when
the token is made, on standard output alone (a script can take it from there into the
integration's configuration); nothing can show it again: a lost secret is revoked and a
new token made.
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.cli.media import default_user
from labd.clock import readable
from labd.web.accounts import Role
from labd.web.tokens import ROLES, Tokens


def cmd_token(args: argparse.Namespace, out: TextIO) -> int:
    """Add, revoke or list the API's tokens."""
    config = config_of(args)
    with open_journal(config) as journal:
        tokens = Tokens(journal)
        if args.step == "add":
            token, secret = tokens.add(args.name, Role(args.role), by=default_user())
            out.write(
                f"token {token.name}: added, {token.role.value}. Its secret, shown this once "
                "(send it as 'Authorization: Bearer SECRET'):\n"
                f"{secret}\n"
            )
        elif args.step == "revoke":
            tokens.revoke(args.name, by=default_user())
            out.write(f"token {args.name}: revoked: refused from its next use on\n")
        elif args.format == "json":
            for t in tokens.all():
                row = {
                    "name": t.name,
                    "role": t.role.value,
                    "created_at": t.created_at,
                    "revoked_at": t.revoked_at,
                    "last_used_at": t.last_used_at,
                }
                out.write(json.dumps(row) + "\n")
        else:
            zone = config.timezone
            cells = [
                [
                    t.name,
                    t.role.value,
                    "revoked" if t.revoked_at else "live",
                    readable(t.created_at, zone),
                    readable(t.revoked_at, zone) if t.revoked_at else "-",
                    readable(t.last_used_at, zone) if t.last_used_at else "-",
                ]
                for t in tokens.all()
            ]
            write_table(out, ["NAME", "ROLE", "STATE", "CREATED", "REVOKED", "LAST USED"], cells)
    return 0


def register(sub: Subparsers) -> None:
    """Add ``token``."""
    token = sub.add_parser("token", help="the JSON API's tokens: add, revoke, list")
    steps = token.add_subparsers(dest="step", required=True, metavar="STEP")
    add = steps.add_parser("add", help="a new token for an integration; its secret is shown once")
    add.add_argument("name", help="the integration's name, like a user name (erp, wall-screen)")
    add.add_argument("--role", required=True, choices=[r.value for r in ROLES])
    revoke = steps.add_parser("revoke", help="refuse a token from its next use on")
    revoke.add_argument("name")
    listing = steps.add_parser("list", help="every token, its role and state (no secrets)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    token.set_defaults(func=cmd_token)
