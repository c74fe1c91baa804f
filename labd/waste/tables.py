"""The waste tables, and the one place that turns their rows into the model's objects.

Containers, the entries put into them, and orders marked as not picked up.  The free text
of an "other" reason is personal: it lives in ``waste_entry_personal``, outside the
entries and their chained events, so an erasure can delete it and the destruction stays
provable.  The columns are listed here once, for every part of the ledger that reads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from labd.journal import ComponentSchema
from labd.waste.model import Container, ContainerState, EntryKind, WasteEntry, WasteMaterial

SCHEMA: Final = ComponentSchema(
    "waste",
    (
        (
            """CREATE TABLE waste_containers (
                id TEXT PRIMARY KEY,
                material TEXT NOT NULL,
                level INTEGER NOT NULL,
                location TEXT NOT NULL,
                state TEXT NOT NULL,
                opened_by TEXT NOT NULL,
                opened_at TEXT NOT NULL,
                seal TEXT,
                sealed_by TEXT,
                sealed_at TEXT,
                company TEXT,
                collected_on TEXT,
                handed_over_by TEXT,
                certificate TEXT,
                certified_on TEXT,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE waste_entries (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                container TEXT NOT NULL REFERENCES waste_containers(id),
                kind TEXT NOT NULL,
                job_id INTEGER REFERENCES jobs(id),
                outputs TEXT NOT NULL DEFAULT '[]',
                sheets INTEGER NOT NULL DEFAULT 0,
                reason TEXT,
                found_by TEXT NOT NULL,
                media_item INTEGER,
                reprint TEXT,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX waste_entries_container ON waste_entries(container)",
            # Personal data ("other" reasons in free text), outside the chained events.
            """CREATE TABLE waste_entry_personal (
                entry_id INTEGER PRIMARY KEY REFERENCES waste_entries(id),
                text TEXT NOT NULL
            )""",
            """CREATE TABLE waste_uncollected (
                job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
                marked_by TEXT NOT NULL,
                marked_at TEXT NOT NULL
            )""",
        ),
    ),
)


CONTAINER_COLUMNS: Final = (
    "id, material, level, location, state, opened_by, opened_at, seal, sealed_by, sealed_at, "
    "company, collected_on, handed_over_by, certificate, certified_on, updated_at"
)
ENTRY_COLUMNS: Final = (
    "e.id, e.container, e.kind, e.job_id, e.outputs, e.sheets, e.reason, e.found_by, "
    "e.media_item, e.reprint, e.created_at, p.text"
)
ENTRY_FROM: Final = "waste_entries e LEFT JOIN waste_entry_personal p ON p.entry_id = e.id"


def container_of(r: Sequence[object]) -> Container:
    """A ``waste_containers`` row, read as :data:`CONTAINER_COLUMNS`."""
    return Container(
        id=str(r[0]),
        material=WasteMaterial(str(r[1])),
        level=int(str(r[2])),
        location=str(r[3]),
        state=ContainerState(str(r[4])),
        opened_by=str(r[5]),
        opened_at=str(r[6]),
        seal=_opt(r[7]),
        sealed_by=_opt(r[8]),
        sealed_at=_opt(r[9]),
        company=_opt(r[10]),
        collected_on=_opt(r[11]),
        handed_over_by=_opt(r[12]),
        certificate=_opt(r[13]),
        certified_on=_opt(r[14]),
        updated_at=str(r[15]),
    )


def entry_of(r: Sequence[object]) -> WasteEntry:
    """A ``waste_entries`` row with its personal text, read as :data:`ENTRY_COLUMNS`."""
    return WasteEntry(
        id=int(str(r[0])),
        container=str(r[1]),
        kind=EntryKind(str(r[2])),
        job_id=None if r[3] is None else int(str(r[3])),
        outputs=tuple(json.loads(str(r[4]))),
        sheets=int(str(r[5])),
        reason=_opt(r[6]),
        found_by=str(r[7]),
        media_item=None if r[8] is None else int(str(r[8])),
        reprint=_opt(r[9]),
        created_at=str(r[10]),
        text=_opt(r[11]),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
