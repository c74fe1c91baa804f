"""Metrics for the lab's monitoring: a Prometheus/OpenMetrics endpoint served by the daemon.

- :mod:`labd.metrics.tally`: what the journal's state changes say happened since labd
  started (prints, intake, conversion and print latencies), read incrementally
- :mod:`labd.metrics.collect`: the figures as Prometheus metric families, on a registry of
  labd's own
- :mod:`labd.metrics.serve`: the HTTP endpoint at ``[metrics] listen``, started, moved and
  stopped with the configuration

prometheus_client is imported in this package only.
"""

from __future__ import annotations

from labd.metrics.collect import Live
from labd.metrics.serve import Metrics

__all__ = ["Live", "Metrics"]
