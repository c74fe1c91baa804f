"""SIGHUP: the configuration read again, checked, and switched to without losing a job.

A configuration that does not load, names folders labd cannot use, or changes what only
a restart may change (the state and spool directories) is refused with its file and key;
the one labd runs on stays.  On a switch, hot folders are watched or released, and jobs
already claimed from a removed hot folder finish with its product and printer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

import structlog

from labd.config import Config, check_paths, load
from labd.errors import ConfigError
from labd.intake import Intake
from labd.pipeline import Pipeline
from labd.printing import CupsClient

__all__ = [
    "RELOAD_WAIT_SECONDS",
    "Adapt",
    "apply",
    "as_read",
    "private_quarantine",
    "reread",
    "reread_or_keep",
]

log = structlog.get_logger(__name__)

# How long a reload waits for the intake loop to take the new hot folders.
RELOAD_WAIT_SECONDS: Final = 30.0
# Settings a running labd cannot change: they name where its jobs and journal are.
_RESTART_ONLY: Final = (("state_dir", "labd.state_dir"), ("spool_dir", "labd.spool_dir"))

# What labd does to the file's configuration before it runs on it: nothing for the service;
# `--base` moves its paths, the demo also puts in its own CUPS.  A reload does it again to
# the file it rereads, or the reread file would name other folders (and another CUPS) than
# the ones labd runs on.  Raises ConfigError when it cannot be done.
Adapt = Callable[[Config], Config]


def as_read(config: Config) -> Config:
    """The configuration as the file says: what ``labd run`` runs on."""
    return config


def private_quarantine(config: Config) -> None:
    """Quarantine folders technicians (the hot folders' group) can reach, whatever the umask.

    The unit's UMask=0077 would make them 0700; chmod is not subject to the umask.
    """
    folders = [config.quarantine_dir, *(config.quarantine_dir / n for n in config.hotfolders)]
    for folder in folders:
        folder.mkdir(mode=0o770, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o777 != 0o770:
            folder.chmod(0o770)


def reread(old: Config, adapt: Adapt = as_read) -> Config:
    """``old``'s file read, adapted as at start, and checked again; ConfigError when labd
    cannot switch to it."""
    new = adapt(load(old.source))
    check_paths(new)
    for attr, key in _RESTART_ONLY:
        if getattr(new, attr) != getattr(old, attr):
            raise ConfigError(str(old.source), key, "changes only with a restart of labd")
    try:
        private_quarantine(new)
    except OSError as e:
        raise ConfigError(
            str(old.source), "labd.quarantine_dir", f"{new.quarantine_dir}: {e.strerror}"
        ) from e
    return new


def reread_or_keep(old: Config, adapt: Adapt = as_read) -> Config | None:
    """The configuration file read again and checked, or None (logged) when it is bad."""
    try:
        return reread(old, adapt)
    except ConfigError as e:
        error = e
    log.error(
        "daemon.reload_rejected",
        file=error.file,
        key=error.key,
        problem=error.problem,
        hint="the configuration labd started with runs on; fix the file and reload",
    )
    return None


def apply(old: Config, new: Config, intake: Intake, pipeline: Pipeline) -> None:
    """Switch from ``old`` to ``new``: hot folders watched or released, jobs unharmed."""
    removed = {n: hf for n, hf in old.hotfolders.items() if n not in new.hotfolders}
    # Jobs already claimed from a removed hot folder finish with its product and printer.
    pipeline.config = replace(
        new,
        hotfolders={**removed, **new.hotfolders},
        products={**pipeline.config.products, **new.products},
        printers={**pipeline.config.printers, **new.printers},
    )
    if new.cups_server != old.cups_server:
        pipeline.cups = CupsClient(new.cups_server)
    intake.rescan_seconds = new.rescan_seconds
    intake.quarantine_dir = new.quarantine_dir
    done = intake.replace_hotfolders(new.hotfolders)
    if not done.wait(RELOAD_WAIT_SECONDS):
        log.warning("daemon.reload_slow", waited=RELOAD_WAIT_SECONDS)
    log.info(
        "daemon.reloaded",
        file=str(new.source),
        added=sorted(set(new.hotfolders) - set(old.hotfolders)),
        removed=sorted(removed),
    )
