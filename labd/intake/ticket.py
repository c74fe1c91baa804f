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
reason, like any other bad input: nothing of the order is printed on a guess.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

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
        with path.open("rb") as f:
            data = tomllib.load(f)
    except UnicodeDecodeError as e:
        # tomllib decodes the whole file first; that error is no TOMLDecodeError.
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
        # converts (4300), which tomllib lets through as it is.
        raise InputRejected(f"{TICKET_NAME} cannot be read: {e}", rule=RULE) from e
    try:
        return _parse(data, set(files))
    except ConfigError as e:
        raise InputRejected(f"{TICKET_NAME}: {e.key}: {e.problem}", rule=RULE) from e


def _parse(data: Mapping[str, object], files: set[str]) -> Ticket:
    top = _Table(TICKET_NAME, "", data)
    order = top.string("order", "").strip() or None
    if order is not None and len(order) > 64:
        raise top.error("order", "at most 64 characters")
    copies = top.integer("copies", None, low=1, high=MAX_COPIES)
    per_file = {}
    table = _Table(TICKET_NAME, "copies_per_file", top.table("copies_per_file"))
    for name in list(table.data):
        if name not in files:
            raise table.error(name, "no such file in the order")
        per_file[name] = table.integer(name, low=1, high=MAX_COPIES)
    table.finish()
    raw_media = top._get("media", list, "a list of [[media]] tables", [])
    media = []
    for n, entry in enumerate(raw_media):
        if not isinstance(entry, dict):
            raise top.error(f"media[{n}]", "expected a table")
        t = _Table(TICKET_NAME, f"media[{n}]", entry)
        media.append(
            TicketMedia(
                kind=MediaKind(t.choice("kind", tuple(MediaKind))),
                identifier=t.string("identifier"),
                id_kind=IdKind(t.choice("id_kind", tuple(IdKind), IdKind.TAG.value)),
                disposition=(
                    Disposition(d)
                    if (d := t.choice("disposition", ("", *Disposition), ""))
                    else None
                ),
            )
        )
        t.finish()
    top.finish()
    return Ticket(order, copies, MappingProxyType(per_file), tuple(media))
