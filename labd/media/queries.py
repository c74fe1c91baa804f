"""Reading the media ledger: items as they stand, lists, overdue carriers, an item's history.

Nothing here writes.  The recording side (:mod:`labd.media.arrival`,
:mod:`labd.media.custody`) answers every change with the item read back from here, so
the mapping of the media tables' rows onto :class:`~labd.media.model.MediaItem` is in
one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

from labd.clock import parse_timestamp
from labd.config import MediaSettings
from labd.errors import MediaNotFound
from labd.journal import Journal
from labd.media.model import (
    _OUTSTANDING,
    Disposition,
    IdKind,
    Material,
    MediaEvent,
    MediaItem,
    MediaKind,
    MediaState,
)
from labd.model import Job
from labd.store import chain

# An item with its personal data, which lives apart so erasure can delete it alone.
_COLUMNS: Final = (
    "m.id, m.kind, m.material, m.state, m.disposition, m.id_kind, p.identifier, p.label, "
    "m.source, m.received_by, m.received_at, m.ready_at, m.closed_by, m.closed_at, m.level, "
    "m.container, m.shredder_run, m.certificate, p.shipment, m.vendor, m.model, m.capacity, "
    "m.present, m.created_at, m.updated_at"
)
_FROM: Final = "media_items m LEFT JOIN media_personal p ON p.item_id = m.id"


class MediaQueries:
    """Items, lists and histories from the media tables and the event log."""

    def __init__(self, journal: Journal, settings: MediaSettings) -> None:
        self.journal = journal
        self.settings = settings

    def item(self, item_id: int) -> MediaItem:
        """The item ``item_id`` as it stands."""
        rows = self.journal.query(f"SELECT {_COLUMNS} FROM {_FROM} WHERE m.id = ?", (item_id,))  # noqa: S608  # constants only
        if not rows:
            raise MediaNotFound(item_id)
        return self._item(rows[0])

    def items(
        self,
        *,
        states: Iterable[MediaState] | None = None,
        outstanding: bool = False,
        order: str | None = None,
        job: int | None = None,
    ) -> list[MediaItem]:
        """Items, oldest first, filtered by state, outstanding, order reference or job."""
        where: list[str] = []
        args: list[object] = []
        wanted = {s.value for s in states} if states is not None else None
        if outstanding:
            wanted = (wanted or {s.value for s in MediaState}) & {s.value for s in _OUTSTANDING}
        if wanted is not None:
            where.append(f"m.state IN ({', '.join('?' * len(wanted))})")
            args.extend(sorted(wanted))
        if order is not None:
            where.append("m.id IN (SELECT item_id FROM media_orders WHERE order_ref = ?)")
            args.append(order)
        if job is not None:
            where.append("m.id IN (SELECT item_id FROM media_jobs WHERE job_id = ?)")
            args.append(job)
        sql = f"SELECT {_COLUMNS} FROM {_FROM}"  # noqa: S608  # constants; values bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._item(r) for r in self.journal.query(sql + " ORDER BY m.id", args)]

    def of_job(self, job: Job) -> list[MediaItem]:
        """The carriers of a job: linked to it, or to its order (registered by hand for the
        order, before or after the job came), oldest first."""
        linked = {i.id: i for i in self.items(job=job.id)}
        if job.order_ref is not None:
            linked.update((i.id, i) for i in self.items(order=job.order_ref))
        return [linked[i] for i in sorted(linked)]

    def count_of(self, *, jobs: Sequence[int], order: str | None = None) -> int:
        """How many items belong to these jobs (or to the order): for an erasure's plan."""
        ids = {i.id for job in jobs for i in self.items(job=job)}
        if order is not None:
            ids |= {i.id for i in self.items(order=order)}
        return len(ids)

    def overdue(self, now: datetime | None = None) -> list[MediaItem]:
        """Items still in the house ``overdue_days`` after their order became ready."""
        now = now or self.journal.clock.now()
        limit = timedelta(days=self.settings.overdue_days)
        return [
            i
            for i in self.items(states=[MediaState.READY])
            if i.ready_at is not None and now - parse_timestamp(i.ready_at) >= limit
        ]

    def history(self, item_id: int) -> list[MediaEvent]:
        """Every event that names the item, in order (the waste ledger's too)."""
        self.item(item_id)
        store = self.journal.store
        found = chain.find(store, kinds=("media.",), data={"item": item_id}) + chain.find(
            store, kinds=("waste.",), data={"media_item": item_id}
        )
        return [
            MediaEvent(e.seq, e.ts, e.kind, dict(e.data), e.detail)
            for e in sorted(found, key=lambda e: e.seq)
        ]

    def _item(self, r: Sequence[object]) -> MediaItem:
        """One row of ``_COLUMNS`` with the item's orders and jobs."""
        item_id = int(str(r[0]))
        orders = self.journal.query(
            "SELECT order_ref FROM media_orders WHERE item_id = ? ORDER BY order_ref", (item_id,)
        )
        jobs = self.journal.query(
            "SELECT job_id FROM media_jobs WHERE item_id = ? ORDER BY job_id", (item_id,)
        )
        return MediaItem(
            id=item_id,
            kind=MediaKind(str(r[1])),
            material=Material(str(r[2])),
            state=MediaState(str(r[3])),
            disposition=Disposition(str(r[4])),
            id_kind=IdKind(str(r[5])),
            identifier=_opt(r[6]),
            label=_opt(r[7]),
            orders=tuple(str(o[0]) for o in orders),
            jobs=tuple(int(str(j[0])) for j in jobs),
            source=str(r[8]),
            received_by=_opt(r[9]),
            received_at=_opt(r[10]),
            ready_at=_opt(r[11]),
            closed_by=_opt(r[12]),
            closed_at=_opt(r[13]),
            level=_opt(r[14]),
            container=_opt(r[15]),
            shredder_run=_opt(r[16]),
            certificate=_opt(r[17]),
            shipment=_opt(r[18]),
            vendor=_opt(r[19]),
            model=_opt(r[20]),
            capacity=int(str(r[21])) if r[21] is not None else None,
            present=bool(r[22]),
            created_at=str(r[23]),
            updated_at=str(r[24]),
        )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
