"""Secure waste: containers, what goes into them, and their life cycle (no I/O).

Misprints and uncollected orders carry customers' images; customer carriers marked to be
destroyed go the same way.  Each goes into a locked container of the right DIN 66399
material class, which is sealed, collected by the disposal company and certified.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

OTHER: Final = "other"
# Built in too: an extra print CUPS may have made (a restart mid-job), confirmed by a
# technician at the printer.
DUPLICATE: Final = "duplicate"


class WasteMaterial(enum.StrEnum):
    """DIN 66399 material class a container takes."""

    P = "P"  # paper and prints
    F = "F"  # film
    O = "O"  # optical discs  # noqa: E741  # the standard's own letter
    T = "T"  # magnetic carriers: tapes, diskettes, cards with a magnetic stripe
    H = "H"  # magnetic hard disks
    E = "E"  # electronic carriers


class ContainerState(enum.StrEnum):
    """Where a container is in its life cycle."""

    OPEN = "open"
    SEALED = "sealed"
    COLLECTED = "collected"
    CERTIFIED = "certified"


_NEXT: Final = {
    ContainerState.OPEN: ContainerState.SEALED,
    ContainerState.SEALED: ContainerState.COLLECTED,
    ContainerState.COLLECTED: ContainerState.CERTIFIED,
}


class EntryKind(enum.StrEnum):
    """What went into a container."""

    MISPRINT = "misprint"
    UNCOLLECTED = "uncollected"  # a finished order nobody picked up
    MEDIA = "media"  # a customer carrier from the media ledger


@dataclass(frozen=True)
class Container:
    """A locked secure-waste container."""

    id: str
    material: WasteMaterial
    level: int  # DIN 66399 security level 1-7
    location: str
    state: ContainerState
    opened_by: str
    opened_at: str
    seal: str | None
    sealed_by: str | None
    sealed_at: str | None
    company: str | None
    collected_on: str | None  # YYYY-MM-DD
    handed_over_by: str | None
    certificate: str | None
    certified_on: str | None
    updated_at: str

    @property
    def din_level(self) -> str:
        """The level as written on certificates, e.g. ``P-4``."""
        return f"{self.material.value}-{self.level}"

    def as_row(self) -> dict[str, object]:
        """JSON/CSV-ready data."""
        row = {name: getattr(self, name) for name in self.__dataclass_fields__}
        row["din_level"] = self.din_level
        return row


@dataclass(frozen=True)
class PossibleDuplicate:
    """An extra print CUPS may have made, waiting for a technician's word."""

    event: int  # the journal event that reported it
    ts: str
    job_id: int
    output: int
    why: str


@dataclass(frozen=True)
class WasteEntry:
    """One thing put into a container."""

    id: int
    container: str
    kind: EntryKind
    job_id: int | None
    outputs: tuple[int, ...]
    sheets: int
    reason: str | None
    found_by: str
    media_item: int | None
    reprint: str | None  # "requested" when a reprint was asked for
    created_at: str
    text: str | None = None  # the free text of an "other" reason: personal

    def as_row(self) -> dict[str, object]:
        """JSON/CSV-ready data (without the personal free text)."""
        row: dict[str, object] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "text"
        }
        row["outputs"] = list(self.outputs)
        return row


@dataclass(frozen=True)
class Manifest:
    """A container's manifest: its header and one line per entry."""

    header: dict[str, object]
    entries: list[dict[str, object]]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {**self.header, "entries": self.entries}


@dataclass(frozen=True)
class Uncollected:
    """A finished order marked as not picked up."""

    job_id: int
    done_at: str
    marked_by: str
    marked_at: str
    due: bool  # done at least ``uncollected_days`` ago
    destroyed_in: str | None  # the container, once destroyed
