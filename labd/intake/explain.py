"""``labd explain PATH``: what labd would do with a path, or did with it, and why.

A path is resolved first, as the kernel would (``.``, ``..``, links above the hot folders'
entries), so ``hot/a/../../hot/b/x.jpg`` is judged by hot folder ``b``'s rules.  A link
at or under an entry of a hot folder is not followed: intake refuses it, and so does
this answer.  Then:

- a path in a hot folder that is there: what labd will do with it now (ignored, waiting for
  the copy, refused, taken) and, if the journal has taken that name before, what became
  of that job;
- a path in a hot folder that is gone: the job that took it, when, and where it is now;
- a path in the quarantine: its job, why it was refused, and its reason file;
- a path in the spool: its job;
- any other path: that labd never touches it, and the jobs that took a file of its name.
"""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path
from typing import Final

from labd.errors import JobNotFound
from labd.intake.claim import inspect, job_files
from labd.intake.safety import check_folder
from labd.intake.stability import READY_MARKER, has_order_marker, is_ignored
from labd.journal.story import job_story
from labd.journal.view import JournalView, NameMatch
from labd.model import HotFolder, Job, JobState, OrderReady
from labd.names import safe_name
from labd.quarantine import REASON_SUFFIX, note_of, target_name

__all__ = ["explain", "resolve"]

# The kernel's limit on links followed in one path (ELOOP beyond it).
_MAX_LINKS: Final = 40
# Earlier jobs of the same name named after the newest one.
_MORE_JOBS: Final = 5
# A quarantined entry is "<job id>-<name>" (labd.quarantine.target_name).
_QUARANTINED: Final = re.compile(r"^(\d+)-")
# Reason files are labd's own and short; more than this is not read.
_REASON_MAX_BYTES: Final = 8192


def explain(
    path: Path,
    hotfolders: Iterable[HotFolder],
    *,
    journal: JournalView | None = None,
    quarantine_dir: Path | None = None,
    spool_dir: Path | None = None,
    zone: tzinfo | None = None,
    now: float | None = None,
) -> str:
    """What labd would do (or did) with ``path`` and why: one or a few lines.

    Without a journal (labd has not run yet) only the present is answered.
    """
    folders = list(hotfolders)
    given = Path(path)
    real = {h.name: h.path.resolve() for h in folders}
    resolved = resolve(given, real.values())
    history = _History(journal, zone, quarantine_dir)
    lines = [] if resolved == Path.cwd() / given else [f"{given} is {resolved}"]
    # The innermost hot folder, should one hold another.
    holders = [h for h in folders if resolved == real[h.name] or real[h.name] in resolved.parents]
    if holders:
        hf = max(holders, key=lambda h: len(real[h.name].parts))
        rel = resolved.relative_to(real[hf.name])
        lines += _in_hotfolder(hf, rel, history, now if now is not None else time.time())
    elif quarantine_dir is not None and _under(resolved, quarantine_dir):
        lines.append(_in_quarantine(resolved, quarantine_dir.resolve(), history))
    elif spool_dir is not None and _under(resolved, spool_dir):
        lines.append(_in_spool(resolved, spool_dir.resolve(), history))
    else:
        names = ", ".join(f"{h.name} ({h.path})" for h in folders)
        lines.append(
            f"{resolved} is not in a hot folder; labd never touches it. Hot folders: {names}"
        )
        lines += history.earlier(
            resolved.name, None, f"a file or folder named {resolved.name!r} was"
        )
    return "\n".join(lines)


