"""The reading side: a container's manifest, the certificates register, waste per reason.

The manifest goes to the disposal company as it is: jobs, output numbers, sheets, media
items and their order references, never images or customer names.  The certificates
register shows every collected container, certified or overdue; waste per month and
reason shows where misprints come from.  Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.waste.containers import Containers
from labd.waste.entries import Entries
from labd.waste.model import ContainerState, Manifest


@dataclass
class Reports:
    """Manifests and registers built from the containers and their entries."""

    journal: Journal
    boxes: Containers
    register: Entries
    media: MediaLedger  # a destroyed carrier's kind and order references

    def manifest(self, container_id: str) -> Manifest:
        """What is in a container: jobs, sheets, media and order references; no names, no images."""
        box = self.boxes.container(container_id)
        entries = self.register.entries(container_id)
        lines: list[dict[str, object]] = []
        for e in entries:
            line: dict[str, object] = {
                "entry": e.id,
                "kind": e.kind.value,
                "job": e.job_id,
                "outputs": list(e.outputs),
                "sheets": e.sheets,
                "reason": e.reason,
                "media_item": e.media_item,
                "media_kind": None,
                "orders": [],
                "added_at": e.created_at,
            }
            if e.media_item is not None:
                item = self.media.item(e.media_item)
                line["media_kind"] = item.kind.value
                line["orders"] = list(item.orders)
            lines.append(line)
        header: dict[str, object] = {
            "container": box.id,
            "din_level": box.din_level,
            "location": box.location,
            "state": box.state.value,
            "seal": box.seal,
            "company": box.company,
            "collected_on": box.collected_on,
            "certificate": box.certificate,
            "sheets": sum(e.sheets for e in entries),
        }
        return Manifest(header, lines)

    def certificates(self) -> list[dict[str, object]]:
        """The register of certificates: every collected container, certified or overdue."""
        overdue = {c.id for c in self.boxes.overdue()}
        return [
            {
                "container": c.id,
                "din_level": c.din_level,
                "company": c.company,
                "collected_on": c.collected_on,
                "certificate": c.certificate,
                "certified_on": c.certified_on,
                "overdue": c.id in overdue,
            }
            for c in self.boxes.containers()
            if c.state in (ContainerState.COLLECTED, ContainerState.CERTIFIED)
        ]

    def per_reason_month(self) -> list[dict[str, object]]:
        """Waste per month and reason: entries and sheets (where misprints come from)."""
        rows = self.journal.query(
            "SELECT substr(created_at, 1, 7), kind, coalesce(reason, '-'), count(*), sum(sheets) "
            "FROM waste_entries GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        return [
            {"month": m, "kind": k, "reason": r, "entries": n, "sheets": s}
            for m, k, r, n, s in rows
        ]
