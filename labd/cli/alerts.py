"""``labd alerts``: try the channels, see the open alerts and the outbox."""

from __future__ import annotations

import argparse
from typing import TextIO

from labd.alerts.model import AlertError, AlertKind, DeliveryFailed
from labd.alerts.outbox import Outbox
from labd.alerts.service import journal_tests, test_channels
from labd.alerts.settings import MailChannel
from labd.cli.common import Subparsers, config_of, open_journal, write_table
from labd.clock import SystemClock, readable
from labd.config import Config


def cmd_alerts(args: argparse.Namespace, out: TextIO) -> int:
    """``test``: one message on each channel; ``list``: open alerts and the outbox."""
    config = config_of(args)
    if args.action == "list":
        return _list(config, out)
    if not config.alerts.channels:
        raise AlertError(
            f"{config.source} names no channel: add [alerts.mail] or [alerts.webhook] "
            "(README, 'Alerts and the daily digest')"
        )
    results = test_channels(config, SystemClock().now())
    for name, problem in results.items():
        channel = config.alerts.channel(name)
        if problem is not None:
            out.write(f"{name}: FAILED: {problem}\n")
        elif isinstance(channel, MailChannel):
            to = ", ".join(channel.recipients_of(AlertKind.TEST))
            out.write(
                f"{name}: sent to {to} via {channel.host}:{channel.port} ({channel.security})\n"
            )
        elif channel is not None:
            out.write(f"{name}: sent to {channel.url}, signed\n")
    if config.journal_exists:
        with open_journal(config) as journal:
            journal_tests(journal, results)
    failed = [name for name, problem in results.items() if problem is not None]
    if failed:
        raise DeliveryFailed(", ".join(failed), "see above; nothing was sent there")
    return 0


def _list(config: Config, out: TextIO) -> int:
    zone = config.timezone
    with open_journal(config) as journal:
        outbox = Outbox(journal)
        alerts, messages = outbox.open_alerts(), outbox.messages()
    out.write("open alerts:\n")
    write_table(
        out,
        ["ALERT", "KIND", "RAISED", "SUBJECT"],
        [[str(a.id), a.kind.value, readable(a.raised_at, zone), a.subject] for a in alerts],
    )
    out.write("\noutbox (waiting to be sent):\n")
    write_table(
        out,
        ["MSG", "ALERT", "STATUS", "CHANNEL", "ATTEMPTS", "NOT BEFORE", "NEXT TRY", "LAST ERROR"],
        [
            [
                str(m.id),
                str(m.alert_id) if m.alert_id is not None else m.kind.value,
                m.status.value,
                m.channel + (f" ({', '.join(m.recipients)})" if m.recipients else ""),
                str(m.attempts),
                readable(m.not_before, zone),
                readable(m.next_try, zone),
                m.last_error or "-",
            ]
            for m in messages
        ],
    )
    return 0


def register(sub: Subparsers) -> None:
    """Add ``alerts``."""
    alerts = sub.add_parser(
        "alerts", help="test the alert channels, or list open alerts and the outbox"
    )
    alerts.add_argument(
        "action",
        choices=["test", "list"],
        help="test: send one test message on each channel; list: open alerts and the outbox",
    )
    alerts.set_defaults(func=cmd_alerts)
