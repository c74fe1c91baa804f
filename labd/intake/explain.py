"""``labd explain PATH``: what labd would do with a path, and why."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterable
from pathlib import Path

from labd.intake.claim import inspect, job_files
from labd.intake.safety import check_folder
from labd.intake.stability import READY_MARKER, is_ignored
from labd.model import HotFolder


def explain(path: Path, hotfolders: Iterable[HotFolder], *, now: float | None = None) -> str:
    """One or two sentences on what labd would do with ``path`` and why."""
    path = Path(path).absolute()  # absolute, not resolved: a link must stay a link
    folders = list(hotfolders)
    hf = next((h for h in folders if path == h.path or h.path in path.parents), None)
    if hf is None:
        names = ", ".join(f"{h.name} ({h.path})" for h in folders)
        return f"{path} is not in a hot folder; labd never touches it. Hot folders: {names}"
    check = check_folder(hf)
    if check.problem is not None:
        return f"hot folder {hf.name} is refused, nothing in it is taken: {check.problem}"
    if path == hf.path:
        return (
            f"{path} is hot folder {hf.name} (product {hf.product}, printer {hf.printer}), "
            f"watched by {check.watch.value} on {check.filesystem}"
        )
    rel = path.relative_to(hf.path)
    for part in rel.parts:
        rule = is_ignored(part, hf.ignore)
        if rule is not None:
            return f"{rel} is ignored by rule {rule!r} of hot folder {hf.name}; never taken"
    entry = hf.path / rel.parts[0]
    if not entry.exists() and not entry.is_symlink():
        return f"{rel} does not exist"
    refusal = inspect(entry, hf)
    if refusal is not None:
        return (
            f"{rel.parts[0]} would be refused ({refusal.rule}): {refusal.reason}; "
            "it would be moved to quarantine unread"
        )
    return _stability(hf, entry, now if now is not None else time.time())


def _stability(hf: HotFolder, entry: Path, now: float) -> str:
    st = entry.lstat()
    is_order = stat.S_ISDIR(st.st_mode)
    files = job_files(entry, hf.ignore) if is_order else [(entry.name, st.st_size)]
    kind = f"an order of {len(files)} files" if is_order else "a single-file job"
    if is_order and not files:
        return f"{entry.name} holds no files labd would print; it would be quarantined"
    newest = max([st.st_mtime, *((entry / name).lstat().st_mtime for name, _ in files if is_order)])
    quiet = now - newest
    if is_order and (entry / READY_MARKER).is_file():
        return f"{entry.name} carries a READY marker: taken at once as {kind}"
    if quiet < hf.stability_seconds:
        return (
            f"{entry.name} is waiting for stability: last change {quiet:.1f} s ago, taken "
            f"{hf.stability_seconds:g} s after the last change as {kind}"
        )
    return f"{entry.name} is complete: labd takes it at its next look as {kind}"
