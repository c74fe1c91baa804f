"""Customer media: carriers received, returned, destroyed and lost in the period, per kind.

The moves come from the media ledger's events; what is outstanding and overdue is as the
ledger stands now, whatever the period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from labd.media.ledger import MediaLedger
from labd.report.context import Context, int_of
from labd.report.model import Table

# Each event of a carrier's life, as the column it counts in.
_COLUMN = {
    "media.registered": "received",
    "media.received": "received",  # a detected stick linked to an order
    "media.returned": "returned",
    "media.destroyed": "destroyed",
    "media.lost": "lost",
}
_NAMES = ("received", "returned", "destroyed", "lost")


@dataclass(frozen=True)
class MediaMoves:
    """The media table and the media totals (``media_received`` ... ``media_overdue_now``)."""

    table: Table
    totals: dict[str, int]


def read_media(ctx: Context) -> MediaMoves:
    """Carriers received, returned, destroyed and lost in ``ctx``'s period, per kind."""
    ledger = MediaLedger(ctx.journal, ctx.config.media)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    kinds: dict[int, str] = {}
    for e in ctx.events(*_COLUMN):
        item = int_of(e.data.get("item"))
        if item not in kinds:
            kinds[item] = ledger.item(item).kind.value
        counts[kinds[item]][_COLUMN[e.kind]] += 1
    table = Table(
        "media",
        "Customer media per kind",
        ("kind", *_NAMES),
        tuple((k, *(counts[k][n] for n in _NAMES)) for k in sorted(counts)),
    )
    totals = {f"media_{n}": sum(c[n] for c in counts.values()) for n in _NAMES}
    totals["media_outstanding_now"] = len(ledger.items(outstanding=True))
    totals["media_overdue_now"] = len(ledger.overdue(ctx.now))
    return MediaMoves(table, totals)
