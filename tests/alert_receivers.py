"""Real receivers for labd's alerts in tests: an SMTP server and an HTTPS webhook endpoint.

:class:`MailSink` is aiosmtpd on a loopback port, requiring STARTTLS and a login, keeping
every message's bytes.  :class:`HookSink` is the standard library's HTTP server behind TLS
on a loopback port, checking each POST's signature as a lab's receiver would (401 when it
does not match).  Both use a certificate for 127.0.0.1 made by ``openssl`` in the test
(:func:`make_certificate`); labd trusts it through ``ca_file``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USER, PASSWORD = "labd-alerts", "s3cret pass:word"
SECRET = b"the webhook's signing key"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Handler:
    received: list[bytes] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802  # aiosmtpd's hook name
        content = envelope.original_content or b""
        self.received.append(bytes(content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def _authenticate(
    _server: SMTP, _session: Session, _envelope: Envelope, mechanism: str, data: object
) -> AuthResult:
    ok = (
        mechanism in ("LOGIN", "PLAIN")
        and isinstance(data, LoginPassword)
        and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    )
    return AuthResult(success=ok)


class MailSink:
    """aiosmtpd on 127.0.0.1:``port``: STARTTLS required, then a login; can be stopped and
    started again on the same port (the mail server down, then up)."""

    def __init__(self, certificate: Certificate) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(certificate.cert, certificate.key)
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, tls_context=self.tls,
            require_starttls=True, authenticator=_authenticate, auth_require_tls=True,
        )  # fmt: skip
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def mails(self) -> list[EmailMessage]:
        return [
            message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
            for raw in self.handler.received
        ]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.mails]


@dataclass
class HookSink:
    """An HTTPS endpoint on 127.0.0.1 that checks labd's signature on every POST."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    posts: list[tuple[bytes, bool]]  # body, signature valid

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/labd"

    def documents(self) -> list[dict[str, object]]:
        return [json.loads(body) for body, valid in self.posts if valid]

    def subjects(self) -> list[str]:
        return [str(a["subject"]) for d in self.documents() for a in d["alerts"]]  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_hook(certificate: Certificate, secret: bytes = SECRET) -> HookSink:
    posts: list[tuple[bytes, bool]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers.get("X-Labd-Timestamp", "")
            given = self.headers.get("X-Labd-Signature", "")
            mac = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            valid = hmac.compare_digest(given, f"sha256={mac}")
            posts.append((body, valid))
            self.send_response(204 if valid else 401)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate.cert, certificate.key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="test-hook", daemon=True)
    thread.start()
    return HookSink(server, thread, posts)


@dataclass
class Receivers:
    """Both receivers, and the [alerts] settings that send to them."""

    mail: MailSink
    hook: HookSink
    folder: Path
    certificate: Certificate

    def settings(self, **more: object) -> dict[str, object]:
        credentials = self.folder / "smtp.credentials"
        credentials.write_text(f"{USER}\n{PASSWORD}\n")
        credentials.chmod(0o600)
        secret = self.folder / "webhook.secret"
        secret.write_bytes(SECRET + b"\n")
        secret.chmod(0o600)
        return {
            "held_minutes": 15,
            "digest_at": "",
            **more,
            "mail": {
                "host": "127.0.0.1",
                "port": self.mail.port,
                "security": "starttls",
                "credentials": str(credentials),
                "ca_file": str(self.certificate.cert),
                "from": "labd@lab.example",
                "to": ["lab@lab.example"],
                "recipients": {"digest": ["owner@lab.example"]},
                "timeout_seconds": 5,
            },
            "webhook": {
                "url": self.hook.url,
                "secret": str(secret),
                "ca_file": str(self.certificate.cert),
                "timeout_seconds": 5,
            },
        }

    def everything(self) -> bytes:
        """Every byte either receiver was given, and the mails' texts decoded (quoted-
        printable may break a word across lines)."""
        texts = [str(m.get_content()).encode() for m in self.mail.mails]
        return b"".join([*self.mail.handler.received, *texts, *(b for b, _ in self.hook.posts)])


def receivers(folder: Path) -> Iterator[Receivers]:
    """Started receivers for one test, stopped after it."""
    certificate = make_certificate(folder)
    mail = MailSink(certificate)
    mail.start()
    hook = start_hook(certificate)
    try:
        yield Receivers(mail, hook, folder, certificate)
    finally:
        mail.stop()
        hook.stop()
