"""Erasure of a customer's media data, for :mod:`labd.privacy.retention`.

The media tables keep what identifies a customer (serial numbers, volume labels, parcel
numbers, order references) apart from the items, and the texts beside the chained events
apart from the hashed event data.  So both can be deleted while every item and its moves
stay: the custody of a carrier remains provable after its owner's data is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from labd.journal import Tx
from labd.store import chain


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
