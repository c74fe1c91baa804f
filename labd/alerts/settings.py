"""``[alerts]``: where alerts go (mail, webhook), which kinds, when, and with what in them.

Parsed as the rest of the configuration is (:mod:`labd.config` calls :func:`parse_alerts`
with its table reader), so every mistake names the file and the key and nothing of a bad
file is applied.  Secrets are never in the configuration: the SMTP login and the webhook's
signing key are files the configuration names, read when a message is sent (so a
technician's ``labd jobs``, which loads the configuration too, needs no access to them).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Final
from urllib.parse import urlsplit

from labd.alerts.model import ALERT_KINDS, DEFAULT_URGENT, AlertKind

if TYPE_CHECKING:
    from labd.config import _Table

__all__ = [
    "DEFAULT_DIGEST_AT",
    "DEFAULT_HELD_MINUTES",
    "SECURITY",
    "AlertSettings",
    "MailChannel",
    "WebhookChannel",
    "parse_alerts",
]

SECURITY: Final = ("starttls", "tls", "none")
DEFAULT_HELD_MINUTES: Final = 15.0
DEFAULT_DIGEST_AT: Final = time(7, 0)
_DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
_EMAIL: Final = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s.,<>]+$")
_CLOCK: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_LOOPBACK_NAMES: Final = ("localhost",)
_ROUTABLE: Final = frozenset(AlertKind(k) for k in ALERT_KINDS)  # every kind but the test


@dataclass(frozen=True)
class MailChannel:
    """``[alerts.mail]``: an SMTP server and who gets which kind."""

    host: str
    port: int
    security: str  # starttls | tls | none
    sender: str
    to: tuple[str, ...]  # every kind not named in ``recipients``
    recipients: Mapping[str, tuple[str, ...]]  # kind -> its own recipients, instead of ``to``
    kinds: frozenset[AlertKind]
    credentials: Path | None = None  # user name on line 1, password on line 2
    ca_file: Path | None = None  # a CA to trust besides the system's (a lab's own server)
    timeout_seconds: float = 30.0

    name: ClassVar[str] = "mail"

    def recipients_of(self, kind: AlertKind) -> tuple[str, ...]:
        """Who gets a message of ``kind``."""
        return self.recipients.get(kind.value, self.to)


@dataclass(frozen=True)
class WebhookChannel:
    """``[alerts.webhook]``: an HTTPS endpoint that takes a signed JSON document."""

    url: str
    secret: Path  # the HMAC-SHA256 key, the whole file (surrounding whitespace dropped)
    kinds: frozenset[AlertKind]
    ca_file: Path | None = None
    timeout_seconds: float = 10.0

    name: ClassVar[str] = "webhook"


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``; without a channel labd sends nothing (the default)."""

    mail: MailChannel | None = None
    webhook: WebhookChannel | None = None
    held_minutes: float = DEFAULT_HELD_MINUTES  # a held job this long raises an alert
    quiet_hours: tuple[time, time] | None = None  # local time; the end is when they go
    urgent: frozenset[AlertKind] = DEFAULT_URGENT  # sent in quiet hours too
    include_personal: bool = False  # file names, order references, reasons in the body
    digest_at: time | None = DEFAULT_DIGEST_AT  # local time; None: no digest
    check_seconds: float = 30.0  # how often conditions are evaluated and the outbox sent

    @property
    def channels(self) -> tuple[MailChannel | WebhookChannel, ...]:
        """The configured channels; none: labd sends no alerts."""
        return tuple(c for c in (self.mail, self.webhook) if c is not None)

    def channel(self, name: str) -> MailChannel | WebhookChannel | None:
        """The configured channel of that name (``mail``, ``webhook``), or None."""
        return next((c for c in self.channels if c.name == name), None)


def parse_alerts(t: _Table) -> AlertSettings:
    """``[alerts]`` read by ``t``; every error names the file and the key."""
    held = float(t.number("held_minutes", DEFAULT_HELD_MINUTES, low=1, high=7 * 24 * 60))
    check = float(t.number("check_seconds", 30.0, low=1, high=3600))
    personal = t.flag("include_personal", default=False)
    quiet = _quiet_hours(t)
    urgent = _kinds(t, "urgent", DEFAULT_URGENT)
    raw_digest = t.string("digest_at", "07:00").strip()
    digest = _clock(t, "digest_at", raw_digest) if raw_digest else None
    mail_data, hook_data = t.table("mail"), t.table("webhook")
    # The sub-tables are read by the same reader, so their errors name their full keys.
    mail = _mail(type(t)(t.file, t.key("mail"), mail_data)) if mail_data else None
    webhook = _webhook(type(t)(t.file, t.key("webhook"), hook_data)) if hook_data else None
    t.finish()
    return AlertSettings(
        mail=mail,
        webhook=webhook,
        held_minutes=held,
        quiet_hours=quiet,
        urgent=urgent,
        include_personal=personal,
        digest_at=digest,
        check_seconds=check,
    )


