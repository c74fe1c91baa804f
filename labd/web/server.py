"""Serving the console: uvicorn on ``[web] listen``, with TLS when a certificate is given.

Without ``tls_cert`` the console speaks plain HTTP, for 127.0.0.1 (the default) behind a
reverse proxy that terminates TLS; uvicorn then trusts the proxy's ``X-Forwarded-Proto``
from 127.0.0.1 only, so the session cookie is marked Secure exactly when the browser's
connection is.  systemd hears READY=1 once the socket is bound (``Type=notify``).
"""

from __future__ import annotations

import socket
from pathlib import Path

import structlog
import uvicorn

from labd.config import Config
from labd.errors import ConfigError
from labd.journal import Journal
from labd.notify import Notifier
from labd.web.app import create_app, secure_headers

log = structlog.get_logger(__name__)

# Open event streams (a board on a wall screen) get this long to close when labd web stops.
STOP_SECONDS = 2


def url_of(host: str, port: int, *, tls: bool) -> str:
    """Where the console is, as a person types it."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it listens (the log, and systemd's READY=1)."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url
        self.notifier = Notifier()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            log.info("web.listening", url=self.url)
            self.notifier.ready(f"console at {self.url}")


def serve(config: Config, journal: Journal, listen: tuple[str, int]) -> None:
    """Serve the console over ``journal`` on ``listen`` until SIGTERM or SIGINT."""
    web = config.web
    tls = web.tls_cert is not None and web.tls_key is not None
    for key, path in (("tls_cert", web.tls_cert), ("tls_key", web.tls_key)):
        if path is not None:
            _readable(config, key, path)
    host, port = listen
    app = secure_headers(create_app(config, journal))
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(web.tls_cert) if tls else None,
        ssl_keyfile=str(web.tls_key) if tls else None,
        lifespan="off",
        log_config=None,  # labd's logging (structlog) already takes the stdlib loggers
        access_log=False,  # the journal keeps what matters: logins, actions, who looked
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=STOP_SECONDS,
    )
    server = _Server(settings, url_of(host, port, tls=tls))
    server.run()
    if not server.started:
        raise OSError(f"labd web could not listen on {host}:{port} (the log says why)")


def _readable(config: Config, key: str, path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        problem = f"cannot read {path}: {e.strerror}"
        raise ConfigError(str(config.source), f"web.{key}", problem) from None
