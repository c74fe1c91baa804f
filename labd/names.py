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
    key.append((2, 0, name))
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
    return os.fsencode(name).decode("utf-8", "backslashreplace")


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
            new = _free(Path(dirpath), safe_name(name))
            Path(dirpath, name).rename(Path(dirpath, new))
            renamed.append((safe_name(name), new))
    return renamed


def _free(folder: Path, name: str) -> str:
    candidate, n = name, 1
    while (folder / candidate).exists() or (folder / candidate).is_symlink():
        n += 1
        candidate = f"{name}~{n}"
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
    suffix = f".{ext}" if dot and stem and len(ext.encode("utf-8", "surrogateescape")) <= 16 else ""
    marker = "…"
    room = max_bytes - len((marker + suffix).encode("utf-8", "surrogateescape"))
    head = (stem if suffix else name).encode("utf-8", "surrogateescape")[: max(room, 0)]
    text = head.decode("utf-8", "ignore") if not has_undecodable(name) else os.fsdecode(head)
    # A cut through a multi-byte character leaves a partial one: drop it.
    while len((text + marker + suffix).encode("utf-8", "surrogateescape")) > max_bytes:
        text = text[:-1]
    return text + marker + suffix
