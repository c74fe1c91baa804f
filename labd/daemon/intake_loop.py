"""The intake loop: hot-folder events and rescans turned into claimed jobs, in its thread.

Each entry's failure is contained in :class:`~labd.intake.Intake`; what reaches this loop
is the loop's own trouble.  Storage trouble mid-claim (disk full, journal locked) holds
intake until the main thread's disk guard sees it clear, then the interrupted claim is
finished as at a start; anything else is logged and the loop starts again after a pause;
an unusable journal stops labd.
"""

from __future__ import annotations

import structlog

from labd.daemon.loops import LOOP_WAKE_SECONDS, Loops
from labd.errors import JournalUnusable, transient_problem
from labd.intake import EventSink, Intake, Watcher

__all__ = ["run_intake"]

log = structlog.get_logger(__name__)


def run_intake(loops: Loops, intake: Intake, sink: EventSink, watcher: Watcher) -> None:
    """Run intake until labd stops (``loops.stop``)."""
    beat = loops.beat_of("intake")
    stop = loops.stop
    while not stop.is_set():
        try:
            intake.run(sink, watcher, stop, beat=beat, max_wait=LOOP_WAKE_SECONDS)
        except Exception as e:
            problem = transient_problem(e)
            if problem is None:
                if isinstance(e, JournalUnusable):
                    raise
                # Not one entry's fault (those are contained in Intake): the loop
                # itself.  Logged, and the loop starts again after a pause.
                loops.error("intake", e)
                stop.wait(LOOP_WAKE_SECONDS)
                continue
        else:
            return
        # Disk full or journal locked mid-claim: hold intake until the main loop sees it
        # clear, then finish the interrupted claim as at a start.
        log.error("intake.held_by_error", problem=problem)
        intake.held = loops.disk.error = f"intake: {problem}"
        while intake.held is not None and not stop.wait(LOOP_WAKE_SECONDS):
            beat()  # waiting on purpose is progress: no watchdog restart for a full disk
        if not stop.is_set():
            loops.guarded("intake", intake.recover)
            # The entries of the claim that failed are taken at once, not at the next
            # periodic rescan.
            intake.rescan_soon()
