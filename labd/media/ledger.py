"""Customer media custody: every carrier an order came on is returned or destroyed, provably.

A media item (USB stick, SD card, disk, disc) goes ``received -> in_use -> ready ->
returned | destroyed``, or ``lost`` (a data-protection incident).  A stick that labd
detected by itself starts ``unlinked`` until a technician links it to an order or
dismisses it.  Every move is a chained ``media.*`` event; what identifies a customer
(serial number, volume label, order references, parcel numbers, incident texts) lives in
tables and event details outside the chain, so it can be erased without breaking it.

No adapters here: USB detection (pyudev) is :mod:`labd.media.detect`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

import structlog

from labd.clock import parse_timestamp
from labd.config import MediaSettings
from labd.errors import MediaError, MediaMoveRefused, MediaNotFound
from labd.journal import ComponentSchema, Journal, Tx
from labd.media.model import (
    _OUTSTANDING,
    DEFAULT_MATERIAL,
    MOVES,
    Disposition,
    IdKind,
    Material,
    MediaEvent,
    MediaItem,
    MediaKind,
    MediaState,
)
from labd.model import JobState
from labd.store import chain

log = structlog.get_logger(__name__)


# DIN 66399 security level as written on certificates: material class, dash, level 1-7.
_LEVEL = re.compile(r"^([PFOTHE])-([1-7])$")

SCHEMA: Final = ComponentSchema(
    "media",
    (
        (
            """CREATE TABLE media_items (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                material TEXT NOT NULL,
                state TEXT NOT NULL,
                disposition TEXT NOT NULL,
                id_kind TEXT NOT NULL,
                source TEXT NOT NULL,
                received_by TEXT,
                received_at TEXT,
                ready_at TEXT,
                closed_by TEXT,
                closed_at TEXT,
                level TEXT,
                container TEXT,
                shredder_run TEXT,
                certificate TEXT,
                vendor TEXT,
                model TEXT,
                capacity INTEGER,
                present INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX media_items_state ON media_items(state)",
            # Personal data, apart from the chained events so erasure leaves the chain intact.
            """CREATE TABLE media_personal (
                item_id INTEGER PRIMARY KEY REFERENCES media_items(id),
                identifier TEXT,
                label TEXT,
                shipment TEXT
            )""",
            "CREATE INDEX media_personal_identifier ON media_personal(identifier)",
            """CREATE TABLE media_orders (
                item_id INTEGER NOT NULL REFERENCES media_items(id),
                order_ref TEXT NOT NULL,
                PRIMARY KEY (item_id, order_ref)
            )""",
            """CREATE TABLE media_jobs (
                item_id INTEGER NOT NULL REFERENCES media_items(id),
                job_id INTEGER NOT NULL REFERENCES jobs(id),
                PRIMARY KEY (item_id, job_id)
            )""",
        ),
    ),
)


_COLUMNS: Final = (
    "m.id, m.kind, m.material, m.state, m.disposition, m.id_kind, p.identifier, p.label, "
    "m.source, m.received_by, m.received_at, m.ready_at, m.closed_by, m.closed_at, m.level, "
    "m.container, m.shredder_run, m.certificate, p.shipment, m.vendor, m.model, m.capacity, "
    "m.present, m.created_at, m.updated_at"
)
_FROM: Final = "media_items m LEFT JOIN media_personal p ON p.item_id = m.id"


def parse_level(level: str) -> tuple[str, int]:
    """``"O-3"`` -> ``("O", 3)``; a :class:`MediaError` for anything else."""
    match = _LEVEL.match(level.strip().upper())
    if match is None:
        raise MediaError(level, "not a DIN 66399 security level like O-3 or E-3")
    return match.group(1), int(match.group(2))


