"""Custody: an item's moves while the lab holds it, and the way it leaves the house.

``received -> in_use -> ready -> returned | destroyed``, or ``lost``.  Every move is
checked against :data:`~labd.media.model.MOVES` and written by :func:`move` in the same
transaction as its chained ``media.<state>`` event, so the chain proves the custody.  How an
item comes in (registered, named by a ticket, detected, linked or dismissed) is
:mod:`labd.media.arrival`; it moves items with the same :func:`move`.

Return or destruction follows the item's disposition; doing otherwise needs an override
with a reason.  The waste ledger records a destruction into one of its containers, and the
disposal company's certificate, inside its own transaction: :meth:`Custody.destroy_in`
and :meth:`Custody.certify_in`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import structlog

from labd.errors import MediaError, MediaMoveRefused, MediaNotFound
from labd.journal import Journal, Tx
from labd.media.model import MOVES, Disposition, MediaItem, MediaState
from labd.media.queries import MediaQueries
from labd.model import JobState

log = structlog.get_logger(__name__)

# DIN 66399 security level as written on certificates: material class, dash, level 1-7.
_LEVEL = re.compile(r"^([PFOTHE])-([1-7])$")


def parse_level(level: str) -> tuple[str, int]:
    """``"O-3"`` -> ``("O", 3)``; a :class:`MediaError` for anything else."""
    match = _LEVEL.match(level.strip().upper())
    if match is None:
        raise MediaError(level, "not a DIN 66399 security level like O-3 or E-3")
    return match.group(1), int(match.group(2))


def current(tx: Tx, item_id: int) -> dict[str, str]:
    """Kind, material, state and disposition of the item inside ``tx``; or MediaNotFound."""
    row = tx.one(
        "SELECT kind, material, state, disposition FROM media_items WHERE id = ?", (item_id,)
    )
    if row is None:
        raise MediaNotFound(item_id)
    return {k: row.text(k) for k in ("kind", "material", "state", "disposition")}


def check_move(item_id: int, state: MediaState, to: MediaState) -> None:
    """Refuse a move :data:`MOVES` does not allow, saying what a technician should do."""
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


def move(
    tx: Tx,
    item_id: int,
    to: MediaState,
    *,
    by: str,
    data: Mapping[str, object] | None = None,
    detail: str | None = None,
    close: bool = False,
) -> None:
    """Move the item to ``to`` with its ``media.<to>`` event; ``close``: it has left."""
    state = MediaState(current(tx, item_id)["state"])
    check_move(item_id, state, to)
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


class Custody:
    """Work on an item and its way out: in use, ready, returned, destroyed, certified, lost."""

    def __init__(self, journal: Journal, queries: MediaQueries) -> None:
        self.journal = journal
        self.queries = queries

    def in_use(self, item_id: int, *, by: str) -> MediaItem:
        """The order's files are being taken from the carrier."""
        with self.journal.transaction() as tx:
            move(tx, item_id, MediaState.IN_USE, by=by)
        return self.queries.item(item_id)

    def imported(
        self,
        item_id: int,
        *,
        by: str,
        hotfolder: str,
        files: int,
        size: int,
        left: int,
        unreadable: int,
        folder: str | None,
    ) -> MediaItem:
        """An order was imported from the carrier (``folder`` released), or could not be.

        A complete import puts a received (or ready) carrier in use; an incomplete one is
        journaled and changes nothing.  The order folder's name is personal: beside the
        chained event, not in it.
        """
        with self.journal.transaction() as tx:
            state = MediaState(current(tx, item_id)["state"])
            tx.event(
                "media.imported",
                {"item": item_id, "by": by, "hotfolder": hotfolder, "files": files,
                 "bytes": size, "left": left, "unreadable": unreadable,
                 "complete": folder is not None},
                detail=folder,
            )  # fmt: skip
            if folder is not None and state in (MediaState.RECEIVED, MediaState.READY):
                move(tx, item_id, MediaState.IN_USE, by=by)
        log.info("media.imported", item=item_id, files=files, complete=folder is not None)
        return self.queries.item(item_id)

    def ready(self, item_id: int, *, by: str) -> MediaItem:
        """Its order is done: it waits to be returned or destroyed; overdue counts from now."""
        with self.journal.transaction() as tx:
            tx.execute("UPDATE media_items SET ready_at = ? WHERE id = ?", (tx.now(), item_id))
            move(tx, item_id, MediaState.READY, by=by)
        return self.queries.item(item_id)

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
            row = current(tx, item_id)
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
        return self.queries.item(item_id)

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
            _check_disposition(tx, item_id, Disposition.RETURN, override, reason)
            tx.execute(
                "UPDATE media_personal SET shipment = ? WHERE item_id = ?", (shipment, item_id)
            )
            move(
                tx,
                item_id,
                MediaState.RETURNED,
                by=by,
                data={"shipment": shipment is not None, "override": override},
                detail=_join(shipment and f"shipment {shipment}", reason),
                close=True,
            )
        log.info("media.returned", item=item_id, by=by, override=override)
        return self.queries.item(item_id)

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
        return self.queries.item(item_id)

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
        row = _check_disposition(tx, item_id, Disposition.DESTROY, override, reason)
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
        move(
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
        return self.queries.item(item_id)

    def certify_in(self, tx: Tx, item_id: int, certificate: str, *, by: str) -> None:
        """Record a certificate of destruction inside ``tx``."""
        row = current(tx, item_id)
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
            move(
                tx,
                item_id,
                MediaState.LOST,
                by=by,
                data={"incident": True},
                detail=f"contents: {contents}; measures: {measures}",
                close=True,
            )
        log.warning("media.lost", item=item_id, by=by)
        return self.queries.item(item_id)


def _check_disposition(
    tx: Tx,
    item_id: int,
    wanted: Disposition,
    override: bool,  # noqa: FBT001  # internal; callers pass it by name
    reason: str | None,
) -> dict[str, str]:
    """Refuse a return or destruction the item is not marked for, unless overridden."""
    row = current(tx, item_id)
    state = MediaState(row["state"])
    target = MediaState.RETURNED if wanted is Disposition.RETURN else MediaState.DESTROYED
    check_move(item_id, state, target)
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


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None
