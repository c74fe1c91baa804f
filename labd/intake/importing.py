"""An order imported from the customer's medium into a hot folder, in one step.

The technician names the medium's ledger item, where it is mounted and the hot folder;
labd copies the photos into a hidden staging folder inside the hot folder, verifies every
copy (size, and a SHA-256 of the medium's bytes against the copy's), checks each photo
exactly as conversion will, writes the job ticket (the order, the copies, and the medium,
so that the job is linked to the item when labd takes it) and ``READY`` last, and only
then renames the staging folder to the order's name: labd sees the order whole or not at
all.  Nothing on the medium is changed; it is read without following links, devices and
FIFOs are never opened, and the hot folder's size limit applies.  What is not a photo is
listed and left on the medium; a photo that cannot be read (a scratched disc, a card
error, a file that changes under the copy) or printed (cut short, damaged) makes the import
incomplete, since the order would otherwise print without it: nothing is put into the hot
folder, and the report names the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from labd.convert.image import RULE_NOT_AN_IMAGE
from labd.convert.job import check_input
from labd.convert.pdf import RULE_NOT_A_PDF
from labd.errors import InputRejected, MediaError
from labd.fsutil import fsync_dir
from labd.intake.stability import READY_MARKER, is_ignored
from labd.intake.ticket import TICKET_NAME
from labd.media.model import MediaItem
from labd.model import HotFolder, Product
from labd.names import free_name, natural_key, safe_name

__all__ = [
    "Copied", "ImportReport", "Left", "Progress", "import_medium", "left_lines", "ticket_text",
]  # fmt: skip

CHUNK: Final = 1024 * 1024
# Open without following a link, without blocking on a FIFO or taking a terminal.
_OPEN_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
STAGING_PREFIX: Final = ".labd-import-"
# Refusals that say a file is no photo (for this product) at all: it is left on the medium.
# Any other refusal is a photo that cannot be printed (cut short, damaged, too big): the
# order would print without it, so the import is incomplete.
NOT_A_PHOTO: Final = frozenset({RULE_NOT_AN_IMAGE, RULE_NOT_A_PDF})

# Called as the copy goes on: (files done, files in all, bytes done, bytes in all).
Progress = Callable[[int, int, int, int], None]


@dataclass(frozen=True)
class Left:
    """A file of the medium that is not in the order, and why."""

    name: str
    why: str


@dataclass(frozen=True)
class Copied:
    """A photo copied into the order and verified."""

    name: str
    size: int
    sha256: str


@dataclass
class ImportReport:
    """What an import did: the order folder it released (None when it released none)."""

    source: Path
    hotfolder: str
    folder: str | None = None
    copied: list[Copied] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)  # not photos: left on the medium
    unreadable: list[Left] = field(default_factory=list)  # photos that could not be read

    @property
    def complete(self) -> bool:
        """Every photo on the medium is in the order, and the order is in the hot folder."""
        return self.folder is not None

    @property
    def bytes(self) -> int:
        """Bytes copied."""
        return sum(c.size for c in self.copied)


class _Unreadable(Exception):
    """A photo on the medium that could not be read whole."""


def ticket_text(item: MediaItem, *, order: str | None, copies: int | None) -> str:
    """The job ticket of an imported order: the order, the copies, and the medium."""
    if item.identifier is None:
        raise MediaError(item.id, "has no identifier to name it in the job ticket")
    lines = []
    if order is not None:
        lines.append(f"order = {json.dumps(order, ensure_ascii=False)}")
    if copies is not None:
        lines.append(f"copies = {copies}")
    lines += [
        "",
        "[[media]]",
        f'kind = "{item.kind.value}"',
        f"identifier = {json.dumps(item.identifier, ensure_ascii=False)}",
        f'id_kind = "{item.id_kind.value}"',
        f'disposition = "{item.disposition.value}"',
    ]
    return "\n".join(lines) + "\n"


def import_medium(
    source: Path,
    hotfolder: HotFolder,
    product: Product,
    *,
    name: str,
    ticket: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Copy the photos under ``source`` into ``hotfolder`` as the order folder ``name``.

    The folder is released (renamed into place, ``READY`` in it) only when every photo was
    read and verified; otherwise nothing stays in the hot folder.  OSError for trouble on
    the hot folder's side (disk full ...), with nothing left behind either.
    """
    if source.is_symlink() or not source.is_dir():
        raise MediaError(str(source), "is not a folder (give the medium's mount point)")
    staging_name = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    if not is_ignored(staging_name, hotfolder.ignore):
        raise MediaError(
            hotfolder.name,
            "the hot folder must ignore hidden names (.*) for labd to stage an import in it",
        )
    report = ImportReport(source, hotfolder.name)
    photos = _survey(source, source, hotfolder, report)
    total = sum(size for _, size in photos)
    staging = hotfolder.path / staging_name
    staging.mkdir(mode=0o770)
    try:
        # Each photo is checked as conversion will check it (a decode: the costly part)
        # on other cores while the next one is copied; libvips and Pillow let go of the GIL.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as checks:
            checked: list[tuple[Copied, Future[InputRejected | None]]] = []
            done = 0
            for n, (rel, size) in enumerate(photos):
                if progress is not None:
                    progress(n, len(photos), done, total)
                done += size
                copied = _copy(source / rel, staging / rel, rel, hotfolder, report)
                if copied is not None:
                    checked.append((copied, checks.submit(check_input, product, staging / rel)))
            for copied, check in checked:
                _keep_or_drop(copied, check.result(), staging, report)
        if progress is not None:
            progress(len(photos), len(photos), total, total)
        if report.unreadable or not report.copied:
            shutil.rmtree(staging)
            return report
        _write(staging / TICKET_NAME, ticket.encode())
        _write(staging / READY_MARKER, b"")  # last: the order is complete
        fsync_dir(staging)
        final = free_name(hotfolder.path, safe_name(name))
        staging.rename(hotfolder.path / final)  # the order appears whole, at once
        fsync_dir(hotfolder.path)
        report.folder = final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _survey(root: Path, folder: Path, hf: HotFolder, report: ImportReport) -> list[tuple[str, int]]:
    """The candidate photos under ``folder`` (relative names, sizes), in natural order;
    what is left and why goes into ``report``."""
    found: list[tuple[str, int]] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as e:
        report.unreadable.append(Left(_rel(root, folder), f"cannot be read: {e.strerror}"))
        return found
    for entry in entries:
        rel = _rel(root, Path(entry.path))
        if is_ignored(entry.name, hf.ignore):
            report.left.append(Left(rel, "a system or hidden file"))
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as e:
            report.unreadable.append(Left(rel, f"cannot be read: {e.strerror}"))
            continue
        if stat.S_ISLNK(st.st_mode):
            report.left.append(Left(rel, "a symbolic link: labd never follows links"))
        elif stat.S_ISDIR(st.st_mode):
            found += _survey(root, Path(entry.path), hf, report)
        elif not stat.S_ISREG(st.st_mode):
            report.left.append(Left(rel, "not a regular file (a device, FIFO or socket)"))
        elif st.st_size > hf.max_file_bytes:
            limit = hf.max_file_bytes // 1024**2
            report.left.append(Left(rel, f"larger than the hot folder's limit of {limit} MB"))
        else:
            found.append((rel, st.st_size))
    return found


