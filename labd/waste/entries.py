"""The entry register: what went into which container, written and read in one place.

Every kind of entry (a misprint, an uncollected order, a customer carrier) is written by
:meth:`Entries.record` inside its caller's transaction, after the caller has checked that
the container takes it, together with its chained ``waste.<kind>`` event.  Entries name
jobs, output numbers, sheet counts and media items, never images or customer names.  The
free text of an "other" reason goes to ``waste_entry_personal`` and the event's detail,
never into the chain; :func:`erase_personal` deletes it on erasure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from labd.errors import WasteError
from labd.journal import Journal, Tx
from labd.waste.model import EntryKind, WasteEntry
from labd.waste.tables import ENTRY_COLUMNS, ENTRY_FROM, entry_of


@dataclass
class Entries:
    """The entries of every container: recording one, reading them back, counting a job's."""

    journal: Journal

    def record(
        self,
        tx: Tx,
        container: str,
        kind: EntryKind,
        *,
        job_id: int | None,
        sheets: int,
        reason: str | None,
        by: str,
        outputs: Sequence[int] = (),
        media_item: int | None = None,
        reprint: str | None = None,
        text: str | None = None,
    ) -> int:
        """Write one entry and its event in ``tx``; return the entry's id.

        ``text`` (an "other" reason's free text) is personal: kept beside the entry and
        in the event's detail, not in the chained data.
        """
        entry_id = tx.insert(
            "INSERT INTO waste_entries (container, kind, job_id, outputs, sheets, reason, "
            "found_by, media_item, reprint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (
                container,
                kind.value,
                job_id,
                json.dumps(list(outputs)),
                sheets,
                reason,
                by,
                media_item,
                reprint,
                tx.now(),
            ),
        )
        if text is not None:
            tx.execute(
                "INSERT INTO waste_entry_personal (entry_id, text) VALUES (?, ?)", (entry_id, text)
            )
        data: dict[str, object] = {
            "entry": entry_id,
            "container": container,
            "kind": kind.value,
            "sheets": sheets,
            "reason": reason,
            "by": by,
        }
        if outputs:
            data["outputs"] = list(outputs)
        if media_item is not None:
            data["media_item"] = media_item
        tx.event(f"waste.{kind.value}", data, job_id=job_id, detail=text)
        return entry_id

    def entry(self, entry_id: int) -> WasteEntry:
        """One entry."""
        sql = f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.id = ?"  # noqa: S608  # constants only
        rows = self.journal.query(sql, (entry_id,))
        if not rows:
            raise WasteError(f"no waste entry {entry_id}")
        return entry_of(rows[0])

    def entries(self, container: str | None = None, *, job: int | None = None) -> list[WasteEntry]:
        """Entries, oldest first, of one container or all, optionally only one job's."""
        where: list[str] = []
        args: list[object] = []
        for term, value in (("e.container = ?", container), ("e.job_id = ?", job)):
            if value is not None:
                where.append(term)
                args.append(value)
        sql = f"SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM}"  # noqa: S608  # constants only
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [entry_of(r) for r in self.journal.query(sql + " ORDER BY e.id", args)]

    def count_of(self, *, jobs: Sequence[int]) -> int:
        """How many entries name these jobs: for an erasure's plan."""
        marks = ", ".join("?" * len(jobs))
        rows = self.journal.query(
            f"SELECT count(*) AS n FROM waste_entries WHERE job_id IN ({marks})",  # noqa: S608  # placeholders
            list(jobs),
        )
        return rows[0].integer("n") if jobs else 0


def media_items_in(tx: Tx, container: str) -> list[int]:
    """The media items destroyed in ``container``, read inside ``tx``."""
    rows = tx.rows(
        "SELECT media_item FROM waste_entries WHERE container = ? AND kind = 'media'",
        (container,),
    )
    return [row.integer("media_item") for row in rows]


def erase_personal(tx: Tx, job_ids: Sequence[int]) -> dict[str, int]:
    """Erasure: delete the free texts of these jobs' waste entries (their events' texts go
    with the job's); containers, sheets and reasons stay, so the destruction stays provable.
    """
    erased = 0
    for job_id in job_ids:
        erased += tx.execute(
            "DELETE FROM waste_entry_personal WHERE entry_id IN "
            "(SELECT id FROM waste_entries WHERE job_id = ?)",
            (job_id,),
        )
    return {"waste_texts": erased}
