"""Job tickets: a small TOML file in an order folder that says what the order is.

``ticket.toml``, next to the photos::

    order = "2026-1042"            # the order reference (personal data: kept out of the
                                   # chained events, erasable)
    copies = 2                     # copies of every image (default: the product's)

    [copies_per_file]              # optional: copies of single images
    "IMG_0001.jpg" = 3

    [[media]]                      # optional: the customer's carriers the order came on
    kind = "usb"                   # usb, sd, hdd, ssd, cd, dvd, bd
    identifier = "4C530001230517110512"
    id_kind = "serial"             # serial, label or tag (default tag)
    disposition = "return"         # return or destroy (default: by kind, from [media])

A ticket that cannot be read or has a wrong key quarantines the whole order with the
reason, like any other bad input: nothing of the order is printed on a guess.  The reason
names every mistake of the ticket, each by its key and line, so that one fix is enough.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from labd.config import _Table  # the same checks and messages as the configuration
from labd.errors import ConfigError, InputRejected
from labd.media.model import Disposition, IdKind, MediaKind

TICKET_NAME: Final = "ticket.toml"
RULE: Final = "intake.bad_ticket"
MAX_COPIES: Final = 99


@dataclass(frozen=True)
class TicketMedia:
    """A carrier the order came on."""

    kind: MediaKind
    identifier: str
    id_kind: IdKind = IdKind.TAG
    disposition: Disposition | None = None


@dataclass(frozen=True)
class Ticket:
    """What a job ticket says."""

    order: str | None = None
    copies: int | None = None
    copies_per_file: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    media: tuple[TicketMedia, ...] = ()

    def copies_of(self, name: str) -> int | None:
        """Copies of the file ``name`` (its path inside the order folder), if the ticket says."""
        return self.copies_per_file.get(name, self.copies)


def read_ticket(order_dir: Path, files: Sequence[str]) -> Ticket | None:
    """The ticket of an order folder, None without one; InputRejected when it is bad.

    ``files`` are the order's files relative to ``order_dir``, to check per-file copies.
    """
    path = order_dir / TICKET_NAME
    if not path.is_file() or path.is_symlink():
        return None
    try:
        text = path.read_bytes().decode()
        data = tomllib.loads(text)
    except UnicodeDecodeError as e:
        # tomllib reads UTF-8 only; say where the first byte that is not is.
        raise InputRejected(
            f"{TICKET_NAME} is not UTF-8 text (byte {e.start + 1}: {e.reason}); save it as UTF-8",
            rule=RULE,
        ) from e
    except RecursionError as e:
        raise InputRejected(
            f"{TICKET_NAME} cannot be read: arrays or tables nested too deeply", rule=RULE
        ) from e
    except (OSError, ValueError) as e:
        # TOMLDecodeError is a ValueError; so is a number of more digits than Python
        # converts (4300), which tomllib lets through as it is.  TOML stops at its first
        # syntax error: that one is all it can say (with its line).
        raise InputRejected(f"{TICKET_NAME} cannot be read: {e}", rule=RULE) from e
    ticket, mistakes = _parse(data, set(files))
    if mistakes:
        raise InputRejected(_describe(mistakes, _key_lines(text)), rule=RULE)
    return ticket


class _Mistakes:
    """Every mistake found in a ticket: each read that fails is noted, and reading goes on."""

    def __init__(self) -> None:
        self.found: list[ConfigError] = []

    def read(self, get: Callable[..., Any], *args: Any, fallback: Any = None, **kw: Any) -> Any:
        """``get(*args, **kw)``, or ``fallback`` with the mistake noted."""
        try:
            return get(*args, **kw)
        except ConfigError as e:
            self.found.append(e)
            return fallback


def _parse(data: Mapping[str, object], files: set[str]) -> tuple[Ticket, list[ConfigError]]:
    m = _Mistakes()
    top = _Table(TICKET_NAME, "", data)
    order = (m.read(top.string, "order", "", fallback="") or "").strip() or None
    if order is not None and len(order) > 64:
        m.found.append(top.error("order", "at most 64 characters"))
    copies = m.read(top.integer, "copies", None, low=1, high=MAX_COPIES)
    per_file = {}
    table = _Table(
        TICKET_NAME, "copies_per_file", m.read(top.table, "copies_per_file", fallback={})
    )
    for name in list(table.data):
        if name not in files:
            table.used.add(name)
            m.found.append(table.error(name, "no such file in the order"))
            continue
        n = m.read(table.integer, name, low=1, high=MAX_COPIES)
        if n is not None:
            per_file[name] = n
    raw_media = m.read(top._get, "media", list, "a list of [[media]] tables", [], fallback=[])
    media = []
    for n, entry in enumerate(raw_media):
        if not isinstance(entry, dict):
            m.found.append(top.error(f"media[{n}]", "expected a table"))
            continue
        t = _Table(TICKET_NAME, f"media[{n}]", entry)
        kind = m.read(t.choice, "kind", tuple(MediaKind))
        identifier = m.read(t.string, "identifier")
        id_kind = m.read(t.choice, "id_kind", tuple(IdKind), IdKind.TAG.value, fallback="tag")
        disposition = m.read(t.choice, "disposition", ("", *Disposition), "", fallback="")
        m.found.extend(t.unknown())
        if kind is not None and identifier is not None:
            media.append(
                TicketMedia(
                    kind=MediaKind(kind),
                    identifier=identifier,
                    id_kind=IdKind(id_kind),
                    disposition=Disposition(disposition) if disposition else None,
                )
            )
    m.found.extend(top.unknown())
    return Ticket(order, copies, MappingProxyType(per_file), tuple(media)), m.found


def _describe(mistakes: Sequence[ConfigError], lines: Mapping[str, int]) -> str:
    """One line naming every mistake by key, and by line where the ticket shows it, in the
    order of the ticket's lines."""

    def line_of(e: ConfigError) -> int | None:
        # A key that is missing has no line: its table's header has.
        return lines.get(e.key) or lines.get(e.key.partition(".")[0])

    def one(e: ConfigError) -> str:
        line = line_of(e)
        return f"{e.key}: {e.problem}" + (f" (line {line})" if line else "")

    if len(mistakes) == 1:
        return f"{TICKET_NAME}: {one(mistakes[0])}"
    ordered = sorted(mistakes, key=lambda e: line_of(e) or len(lines) + 1)
    listed = " ".join(f"[{n}] {one(e)}" for n, e in enumerate(ordered, 1))
    return f"{TICKET_NAME} has {len(mistakes)} mistakes: {listed}"


