"""Sending: SMTP with the standard library's smtplib and ssl, the webhook with urllib.

The only part of labd that opens network connections for alerts.  Every failure (the
server down, refused login, a certificate that does not verify, an HTTP error, a timeout,
a secret file labd may not read) is a :class:`~labd.alerts.model.DeliveryFailed` naming
the channel and the problem, never the secret: the outbox keeps the message and tries
again.  Secrets are read from their files at each send, so a changed password needs no
reload.

The webhook is signed so its receiver can check the document came from labd and is fresh:
``X-Labd-Timestamp`` is the send's Unix time, and ``X-Labd-Signature`` is
``sha256=`` and the hex HMAC-SHA256, keyed with the secret file's content, of the
timestamp, a ``.``, and the body's bytes.  A receiver recomputes it, compares in constant
time, and refuses a timestamp more than a few minutes old (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Final

from labd import __version__
from labd.alerts.model import DeliveryFailed
from labd.alerts.settings import MailChannel, WebhookChannel

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "post_webhook", "send_mail", "sign"]

SIGNATURE_HEADER: Final = "X-Labd-Signature"
TIMESTAMP_HEADER: Final = "X-Labd-Timestamp"
_SECRET_MAX_BYTES: Final = 4096


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC of "<timestamp>." + body>``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send_mail(
    channel: MailChannel, to: Sequence[str], subject: str, text: str, *, now: datetime
) -> None:
    """Send one plain-text mail to ``to`` through the channel's server."""
    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("labd", domain=channel.sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to labd
    message.set_content(text)
    login = _login(channel)
    try:
        with _connect(channel) as smtp:
            if login is not None:
                smtp.login(*login)
            smtp.send_message(message, to_addrs=list(to))
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryFailed("mail", f"the server refused the login ({e.smtp_code})") from None
    except smtplib.SMTPException as e:
        raise DeliveryFailed("mail", f"{channel.host}:{channel.port}: {_smtp_problem(e)}") from e
    except ssl.SSLError as e:
        raise DeliveryFailed(
            "mail", f"{channel.host}:{channel.port}: TLS failed: {e.reason or e}"
        ) from e
    except OSError as e:
        raise DeliveryFailed("mail", f"{channel.host}:{channel.port}: {_os_problem(e)}") from e


def _connect(channel: MailChannel) -> smtplib.SMTP:
    """A connection in the channel's security: TLS from the start, STARTTLS, or none."""
    timeout = channel.timeout_seconds
    if channel.security == "tls":
        return smtplib.SMTP_SSL(
            channel.host, channel.port, timeout=timeout, context=_tls(channel.name, channel.ca_file)
        )
    smtp = smtplib.SMTP(channel.host, channel.port, timeout=timeout)
    try:
        if channel.security == "starttls":
            smtp.starttls(context=_tls(channel.name, channel.ca_file))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _login(channel: MailChannel) -> tuple[str, str] | None:
    """(user, password) from the credentials file: the user on line 1, the password on 2."""
    if channel.credentials is None:
        return None
    lines = _read_secret("mail", channel.credentials).decode(errors="replace").splitlines()
    if len(lines) < 2 or not lines[0].strip():
        raise DeliveryFailed(
            "mail",
            f"{channel.credentials}: expected the user name on the first line and the "
            "password on the second",
        )
    return lines[0].strip(), lines[1]


def post_webhook(channel: WebhookChannel, body: bytes, *, now: datetime) -> None:
    """POST the JSON document ``body`` to the channel's URL, signed; a 2xx answer is success."""
    secret = _read_secret("webhook", channel.secret).strip()
    if not secret:
        raise DeliveryFailed("webhook", f"{channel.secret} is empty; it holds the signing key")
    timestamp = str(int(now.timestamp()))
    request = urllib.request.Request(  # noqa: S310  # the URL's scheme is checked: http(s) only
        channel.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"labd/{__version__}",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        },
    )
    # No proxy from the environment: alerts go where the configuration says, directly.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=_tls(channel.name, channel.ca_file)),
    )
    try:
        with opener.open(request, timeout=channel.timeout_seconds) as answer:
            answer.read(1024)
    except urllib.error.HTTPError as e:
        raise DeliveryFailed("webhook", f"{channel.url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason if isinstance(e.reason, str) else _os_problem(e.reason)
        raise DeliveryFailed("webhook", f"{channel.url}: {reason}") from e
    except OSError as e:
        raise DeliveryFailed("webhook", f"{channel.url}: {_os_problem(e)}") from e


def _tls(channel: str, ca_file: Path | None) -> ssl.SSLContext:
    """Certificates verified, host names checked: the system's CAs, and ``ca_file``."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as e:
            raise DeliveryFailed(channel, f"cannot load the CA file {ca_file}: {e}") from e
    return context


def _read_secret(channel: str, path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(_SECRET_MAX_BYTES)
    except OSError as e:
        raise DeliveryFailed(
            channel, f"cannot read {path}: {e.strerror or e} (it must be readable by labd)"
        ) from None


def _smtp_problem(error: smtplib.SMTPException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{error.smtp_code} {text}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return f"recipients refused: {', '.join(sorted(error.recipients))}"
    return str(error) or type(error).__name__


def _os_problem(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