def _copy(src: Path, dst: Path, rel: str, hf: HotFolder, report: ImportReport) -> Copied | None:
    """Copy one candidate and verify the copy; None (noted in ``report``) if unreadable."""
    dst.parent.mkdir(mode=0o770, parents=True, exist_ok=True)
    try:
        size, digest = _copy_verified(src, dst, hf.max_file_bytes)
    except _Unreadable as e:
        dst.unlink(missing_ok=True)
        report.unreadable.append(Left(rel, str(e)))
        return None
    return Copied(rel, size, digest)


def _keep_or_drop(
    copied: Copied, refusal: InputRejected | None, staging: Path, report: ImportReport
) -> None:
    """Keep a verified copy that conversion takes; drop one it refuses, saying why."""
    if refusal is None:
        report.copied.append(copied)
        return
    (staging / copied.name).unlink()
    # Conversion's reasons start with the file's name; the report names it already.
    why = refusal.reason.removeprefix(f"{Path(copied.name).name}: ")
    if refusal.rule in NOT_A_PHOTO:
        report.left.append(Left(copied.name, why))
    else:
        report.unreadable.append(Left(copied.name, f"cannot be printed: {why}"))


def _copy_verified(src: Path, dst: Path, limit: int) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` (new), fsync it, compare SHA-256s; (size, hex digest).

    _Unreadable when the medium fails or the file is not what it was when listed;
    OSError when the hot folder's side fails.
    """
    try:
        fd = os.open(src, _OPEN_FLAGS)
    except OSError as e:
        raise _Unreadable(f"cannot be opened: {e.strerror}") from e
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode) or before.st_size > limit:
            raise _Unreadable("is no longer the regular file it was when listed")
        digest = hashlib.sha256()
        read = 0
        with dst.open("xb") as out:
            while True:
                try:
                    chunk = os.read(fd, CHUNK)
                except OSError as e:
                    raise _Unreadable(
                        f"cannot be read after {read:,} of {before.st_size:,} bytes: {e.strerror}"
                    ) from e
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
                read += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if read != before.st_size or after.st_size != before.st_size:
        raise _Unreadable(
            f"changed while it was copied ({before.st_size:,} bytes listed, {read:,} read)"
        )
    if _sha256(dst) != digest.hexdigest():
        raise _Unreadable("the copy differs from the medium (read it again)")
    return read, digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _rel(root: Path, path: Path) -> str:
    return safe_name(str(path.relative_to(root))) if path != root else "."


def left_lines(entries: Sequence[Left]) -> list[str]:
    """One line a person reads per file left or unreadable."""
    return [f"{e.name}: {e.why}" for e in entries]
