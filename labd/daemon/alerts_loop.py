"""The alerts loop: conditions to alerts, the outbox to mail and webhook, in its thread.

A pass every ``[alerts] check_seconds`` (:meth:`~labd.alerts.service.AlertService.run_pass`),
inside the loop's failure boundary: a mail server that is down is the outbox's business
(back-off), storage trouble is the disk guard's, anything else is logged and the next pass
comes.  The loop beats between passes and between sends, which are bounded by the
channels' timeouts, so a slow mail server never looks like a stalled labd.
"""

from __future__ import annotations

from labd.alerts.service import AlertService
from labd.daemon.loops import LOOP_WAKE_SECONDS, Loops

__all__ = ["run_alerts"]


def run_alerts(loops: Loops, service: AlertService) -> None:
    """Run passes until labd stops (``loops.stop``)."""
    beat = loops.beat_of("alerts")
    clock = loops.clock
    next_pass = clock.monotonic()
    while not loops.stop.is_set():
        beat()
        if clock.monotonic() >= next_pass:
            next_pass = clock.monotonic() + service.config().alerts.check_seconds
            loops.guarded("alerts", lambda: service.run_pass(beat))
        loops.stop.wait(LOOP_WAKE_SECONDS)
