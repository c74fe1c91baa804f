"""Customer media: the kinds of carrier, their states and moves, what the ledger holds.

No I/O: the configuration, the ledger and the detection all take their vocabulary from
here.  DIN 66399 gives the material classes and security levels.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


class MediaKind(enum.StrEnum):
    """The kind of carrier."""

    USB = "usb"
    SD = "sd"
    HDD = "hdd"
    SSD = "ssd"
    CD = "cd"
    DVD = "dvd"
    BD = "bd"


class Material(enum.StrEnum):
    """DIN 66399 material class of a carrier."""

    E = "E"  # electronic: sticks, cards, SSDs
    H = "H"  # magnetic hard disks
    O = "O"  # optical discs  # noqa: E741  # the standard's own letter


DEFAULT_MATERIAL: Final = MappingProxyType(
    {
        MediaKind.USB: Material.E,
        MediaKind.SD: Material.E,
        MediaKind.SSD: Material.E,
        MediaKind.HDD: Material.H,
        MediaKind.CD: Material.O,
        MediaKind.DVD: Material.O,
        MediaKind.BD: Material.O,
    }
)


class Disposition(enum.StrEnum):
    """What happens to a carrier once its order is done."""

    RETURN = "return"
    DESTROY = "destroy"


class IdKind(enum.StrEnum):
    """What the identifier of an item is."""

    SERIAL = "serial"
    UUID = "uuid"  # a disc's or a card's file system UUID: the same disc gives the same one
    LABEL = "label"  # volume label
    TAG = "tag"  # a number the lab wrote on it


class MediaState(enum.StrEnum):
    """Where an item is in its life cycle."""

    UNLINKED = "unlinked"  # detected by labd, not yet tied to an order
    RECEIVED = "received"
    IN_USE = "in_use"
    READY = "ready"  # its order is done; it waits to be returned or destroyed
    RETURNED = "returned"
    DESTROYED = "destroyed"
    LOST = "lost"
    DISMISSED = "dismissed"  # a detected device that was not a customer's carrier

    @property
    def outstanding(self) -> bool:
        """True while the item is in the house and must still be resolved."""
        return self in _OUTSTANDING


_OUTSTANDING: Final = frozenset(
    {MediaState.UNLINKED, MediaState.RECEIVED, MediaState.IN_USE, MediaState.READY}
)

MOVES: Final[MappingProxyType[MediaState, frozenset[MediaState]]] = MappingProxyType(
    {
        MediaState.UNLINKED: frozenset(
            {MediaState.RECEIVED, MediaState.DISMISSED, MediaState.LOST}
        ),
        MediaState.RECEIVED: frozenset({MediaState.IN_USE, MediaState.READY, MediaState.LOST}),
        MediaState.IN_USE: frozenset({MediaState.READY, MediaState.LOST}),
        # READY -> IN_USE: a complaint or reprint needs the carrier again.
        MediaState.READY: frozenset(
            {MediaState.IN_USE, MediaState.RETURNED, MediaState.DESTROYED, MediaState.LOST}
        ),
        MediaState.RETURNED: frozenset(),
        MediaState.DESTROYED: frozenset(),
        MediaState.LOST: frozenset(),
        MediaState.DISMISSED: frozenset(),
    }
)

# What happens to each kind by default: sticks, cards and disks go back with the order,
# discs are shredded.  ``[media] disposition`` in the configuration changes it per kind.
DEFAULT_DISPOSITION: Final = MappingProxyType(
    {
        MediaKind.USB: Disposition.RETURN,
        MediaKind.SD: Disposition.RETURN,
        MediaKind.HDD: Disposition.RETURN,
        MediaKind.SSD: Disposition.RETURN,
        MediaKind.CD: Disposition.DESTROY,
        MediaKind.DVD: Disposition.DESTROY,
        MediaKind.BD: Disposition.DESTROY,
    }
)


@dataclass(frozen=True)
class MediaItem:
    """One customer carrier as the ledger holds it now."""

    id: int
    kind: MediaKind
    material: Material
    state: MediaState
    disposition: Disposition
    id_kind: IdKind
    identifier: str | None  # serial, label or tag: personal, outside the chain
    label: str | None  # volume label: personal
    orders: tuple[str, ...]  # the lab's order references: personal
    jobs: tuple[int, ...]  # labd job ids
    source: str  # manual | detected
    received_by: str | None
    received_at: str | None
    ready_at: str | None
    closed_by: str | None
    closed_at: str | None
    level: str | None
    container: str | None
    shredder_run: str | None
    certificate: str | None
    shipment: str | None  # parcel or shipment reference: personal
    vendor: str | None
    model: str | None
    capacity: int | None  # bytes
    present: bool  # plugged into the print server now
    created_at: str
    updated_at: str

    def as_row(self) -> dict[str, object]:
        """JSON/CSV-ready data."""
        row: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            row[name] = list(value) if isinstance(value, tuple) else value
        return row


@dataclass(frozen=True)
class MediaEvent:
    """One event of an item's history."""

    seq: int
    ts: str
    kind: str
    data: Mapping[str, object]
    detail: str | None
