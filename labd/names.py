"""File names as customers make them: the one natural order, and names the journal can hold.

Customers' files come with any name a filesystem allows: digits of other scripts
(Arabic-Indic, Devanagari ...), superscripts and circled numbers (``IMG_²1.jpg``, ``foto①.jpg``),
combining marks, right-to-left marks, newlines, and bytes that are not UTF-8 at all (an old
disc copied by a Linux tool).  Nothing here may fail on any of them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Final

# Runs of decimal digits (Unicode category Nd: 0-9 and the digits of other scripts).  Not
# str.isdigit(): it is also true of superscripts and circled numbers, which are no digits
# of a number ("IMG_²1" is not picture 21).
_DIGITS: Final = re.compile(r"(\d+)")

NaturalKey = tuple[tuple[int, int, str], ...]
# The longest file name of the filesystems labd runs on (ext4, xfs, btrfs), in bytes.
NAME_MAX: Final = 255


def natural_key(name: str) -> NaturalKey:
    """Sort key putting ``img2`` before ``img10``, as a technician expects; total on any str.

    Numbers compare by value, whatever their script and however long (no int(): a name may
    hold more digits than Python converts); text compares case-insensitively; names equal
    by those rules compare by their exact text, so no two different names tie.
    """
    key: list[tuple[int, int, str]] = []
    for part in _DIGITS.split(name):
        if not part:
            continue
        if part[0].isdecimal():
            value = "".join(str(unicodedata.decimal(c)) for c in part).lstrip("0")
            key.append((0, len(value), value))
        else:
            key.append((1, 0, part.casefold()))
    # The end of the name sorts before any number or text that could follow it ("Film"
    # before "Film2"), and carries the exact name for the tie-break.
    key.append((-1, 0, name))
    return tuple(key)


def has_undecodable(name: str) -> bool:
    """True when ``name`` came from bytes that are not UTF-8 (Python's surrogate escapes)."""
    return any("\udc80" <= c <= "\udcff" for c in name)


def safe_name(name: str) -> str:
    """``name`` with bytes that are not UTF-8 written as ``\\xNN``; other names unchanged.

    The journal, the logs and every terminal take the result; the original bytes cannot be
    stored as text anywhere.
    """
    if not has_undecodable(name):
        return name
    # Each byte written as \xNN takes four: shortened, so that it is still a file name.
    return shorten(os.fsencode(name).decode("utf-8", "backslashreplace"), NAME_MAX)


def make_names_safe(top: Path) -> list[tuple[str, str]]:
    """Rename everything under ``top`` (inside labd's private spool) to :func:`safe_name`.

    Renames bottom-up, never following links, never over an existing name (``~2`` ...).
    Returns the (old, new) names changed, as safe text.
    """
    renamed: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(top, topdown=False, followlinks=False):
        for name in dirnames + filenames:
            if not has_undecodable(name):
                continue
            new = free_name(Path(dirpath), safe_name(name))
            Path(dirpath, name).rename(Path(dirpath, new))
            renamed.append((safe_name(name), new))
    return renamed


def free_name(folder: Path, name: str, max_bytes: int = NAME_MAX) -> str:
    """``name``, or ``name~2``, ``name~3`` ... : the first that ``folder`` does not hold.

    The name is shortened before ``~n`` is added (shortening after could cut it off), so
    the result stays within ``max_bytes``.
    """
    candidate, n = shorten(name, max_bytes), 1
    while (folder / candidate).exists() or (folder / candidate).is_symlink():
        n += 1
        candidate = f"{shorten(name, max_bytes - len(f'~{n}'))}~{n}"
    return candidate


def shorten(name: str, max_bytes: int) -> str:
    """``name`` cut to at most ``max_bytes`` of UTF-8, keeping its extension when it can.

    Never cuts a character in half.  For names of files labd makes from customers' names
    (the quarantine's ``<job>-<name>``), which must stay within the 255-byte limit.
    """
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= max_bytes:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and _size(ext) <= 16 else ""
    marker = "…"
    # The extension and the marker are kept when they fit, the extension first.
    if _size(marker + suffix) > max_bytes:
        suffix = ""
    if _size(marker) > max_bytes:
        marker = ""
    room = max_bytes - _size(marker + suffix)
    # Whole characters only: a cut through one would leave a partial one, and in a name
    # that is not UTF-8 that partial character would pass for undecodable bytes.
    head: list[str] = []
    for c in stem if suffix else name:
        room -= _size(c)
        if room < 0:
            break
        head.append(c)
    return "".join(head) + marker + suffix


def _size(text: str) -> int:
    """Bytes of ``text`` in a file name (a surrogate escape is the one byte it stands for)."""
    return len(text.encode("utf-8", "surrogateescape"))