class MediaLedger:
    """The media ledger in the journal; every change is one transaction with its event."""

    def __init__(self, journal: Journal, settings: MediaSettings | None = None) -> None:
        self.journal = journal
        self.settings = settings or MediaSettings()

    # -- recording -----------------------------------------------------------------------------

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
            item_id = self._insert(
                tx,
                kind,
                state=MediaState.RECEIVED,
                id_kind=id_kind,
                identifier=identifier.strip(),
                source="manual",
                disposition=disposition,
                material=material,
                by=by,
            )
            self._link(tx, item_id, orders, jobs)
            row = self._row(tx, item_id)
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
        return self.item(item_id)

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
        marks = ", ".join("?" * len(_OUTSTANDING))
        sql = (
            "SELECT m.id FROM media_items m JOIN media_personal p ON p.item_id = m.id "  # noqa: S608  # placeholders only
            f"WHERE p.identifier = ? AND m.state IN ({marks}) ORDER BY m.id DESC LIMIT 1"
        )
        rows = self.journal.query(sql, [identifier.strip(), *sorted(s.value for s in _OUTSTANDING)])
        if rows:  # e.g. the stick detected when it was plugged in, still unlinked
            return self.link(int(str(rows[0][0])), by=by, orders=orders, jobs=[job])
        return self.register(kind, identifier, by=by, id_kind=id_kind, orders=orders,
                             jobs=[job], disposition=disposition)  # fmt: skip

    def detected(
        self,
        *,
        serial: str | None,
        vendor: str | None,
        model: str | None,
        capacity: int | None,
        label: str | None,
    ) -> MediaItem:
        """A USB mass-storage device was plugged in: a known outstanding item, or a new one.

        A new one is ``unlinked`` until a technician links it to an order or dismisses it.
        """
        with self.journal.transaction() as tx:
            known = None
            if serial:
                known = tx.one(
                    "SELECT m.id FROM media_items m JOIN media_personal p ON p.item_id = m.id "
                    "WHERE p.identifier = ? AND m.id_kind = 'serial' AND m.state IN "
                    "('unlinked', 'received', 'in_use', 'ready') ORDER BY m.id DESC LIMIT 1",
                    (serial,),
                )
            if known is not None:
                item_id = known.integer("id")
                if label:
                    tx.execute(
                        "UPDATE media_personal SET label = ? WHERE item_id = ?", (label, item_id)
                    )
            else:
                item_id = self._insert(
                    tx,
                    MediaKind.USB,
                    state=MediaState.UNLINKED,
                    id_kind=IdKind.SERIAL if serial else IdKind.LABEL,
                    identifier=serial or label,
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
                        "kind": "usb",
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
        log.info("media.inserted", item=item_id, new=known is None, vendor=vendor, model=model)
        return self.item(item_id)

    def removed(self, item_id: int) -> None:
        """The device of ``item_id`` was unplugged."""
        with self.journal.transaction() as tx:
            self._row(tx, item_id)
            tx.execute(
                "UPDATE media_items SET present = 0, updated_at = ? WHERE id = ?",
                (tx.now(), item_id),
            )
            tx.event("media.removed", {"item": item_id})
        log.info("media.removed", item=item_id)

    def labelled(self, item_id: int, label: str) -> None:
        """The volume label of a plugged item became readable (personal: no chained event)."""
        with self.journal.transaction() as tx:
            self._row(tx, item_id)
            tx.execute("UPDATE media_personal SET label = ? WHERE item_id = ?", (label, item_id))

    def link(
        self, item_id: int, *, by: str, orders: Sequence[str] = (), jobs: Sequence[int] = ()
    ) -> MediaItem:
        """Tie an item to orders or jobs; an unlinked (detected) item becomes received."""
        if not orders and not jobs:
            raise MediaError(item_id, "name the order (--order) or job (--job) to link it to")
        with self.journal.transaction() as tx:
            row = self._row(tx, item_id)
            state = MediaState(row["state"])
            if not state.outstanding:
                raise MediaMoveRefused(
                    item_id, state.value, "linked", "it is no longer in the house"
                )
            self._link(tx, item_id, orders, jobs)
            if state is MediaState.UNLINKED:
                tx.execute(
                    "UPDATE media_items SET received_by = ?, received_at = ? WHERE id = ?",
                    (by, tx.now(), item_id),
                )
                self._move(tx, item_id, MediaState.RECEIVED, by=by)
            tx.event(
                "media.linked",
                {"item": item_id, "jobs": list(jobs), "by": by},
                detail=_orders_detail(orders),
            )
        log.info("media.linked", item=item_id, jobs=list(jobs), by=by)
        return self.item(item_id)

    def dismiss(self, item_id: int, *, by: str, reason: str) -> MediaItem:
        """A detected device was not a customer's carrier (the lab's own stick ...)."""
        with self.journal.transaction() as tx:
            self._move(tx, item_id, MediaState.DISMISSED, by=by, detail=reason, close=True)
        return self.item(item_id)

    def in_use(self, item_id: int, *, by: str) -> MediaItem:
        """The order's files are being taken from the carrier."""
        with self.journal.transaction() as tx:
            self._move(tx, item_id, MediaState.IN_USE, by=by)
        return self.item(item_id)

    def ready(self, item_id: int, *, by: str) -> MediaItem:
        """Its order is done: it waits to be returned or destroyed; overdue counts from now."""
        with self.journal.transaction() as tx:
            tx.execute("UPDATE media_items SET ready_at = ? WHERE id = ?", (tx.now(), item_id))
            self._move(tx, item_id, MediaState.READY, by=by)
        return self.item(item_id)

    def ready_for_done_jobs(self, *, by: str = "labd") -> list[int]:
        """Mark ready every received or in-use item whose linked jobs are all done."""
        # Called every few seconds by the daemon: two reads, whatever the number of items.
        links = self.journal.query(
            "SELECT mj.item_id, mj.job_id FROM media_jobs mj JOIN media_items m "
            "ON m.id = mj.item_id WHERE m.state IN (?, ?)",
            (MediaState.RECEIVED.value, MediaState.IN_USE.value),
        )
        states = self.journal.states(r.integer("job_id") for r in links)
        finished = {JobState.DONE, JobState.PURGED}
        jobs_of: dict[int, list[int]] = {}
        for r in links:
            jobs_of.setdefault(r.integer("item_id"), []).append(r.integer("job_id"))
        ids = sorted(
            item for item, jobs in jobs_of.items() if all(states.get(j) in finished for j in jobs)
        )
        for item_id in ids:
            self.ready(item_id, by=by)
        return ids

    def set_disposition(
        self, item_id: int, disposition: Disposition, *, by: str, reason: str
    ) -> MediaItem:
        """Change what happens to an item (a customer asks for their disc back)."""
        if not reason.strip():
            raise MediaError(item_id, "changing the disposition needs a reason")
        with self.journal.transaction() as tx:
            row = self._row(tx, item_id)
            if not MediaState(row["state"]).outstanding:
                raise MediaError(item_id, f"it is already {row['state']}")
            tx.execute(
                "UPDATE media_items SET disposition = ?, updated_at = ? WHERE id = ?",
                (disposition.value, tx.now(), item_id),
            )
            tx.event(
                "media.disposition_changed",
                {"item": item_id, "from": row["disposition"], "to": disposition.value, "by": by},
                detail=reason,
            )
        return self.item(item_id)

    def returned(
        self,
        item_id: int,
        *,
        by: str,
        shipment: str | None = None,
        override: bool = False,
        reason: str | None = None,
    ) -> MediaItem:
        """Handed back to the customer, with the order or by parcel ``shipment``."""
        with self.journal.transaction() as tx:
            self._check_disposition(tx, item_id, Disposition.RETURN, override, reason)
            tx.execute(
                "UPDATE media_personal SET shipment = ? WHERE item_id = ?", (shipment, item_id)
            )
            self._move(
                tx,
                item_id,
                MediaState.RETURNED,
                by=by,
                data={"shipment": shipment is not None, "override": override},
                detail=_join(shipment and f"shipment {shipment}", reason),
                close=True,
            )
        log.info("media.returned", item=item_id, by=by, override=override)
        return self.item(item_id)

    def destroyed(
        self,
        item_id: int,
        *,
        by: str,
        level: str,
        shredder_run: str | None = None,
        override: bool = False,
        reason: str | None = None,
    ) -> MediaItem:
        """Destroyed in a shredder run at DIN 66399 ``level`` (into a container: labd.waste)."""
        with self.journal.transaction() as tx:
            self.destroy_in(
                tx,
                item_id,
                by=by,
                level=level,
                shredder_run=shredder_run,
                override=override,
                reason=reason,
            )
        return self.item(item_id)

    def destroy_in(
        self,
        tx: Tx,
        item_id: int,
        *,
        by: str,
        level: str,
        container: str | None = None,
        shredder_run: str | None = None,
        override: bool = False,
        reason: str | None = None,
    ) -> None:
        """Record a destruction inside ``tx`` (the waste ledger adds its entry to the same)."""
        if container is None and not shredder_run:
            raise MediaError(item_id, "say where it was destroyed: a container or a shredder run")
        material, _ = parse_level(level)
        row = self._check_disposition(tx, item_id, Disposition.DESTROY, override, reason)
        if material != row["material"]:
            raise MediaMoveRefused(
                item_id,
                row["state"],
                "destroyed",
                f"level {level} is for material class {material}, "
                f"but this {row['kind']} is class {row['material']}",
            )
        tx.execute(
            "UPDATE media_items SET level = ?, container = ?, shredder_run = ? WHERE id = ?",
            (level.upper(), container, shredder_run, item_id),
        )
        self._move(
            tx,
            item_id,
            MediaState.DESTROYED,
            by=by,
            data={
                "level": level.upper(),
                "container": container,
                "shredder_run": shredder_run,
                "override": override,
            },
            detail=reason,
            close=True,
        )
        log.info("media.destroyed", item=item_id, level=level, container=container, by=by)

    def certify(self, item_id: int, certificate: str, *, by: str) -> MediaItem:
        """The disposal company's certificate for a destroyed item."""
        with self.journal.transaction() as tx:
            self.certify_in(tx, item_id, certificate, by=by)
        return self.item(item_id)

    def certify_in(self, tx: Tx, item_id: int, certificate: str, *, by: str) -> None:
        """Record a certificate of destruction inside ``tx``."""
        row = self._row(tx, item_id)
        if row["state"] != MediaState.DESTROYED:
            raise MediaError(item_id, f"is {row['state']}, not destroyed; nothing to certify")
        tx.execute(
            "UPDATE media_items SET certificate = ?, updated_at = ? WHERE id = ?",
            (certificate, tx.now(), item_id),
        )
        tx.event("media.certified", {"item": item_id, "certificate": certificate, "by": by})

    def lost(self, item_id: int, *, by: str, contents: str, measures: str) -> MediaItem:
        """A data-protection incident: what was on it and what was done."""
        if not contents.strip() or not measures.strip():
            raise MediaError(item_id, "a lost item needs what was on it and what was done")
        with self.journal.transaction() as tx:
            self._move(
                tx,
                item_id,
                MediaState.LOST,
                by=by,
                data={"incident": True},
                detail=f"contents: {contents}; measures: {measures}",
                close=True,
            )
        log.warning("media.lost", item=item_id, by=by)
        return self.item(item_id)

    # -- reading ---------------------------------------------------------------------------------

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
        """Every event that names the item, in order."""
        self.item(item_id)
        store = self.journal.store
        found = chain.find(store, kinds=("media.",), data={"item": item_id}) + chain.find(
            store, kinds=("waste.",), data={"media_item": item_id}
        )
        return [
            MediaEvent(e.seq, e.ts, e.kind, dict(e.data), e.detail)
            for e in sorted(found, key=lambda e: e.seq)
        ]

    # -- internals -------------------------------------------------------------------------------

    def _insert(
        self,
        tx: Tx,
        kind: MediaKind,
        *,
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
        now = tx.now()
        disposition = disposition or Disposition(self.settings.disposition[kind.value])
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

    def _link(self, tx: Tx, item_id: int, orders: Sequence[str], jobs: Sequence[int]) -> None:
        for job_id in jobs:
            self.journal.job(job_id)  # raises JobNotFound
            tx.execute(
                "INSERT OR IGNORE INTO media_jobs (item_id, job_id) VALUES (?, ?)",
                (item_id, job_id),
            )
        for order in orders:
            if not order.strip():
                raise MediaError(item_id, "an order reference must not be empty")
            tx.execute(
                "INSERT OR IGNORE INTO media_orders (item_id, order_ref) VALUES (?, ?)",
                (item_id, order.strip()),
            )

    def _row(self, tx: Tx, item_id: int) -> dict[str, str]:
        row = tx.one(
            "SELECT kind, material, state, disposition FROM media_items WHERE id = ?", (item_id,)
        )
        if row is None:
            raise MediaNotFound(item_id)
        return {k: row.text(k) for k in ("kind", "material", "state", "disposition")}

    def _check_disposition(
        self,
        tx: Tx,
        item_id: int,
        wanted: Disposition,
        override: bool,  # noqa: FBT001  # internal; callers pass it by name
        reason: str | None,
    ) -> dict[str, str]:
        row = self._row(tx, item_id)
        state = MediaState(row["state"])
        target = MediaState.RETURNED if wanted is Disposition.RETURN else MediaState.DESTROYED
        self._check_move(item_id, state, target)
        if override and not (reason and reason.strip()):
            raise MediaMoveRefused(
                item_id, state.value, target.value, "an override needs a reason (--reason)"
            )
        if row["disposition"] != wanted.value and not override:
            raise MediaMoveRefused(
                item_id,
                state.value,
                target.value,
                f"this {row['kind']} is marked to {row['disposition']}; "
                "to do otherwise, give --override with a --reason",
            )
        return row

    @staticmethod
    def _check_move(item_id: int, state: MediaState, to: MediaState) -> None:
        if to in MOVES[state]:
            return
        if not MOVES[state]:
            why = f"it is already {state.value}; nothing can follow"
        elif to in (MediaState.RETURNED, MediaState.DESTROYED):
            why = "its order is not ready yet; mark it ready first"
        elif state is MediaState.UNLINKED:
            why = "it is not linked to an order yet; link it first"
        else:
            allowed = ", ".join(sorted(s.value for s in MOVES[state]))
            why = f"from {state.value} it can only go to {allowed}"
        raise MediaMoveRefused(item_id, state.value, to.value, why)

    def _move(
        self,
        tx: Tx,
        item_id: int,
        to: MediaState,
        *,
        by: str,
        data: Mapping[str, object] | None = None,
        detail: str | None = None,
        close: bool = False,
    ) -> None:
        state = MediaState(self._row(tx, item_id)["state"])
        self._check_move(item_id, state, to)
        now = tx.now()
        tx.execute(
            "UPDATE media_items SET state = ?, updated_at = ? WHERE id = ?",
            (to.value, now, item_id),
        )
        if close:
            tx.execute(
                "UPDATE media_items SET closed_by = ?, closed_at = ? WHERE id = ?",
                (by, now, item_id),
            )
        payload = {"item": item_id, "from": state.value, "to": to.value, "by": by, **(data or {})}
        tx.event(f"media.{to.value}", payload, detail=detail)

    def _item(self, r: Sequence[object]) -> MediaItem:
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


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


def _orders_detail(orders: Sequence[str]) -> str | None:
    return f"orders {', '.join(orders)}" if orders else None


def erase_personal(tx: Tx, *, order_ref: str | None, job_ids: Sequence[int]) -> dict[str, int]:
    """Erasure: delete what identifies the customer of items of an order or of these jobs.

    Serial numbers, labels, parcel numbers, the order link and the texts beside the items'
    events go; the item, its kind and every move stay, so its custody remains provable.
    """
    items: set[int] = set()
    if order_ref is not None:
        rows = tx.rows("SELECT item_id FROM media_orders WHERE order_ref = ?", (order_ref,))
        items |= {r.integer("item_id") for r in rows}
    for job_id in job_ids:
        rows = tx.rows("SELECT item_id FROM media_jobs WHERE job_id = ?", (job_id,))
        items |= {r.integer("item_id") for r in rows}
    counts = {"media_items": len(items), "media_personal": 0, "media_details": 0}
    for item_id in sorted(items):
        counts["media_personal"] += tx.execute(
            "DELETE FROM media_personal WHERE item_id = ?", (item_id,)
        )
        counts["media_personal"] += tx.execute(
            "DELETE FROM media_orders WHERE item_id = ?", (item_id,)
        )
        counts["media_details"] += chain.erase_details(
            tx, kinds=("media.",), data={"item": item_id}
        )
    return counts
