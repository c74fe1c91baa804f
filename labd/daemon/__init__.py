"""The composition root: wires journal, intake, pipeline and CUPS into threads.

Three loops, each a thread: intake (events and rescans -> claimed jobs:
:mod:`~labd.daemon.intake_loop`), work (convert and submit, one job at a time:
:mod:`~labd.daemon.work`), follow (CUPS job states, retries of held jobs, retention).
:mod:`~labd.daemon.main` is the daemon itself and its main thread (signals, sd_notify,
the status); :mod:`~labd.daemon.loops` the threads' heartbeats and failure boundaries;
:mod:`~labd.daemon.disk` holds intake while the disk is in trouble;
:mod:`~labd.daemon.reload` rereads the configuration on SIGHUP (a bad one is refused, the
old one runs on).  Only ``labd run`` and ``labd demo`` import this package.
"""

from __future__ import annotations

from labd.daemon.main import Daemon

__all__ = ["Daemon"]