def _mail(t: _Table) -> MailChannel:
    host = t.string("host").strip()
    security = t.choice("security", SECURITY, "starttls")
    port = t.integer("port", _DEFAULT_PORTS[security], low=1, high=65535)
    sender = _address(t, "from", t.string("from"))
    to = tuple(_address(t, "to", a) for a in t.strings("to", ()))
    given = t.table("recipients")
    recipients: dict[str, tuple[str, ...]] = {}
    for kind, value in given.items():
        key = f"recipients.{kind}"
        if kind not in ALERT_KINDS:
            raise t.error(key, f"no alert kind {kind!r}; kinds: {', '.join(ALERT_KINDS)}")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise t.error(key, "expected a list of e-mail addresses")
        recipients[kind] = tuple(_address(t, key, a) for a in value)
    kinds = _kinds(t, "kinds", _ROUTABLE)
    missing = sorted(k.value for k in kinds if not recipients.get(k, to))
    if missing:
        raise t.error(
            "to",
            f"no recipients for {', '.join(missing)}; give `to` (everyone) or "
            "`recipients.KIND` for each kind the channel sends",
        )
    credentials = _file(t, "credentials")
    if credentials is not None and security == "none":
        raise t.error(
            "credentials",
            'a password is never sent unencrypted; use security = "starttls" or "tls"',
        )
    channel = MailChannel(
        host=host,
        port=port,
        security=security,
        sender=sender,
        to=to,
        recipients=MappingProxyType(recipients),
        kinds=kinds,
        credentials=credentials,
        ca_file=_file(t, "ca_file"),
        timeout_seconds=float(t.number("timeout_seconds", 30.0, low=1, high=60)),
    )
    t.finish()
    return channel


def _webhook(t: _Table) -> WebhookChannel:
    url = t.string("url").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise t.error("url", f"{url!r} is not a URL like https://alerts.lab.example/labd")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise t.error(
            "url",
            f"{url!r} would send alerts unencrypted over the network; use https:// "
            "(http:// only to a loopback address, such as a local relay)",
        )
    secret = _file(t, "secret")
    if secret is None:
        raise t.error("secret", "missing; the file with the key the body is signed with")
    channel = WebhookChannel(
        url=url,
        secret=secret,
        kinds=_kinds(t, "kinds", _ROUTABLE),
        ca_file=_file(t, "ca_file"),
        timeout_seconds=float(t.number("timeout_seconds", 10.0, low=1, high=60)),
    )
    t.finish()
    return channel


def _kinds(t: _Table, name: str, default: frozenset[AlertKind]) -> frozenset[AlertKind]:
    values = t.strings(name, tuple(sorted(k.value for k in default)))
    unknown = [v for v in values if v not in ALERT_KINDS]
    if unknown:
        raise t.error(name, f"no alert kind {unknown[0]!r}; kinds: {', '.join(ALERT_KINDS)}")
    return frozenset(AlertKind(v) for v in values)


def _address(t: _Table, name: str, value: str) -> str:
    if not _EMAIL.match(value.strip()):
        raise t.error(name, f"{value!r} is not an e-mail address like lab@example.com")
    return value.strip()


def _clock(t: _Table, name: str, value: str) -> time:
    match = _CLOCK.match(value.strip())
    if match is None:
        raise t.error(name, f'{value!r} is not a time of day like "07:00" (24-hour clock)')
    return time(int(match.group(1)), int(match.group(2)))


def _quiet_hours(t: _Table) -> tuple[time, time] | None:
    raw = t.string("quiet_hours", "").strip()
    if not raw:
        return None
    start, dash, end = raw.partition("-")
    if not dash:
        raise t.error("quiet_hours", f'{raw!r} is not a span like "22:00-06:00"')
    first, last = _clock(t, "quiet_hours", start), _clock(t, "quiet_hours", end)
    if first == last:
        raise t.error("quiet_hours", f"{raw!r} starts where it ends; leave it empty for none")
    return first, last


def _file(t: _Table, name: str) -> Path | None:
    """A file path, relative to the configuration file; read when it is used, not now."""
    raw = t.string(name, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(t.file).absolute().parent / path


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
