"""Arrival: how a carrier comes into the lab's custody and is tied to its orders and jobs.

A technician registers it by hand, a job ticket names it, or labd detects a USB stick
plugged into the print server (through :mod:`labd.media.detect`).  A detected stick is
``unlinked`` until a technician links it to an order or job (then it is ``received``) or
dismisses it as the lab's own.  What identifies the customer (serial number, volume label,
order references) goes into ``media_personal`` and ``media_orders`` and beside the chained
events, never into them; the moves themselves are :func:`labd.media.custody.move`.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from labd.config import MediaSettings
from labd.errors import MediaError, MediaMoveRefused
from labd.journal import Journal, Tx
from labd.media.custody import current, move
from labd.media.model import (
    _OUTSTANDING,
    DEFAULT_MATERIAL,
    Disposition,
    IdKind,
    Material,
    MediaItem,
    MediaKind,
    MediaState,
)
from labd.media.queries import MediaQueries

log = structlog.get_logger(__name__)


class Arrival:
    """Carriers coming in: registered, named by a ticket, detected; linked or dismissed."""

    def __init__(self, journal: Journal, settings: MediaSettings, queries: MediaQueries) -> None:
        self.journal = journal
        self.settings = settings
        self.queries = queries

    def register(
        self,
        kind: MediaKind,
        identifier: str,
        *,
        by: str,
        id_kind: IdKind = IdKind.TAG,
        orders: Sequence[str] = (),
        jobs: Sequence[int] = (),
        disposition: Disposition | None = None,
        material: Material | None = None,
    ) -> MediaItem:
        """A technician registers a carrier by hand (or a job ticket names it): received."""
        if not identifier.strip():
            raise MediaError("-", "an identifier (serial, volume label or tag number) is required")
        with self.journal.transaction() as tx:
            item_id = _insert(
                tx,
                kind,
                settings=self.settings,
                state=MediaState.RECEIVED,
                id_kind=id_kind,
                identifier=identifier.strip(),
                source="manual",
                disposition=disposition,
                material=material,
                by=by,
            )
            _link(tx, self.journal, item_id, orders, jobs)
            row = current(tx, item_id)
            tx.event(
                "media.registered",
                {
                    "item": item_id,
                    "kind": row["kind"],
                    "material": row["material"],
                    "disposition": row["disposition"],
                    "id_kind": id_kind.value,
                    "jobs": list(jobs),
                    "by": by,
                },
                detail=_orders_detail(orders),
            )
        log.info("media.registered", item=item_id, kind=kind.value, by=by)
        return self.queries.item(item_id)

    def receive(
        self,
        kind: MediaKind,
        identifier: str,
        *,
        by: str,
        job: int,
        id_kind: IdKind = IdKind.TAG,
        orders: Sequence[str] = (),
        disposition: Disposition | None = None,
    ) -> MediaItem:
        """A job ticket names a carrier: link the one in the house, or register it."""
        with self.journal.transaction() as tx:
            known = _outstanding(tx, identifier.strip())
        if known is not None:  # e.g. the stick detected when it was plugged in, still unlinked
            return self.link(known, by=by, orders=orders, jobs=[job])
        return self.register(kind, identifier, by=by, id_kind=id_kind, orders=orders,
                             jobs=[job], disposition=disposition)  # fmt: skip

    def detected(
        self,
        *,
        kind: MediaKind = MediaKind.USB,
        serial: str | None,
        uuid: str | None = None,
        vendor: str | None,
        model: str | None,
        capacity: int | None,
        label: str | None,
    ) -> MediaItem:
        """A carrier appeared in one of the server's ports, drives or card readers.

        It is identified by its serial number, else its file system's UUID (discs, cards
        in readers that do not pass the card's serial on), else its volume label.  A
        known outstanding item with the same identity is the same carrier seen again; a
        new one is ``unlinked`` until a technician links it to an order or dismisses it.
        """
        id_kind, identifier = (
            (IdKind.SERIAL, serial) if serial
            else (IdKind.UUID, uuid) if uuid
            else (IdKind.LABEL, label)
        )  # fmt: skip
        with self.journal.transaction() as tx:
            known = None
            if id_kind is not IdKind.LABEL and identifier is not None:
                known = _outstanding(tx, identifier, id_kind=id_kind, kind=kind)
            if known is not None:
                item_id = known
                if label:
                    tx.execute(
                        "UPDATE media_personal SET label = ? WHERE item_id = ?", (label, item_id)
                    )
            else:
                item_id = _insert(
                    tx,
                    kind,
                    settings=self.settings,
                    state=MediaState.UNLINKED,
                    id_kind=id_kind,
                    identifier=identifier,
                    source="detected",
                    by=None,
                    vendor=vendor,
                    model=model,
                    capacity=capacity,
                    label=label,
                )
                tx.event(
                    "media.detected",
                    {
                        "item": item_id,
                        "kind": kind.value,
                        "vendor": vendor,
                        "model": model,
                        "capacity": capacity,
                    },
                )
            tx.execute(
                "UPDATE media_items SET present = 1, updated_at = ? WHERE id = ?",
                (tx.now(), item_id),
            )
            tx.event("media.inserted", {"item": item_id}, detail=label)
        log.info("media.inserted", item=item_id, kind=kind.value, new=known is None,
                 vendor=vendor, model=model)  # fmt: skip
        return self.queries.item(item_id)

    def removed(self, item_id: int) -> None:
        """The device of ``item_id`` was unplugged."""
        with self.journal.transaction() as tx:
            current(tx, item_id)
            tx.execute(
                "UPDATE media_items SET present = 0, updated_at = ? WHERE id = ?",
                (tx.now(), item_id),
            )
            tx.event("media.removed", {"item": item_id})
        log.info("media.removed", item=item_id)

    def labelled(self, item_id: int, label: str) -> None:
        """The volume label of a plugged item became readable (personal: no chained event)."""
        with self.journal.transaction() as tx:
            current(tx, item_id)
            tx.execute("UPDATE media_personal SET label = ? WHERE item_id = ?", (label, item_id))

    def link(
        self, item_id: int, *, by: str, orders: Sequence[str] = (), jobs: Sequence[int] = ()
    ) -> MediaItem:
        """Tie an item to orders or jobs; an unlinked (detected) item becomes received."""
        if not orders and not jobs:
            raise MediaError(item_id, "name the order (--order) or job (--job) to link it to")
        with self.journal.transaction() as tx:
            state = MediaState(current(tx, item_id)["state"])
            if not state.outstanding:
                raise MediaMoveRefused(
                    item_id, state.value, "linked", "it is no longer in the house"
                )
            _link(tx, self.journal, item_id, orders, jobs)
            if state is MediaState.UNLINKED:
                tx.execute(
                    "UPDATE media_items SET received_by = ?, received_at = ? WHERE id = ?",
                    (by, tx.now(), item_id),
                )
                move(tx, item_id, MediaState.RECEIVED, by=by)
            tx.event(
                "media.linked",
                {"item": item_id, "jobs": list(jobs), "by": by},
                detail=_orders_detail(orders),
            )
        log.info("media.linked", item=item_id, jobs=list(jobs), by=by)
        return self.queries.item(item_id)

    def dismiss(self, item_id: int, *, by: str, reason: str) -> MediaItem:
        """A detected device was not a customer's carrier (the lab's own stick ...)."""
        with self.journal.transaction() as tx:
            move(tx, item_id, MediaState.DISMISSED, by=by, detail=reason, close=True)
        return self.queries.item(item_id)


def _outstanding(
    tx: Tx, identifier: str, *, id_kind: IdKind | None = None, kind: MediaKind | None = None
) -> int | None:
    """The newest item still in the house with this identifier (of this identifier kind and
    carrier kind, if given), or None."""
    where, args = ["p.identifier = ?"], [identifier]
    if id_kind is not None:
        where.append("m.id_kind = ?")
        args.append(id_kind.value)
    if kind is not None:
        where.append("m.kind = ?")
        args.append(kind.value)
    states = sorted(s.value for s in _OUTSTANDING)
    where.append(f"m.state IN ({', '.join('?' * len(states))})")
    row = tx.one(
        "SELECT m.id FROM media_items m JOIN media_personal p ON p.item_id = m.id "  # noqa: S608  # constants; values bound
        f"WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT 1",
        [*args, *states],
    )
    return None if row is None else row.integer("id")


def _insert(
    tx: Tx,
    kind: MediaKind,
    *,
    settings: MediaSettings,
    state: MediaState,
    id_kind: IdKind,
    identifier: str | None,
    source: str,
    by: str | None,
    disposition: Disposition | None = None,
    material: Material | None = None,
    vendor: str | None = None,
    model: str | None = None,
    capacity: int | None = None,
    label: str | None = None,
) -> int:
    """Insert an item and its personal row; ``received_at`` only with ``by``.  Its id."""
    now = tx.now()
    disposition = disposition or Disposition(settings.disposition[kind.value])
    material = material or DEFAULT_MATERIAL[kind]
    item_id = tx.insert(
        "INSERT INTO media_items (kind, material, state, disposition, id_kind, source, "
        "received_by, received_at, vendor, model, capacity, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            kind.value,
            material.value,
            state.value,
            disposition.value,
            id_kind.value,
            source,
            by,
            now if by is not None else None,
            vendor,
            model,
            capacity,
            now,
            now,
        ),
    )
    tx.execute(
        "INSERT INTO media_personal (item_id, identifier, label) VALUES (?, ?, ?)",
        (item_id, identifier, label),
    )
    return item_id


def _link(
    tx: Tx, journal: Journal, item_id: int, orders: Sequence[str], jobs: Sequence[int]
) -> None:
    """Tie the item to jobs (which must exist) and to non-empty order references."""
    for job_id in jobs:
        journal.job(job_id)  # raises JobNotFound
        tx.execute(
            "INSERT INTO media_jobs (item_id, job_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (item_id, job_id),
        )
    for order in orders:
        if not order.strip():
            raise MediaError(item_id, "an order reference must not be empty")
        tx.execute(
            "INSERT INTO media_orders (item_id, order_ref) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (item_id, order.strip()),
        )


def _orders_detail(orders: Sequence[str]) -> str | None:
    return f"orders {', '.join(orders)}" if orders else None