def resolve(path: Path, hotfolders: Iterable[Path]) -> Path:
    """``path`` absolute, with ``.`` and ``..`` applied and links followed as the kernel
    follows them, except a link at or under an entry of one of ``hotfolders`` (resolved
    paths): that link, and what follows it, stay as written, as intake sees them.

    A loop of links stops at the link that closes it.
    """
    roots = list(hotfolders)
    pending = list((Path.cwd() / path).parts[1:])
    current = Path("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent
            continue
        step = current / part
        if not step.is_symlink():
            current = step
            continue
        if any(root in step.parents for root in roots) or hops >= _MAX_LINKS:
            return step.joinpath(*pending)  # labd never follows it: judged as a link
        hops += 1
        target = step.readlink()
        pending = list(target.parts[1:] if target.is_absolute() else target.parts) + pending
        if target.is_absolute():
            current = Path("/")
    return current


class _History:
    """The journal's part of an answer: what became of the jobs that took a path."""

    def __init__(
        self, journal: JournalView | None, zone: tzinfo | None, quarantine_dir: Path | None
    ) -> None:
        self.journal = journal
        self.zone = zone
        self.quarantine_dir = quarantine_dir

    def story(self, job_id: int) -> str | None:
        """Where job ``job_id`` is now; None when the journal does not know it."""
        if self.journal is None:
            return None
        try:
            return job_story(self.journal, self.journal.job(job_id), zone=self.zone)
        except JobNotFound:
            return None

    def matches(self, name: str, hotfolder: str | None) -> list[NameMatch]:
        if self.journal is None:
            return []
        return self.journal.jobs_named(safe_name(name), hotfolder=hotfolder)

    def earlier(self, name: str, hotfolder: str | None, lead: str) -> list[str]:
        """What became of the newest job that took ``name`` (of ``hotfolder``, or of any),
        and which older ones did; no lines if none did.

        ``lead`` starts the sentence: "Earlier, x.jpg was" (printed as job 3 ...).
        """
        found = self.matches(name, hotfolder)
        if not found:
            return []
        newest = found[0].job
        where = "" if hotfolder is not None else f"In hot folder {newest.hotfolder}, "
        lines = [f"{where}{lead} {self.story(newest.id)}.{self._quarantined(newest)}"]
        older = [m.job.id for m in found[1:]]
        if older:
            shown = ", ".join(map(str, older[:_MORE_JOBS]))
            more = f" and {len(older) - _MORE_JOBS} more" if len(older) > _MORE_JOBS else ""
            lines.append(f"Also taken before by jobs {shown}{more} (labd jobs N).")
        return lines

    def _quarantined(self, job: Job) -> str:
        """Where a quarantined job's files are, if they are still there."""
        if job.state is not JobState.QUARANTINED or self.quarantine_dir is None:
            return ""
        target = self.quarantine_dir / job.hotfolder / target_name(job.id, Path(job.entry).name)
        if not (target.exists() or target.is_symlink()):
            return ""
        return f" Its files are in the quarantine: {target} (the reason beside it)."


def _under(path: Path, folder: Path) -> bool:
    root = folder.resolve()
    return path == root or root in path.parents


def _in_hotfolder(hf: HotFolder, rel: Path, history: _History, now: float) -> list[str]:
    check = check_folder(hf)
    refused = []
    if check.problem is not None:
        refused.append(f"hot folder {hf.name} is refused, nothing in it is taken: {check.problem}")
    here = hf.path / rel
    if rel.parts and not (here.exists() or here.is_symlink()):
        # What labd took is known whatever the folder's state now (unmounted, say).
        gone = history.earlier(
            str(rel), hf.name, f"{rel} is no longer in hot folder {hf.name}: it was"
        )
        if gone:
            return gone + refused
    if refused:
        return refused
    if not rel.parts:
        return [
            f"{hf.path} is hot folder {hf.name} (product {hf.product}, printer {hf.printer}), "
            f"watched by {check.watch.value} on {check.filesystem}"
        ]
    for part in rel.parts:
        rule = is_ignored(part, hf.ignore)
        if rule is not None:
            return [f"{rel} is ignored by rule {rule!r} of hot folder {hf.name}; never taken"]
    if not (here.exists() or here.is_symlink()):
        if history.journal is None:
            return [f"{rel} does not exist"]
        return [f"{rel} does not exist, and labd has taken nothing of that name from {hf.name}"]
    entry = hf.path / rel.parts[0]
    refusal = inspect(entry, hf)
    if refusal is not None:
        present = (
            f"{rel.parts[0]} would be refused ({refusal.rule}): {refusal.reason}; "
            "it would be moved to quarantine unread"
        )
    else:
        present = _stability(hf, entry, now)
    return [present, *history.earlier(str(rel), hf.name, f"Earlier, {rel} was")]


def _in_quarantine(path: Path, root: Path, history: _History) -> str:
    rel = path.relative_to(root)
    if len(rel.parts) < 2:
        hotfolder = f" of hot folder {rel.parts[0]}" if rel.parts else ""
        return (
            f"{path} is the quarantine{hotfolder}: what labd refused, each entry "
            "'<job>-<name>' with '<job>-<name>.reason.txt' beside it"
        )
    name = rel.parts[1].removesuffix(REASON_SUFFIX) if len(rel.parts) == 2 else rel.parts[1]
    match = _QUARANTINED.match(name)
    if match is None:
        return f"{path} is in the quarantine, but not named by labd ('<job>-<name>')"
    job_id = int(match.group(1))
    note = note_of(root / rel.parts[0] / name)
    where = f"Reason file: {note}" if note.is_file() else "Its reason file is gone"
    story = history.story(job_id)
    if story is None:
        reason = _reason_line(note)
        known = "the journal does not know that job" if history.journal else "no journal yet"
        return f"{path} was quarantined as job {job_id} ({known}). {reason}{where}."
    return (
        f"{path} is in the quarantine: {story}. {where}. Fix the files and drop them into "
        f"hot folder {rel.parts[0]} again, or delete them."
    )


def _reason_line(note: Path) -> str:
    """The reason a reason file gives (``Reason: ...``), for a job the journal lacks."""
    try:
        with note.open("rb") as f:
            text = f.read(_REASON_MAX_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
    found = [line for line in text.splitlines() if line.startswith("Reason: ")]
    return f"{found[0]}. " if found else ""


def _in_spool(path: Path, root: Path, history: _History) -> str:
    rel = path.relative_to(root)
    if not rel.parts or not rel.parts[0].isdigit():
        return f"{path} is labd's private spool, where taken jobs are kept"
    job_id = int(rel.parts[0])
    story = history.story(job_id)
    if story is None:
        return f"{path} is in labd's spool, in the folder of job {job_id}, which the journal lacks"
    return f"{path} is in labd's spool, the folder of job {job_id}: {story}."


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
    if is_order and hf.order_ready is OrderReady.MARKER:
        if has_order_marker(entry):
            return f"{entry.name} carries its ticket: taken at once as {kind}"
        return (
            f"{entry.name} is waiting for its READY file (or ticket.toml): hot folder "
            f"{hf.name} takes an order folder only once one is in it, then as {kind}"
        )
    if quiet < hf.stability_seconds:
        return (
            f"{entry.name} is waiting for stability: last change {quiet:.1f} s ago, taken "
            f"{hf.stability_seconds:g} s after the last change as {kind}"
        )
    return f"{entry.name} is complete: labd takes it at its next look as {kind}"