_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]")
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]")
_KEY = re.compile(r"""^\s*("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[A-Za-z0-9_-]+)\s*=""")


def _key_lines(text: str) -> dict[str, int]:
    """The line of each key and table of a ticket, named as the mistakes name them
    (``copies``, ``copies_per_file.IMG_1.jpg``, ``media[0].kind``).

    tomllib keeps no positions, so the lines are read here; a key written in a way not
    looked for (a dotted key, an inline table) simply has no line.
    """
    found: dict[str, int] = {}
    section = ""
    arrays: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if match := _ARRAY_HEADER.match(line):
            name = match.group(1)
            found.setdefault(name, number)
            section = f"{name}[{arrays.get(name, 0)}]"
            arrays[name] = arrays.get(name, 0) + 1
            found.setdefault(section, number)
        elif match := _HEADER.match(line):
            section = match.group(1)
            found.setdefault(section, number)
        elif (match := _KEY.match(line)) and (key := _unquote(match.group(1))) is not None:
            found.setdefault(f"{section}.{key}" if section else key, number)
    return found


def _unquote(key: str) -> str | None:
    """A TOML key as tomllib reads it (quotes and escapes undone); None if it is no key."""
    if key[0] not in "\"'":
        return key
    try:
        [name] = tomllib.loads(f"{key} = 0")
    except ValueError:
        return None
    return str(name)
