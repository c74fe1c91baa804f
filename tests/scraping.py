"""Reading labd's metrics in tests as Prometheus does: over HTTP, with prometheus_client's
parsers."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families

# Every sample, by name and labels.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
OPENMETRICS = "application/openmetrics-text"


def get(port: int, accept: str = "text/plain") -> tuple[int, str, bytes]:
    """One scrape of ``http://127.0.0.1:PORT/metrics``: status, content type, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Accept": accept})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def refused(port: int) -> bool:
    """Nothing listens on ``port`` any more."""
    try:
        get(port)
    except ConnectionRefusedError:
        return True
    return False


def labd_samples(text: bytes) -> Samples:
    """The ``labd_*`` samples of a scrape (``process_*`` are the process's, not labd's)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if s.name.startswith("labd_")
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """One sample's value; None when the scrape has no such sample."""
    return samples.get((name, frozenset(labels.items())))


def openmetrics_families(text: bytes) -> dict[str, Metric]:
    """An OpenMetrics scrape's families by name, read by the OpenMetrics parser (which,
    unlike the text format's, insists on ``# EOF`` and OpenMetrics' rules)."""
    parse: Callable[[str], Iterable[Metric]] = openmetrics_parser.text_string_to_metric_families
    return {family.name: family for family in parse(text.decode())}
