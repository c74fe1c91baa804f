"""Legal holds: a job, or every job of an order, that must not be deleted until released.

A complaint or a claim may need a job's files and data after its retention period; a
technician places a hold with a reason, and retention and erasure both skip what is held.
The order reference and the reason are personal (a complaint may name people): they live
in ``retention_hold_personal`` and go when the order is erased, while the hold itself and
the events about it stay.  The event of a hold on an order names the order only by a salted
hash whose salt is erased with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import structlog

from labd.journal import Journal, Tx, personal_ref
from labd.privacy.model import Hold, HoldNotFound, RetentionError

log = structlog.get_logger(__name__)


class LegalHolds:
    """Places, releases and lists legal holds (``retention_holds`` and its personal part)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def place(
        self, *, job_id: int | None = None, order_ref: str | None = None, by: str, reason: str
    ) -> Hold:
        """Stop the deletion of a job, or of every job of an order (also later ones)."""
        if (job_id is None) == (order_ref is None):
            raise RetentionError("a hold is on one job or on one order")
        if not reason.strip():
            raise RetentionError("a hold needs a reason")
        if job_id is not None:
            self.journal.job(job_id)  # raises JobNotFound
        salt = os.urandom(16)
        with self.journal.transaction() as tx:
            hold_id = tx.insert(
                "INSERT INTO retention_holds (job_id, placed_by, placed_at) VALUES (?, ?, ?) "
                "RETURNING id",
                (job_id, by, tx.now()),
            )
            tx.execute(
                "INSERT INTO retention_hold_personal (hold_id, order_ref, reason, salt) "
                "VALUES (?, ?, ?, ?)",
                (hold_id, order_ref, reason, salt),
            )
            data: dict[str, object] = {"hold": hold_id, "by": by}
            if order_ref is not None:
                # The event refers to the order by a salted hash; the salt is erased with it.
                data["order_hash"] = personal_ref(salt, order_ref)
                data["jobs"] = self.journal.jobs_of_order(order_ref)
            tx.event("retention.hold_placed", data, job_id=job_id, detail=reason)
        log.info("retention.hold_placed", hold=hold_id, job_id=job_id, by=by)
        return self.by_id(int(hold_id or 0))

    def release(
        self,
        *,
        hold_id: int | None = None,
        job_id: int | None = None,
        order_ref: str | None = None,
        by: str,
        reason: str,
    ) -> list[Hold]:
        """Release a hold (by its number, or every active one of a job or an order)."""
        active = [
            h
            for h in self.holds()
            if (hold_id is not None and h.id == hold_id)
            or (job_id is not None and h.job_id == job_id)
            or (order_ref is not None and h.order_ref == order_ref)
        ]
        if not active:
            raise HoldNotFound(
                hold_id if hold_id is not None else f"on {job_id or 'order ' + str(order_ref)}"
            )
        with self.journal.transaction() as tx:
            for h in active:
                tx.execute(
                    "UPDATE retention_holds SET released_by = ?, released_at = ? WHERE id = ?",
                    (by, tx.now(), h.id),
                )
                tx.event(
                    "retention.hold_released", {"hold": h.id, "by": by}, job_id=h.job_id,
                    detail=reason,
                )  # fmt: skip
        log.info("retention.hold_released", holds=[h.id for h in active], by=by)
        return [self.by_id(h.id) for h in active]

    def holds(self, *, include_released: bool = False) -> list[Hold]:
        """Legal holds, active ones only unless asked."""
        sql = (
            "SELECT h.id, h.job_id, p.order_ref, p.reason, h.placed_by, h.placed_at, "
            "h.released_by, h.released_at FROM retention_holds h "
            "LEFT JOIN retention_hold_personal p ON p.hold_id = h.id"
        )
        if not include_released:
            sql += " WHERE h.released_at IS NULL"
        return [_hold(r) for r in self.journal.query(sql + " ORDER BY h.id")]

    def by_id(self, hold_id: int) -> Hold:
        """One hold, active or released."""
        for h in self.holds(include_released=True):
            if h.id == hold_id:
                return h
        raise HoldNotFound(hold_id)

    def on_job(self, job_id: int, order_ref: str | None) -> list[Hold]:
        """The active holds that keep a job: on the job itself, or on its order."""
        return [
            h
            for h in self.holds()
            if h.job_id == job_id or (order_ref is not None and h.order_ref == order_ref)
        ]

    @staticmethod
    def erase_personal(tx: Tx, order_ref: str | None, jobs: Sequence[int]) -> int:
        """Within ``tx``, delete the order references and reasons of holds on an order or on
        these jobs (the holds stay, nameless); return how many went."""
        erased = 0
        if order_ref is not None:
            erased += tx.execute(
                "DELETE FROM retention_hold_personal WHERE order_ref = ?", (order_ref,)
            )
        for jid in jobs:
            erased += tx.execute(
                "DELETE FROM retention_hold_personal WHERE hold_id IN "
                "(SELECT id FROM retention_holds WHERE job_id = ?)",
                (jid,),
            )
        return erased


def _hold(r: Sequence[object]) -> Hold:
    def opt(v: object) -> str | None:
        return None if v is None else str(v)

    return Hold(
        id=int(str(r[0])),
        job_id=None if r[1] is None else int(str(r[1])),
        order_ref=opt(r[2]),
        reason=opt(r[3]),
        placed_by=str(r[4]),
        placed_at=str(r[5]),
        released_by=opt(r[6]),
        released_at=opt(r[7]),
    )
