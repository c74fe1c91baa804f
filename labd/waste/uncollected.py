"""Finished orders nobody picked up: marked, due after ``uncollected_days``, destroyed.

A technician marks a done job as not picked up; counted from when the job became DONE
(its ``job.state_changed`` event), it is due for destruction after ``uncollected_days``,
and its prints then go into an open class-P container as an ``uncollected`` entry, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from labd.clock import parse_timestamp
from labd.config import WasteSettings
from labd.errors import WasteEntryRefused
from labd.journal import Journal
from labd.store import chain
from labd.waste.containers import Containers
from labd.waste.entries import Entries
from labd.waste.model import EntryKind, Uncollected, WasteEntry, WasteMaterial


@dataclass
class UncollectedOrders:
    """Orders marked as not picked up, when they are due, and their destruction."""

    journal: Journal
    settings: WasteSettings  # uncollected_days
    boxes: Containers
    register: Entries

    def mark_uncollected(self, job_id: int, *, by: str) -> Uncollected:
        """A finished order was not picked up; it becomes due for destruction after N days."""
        if self._done_at(job_id) is None:
            raise WasteEntryRefused(
                f"job {job_id} is not done; only finished orders are uncollected"
            )
        with self.journal.transaction() as tx:
            if tx.one("SELECT 1 FROM waste_uncollected WHERE job_id = ?", (job_id,)):
                raise WasteEntryRefused(f"job {job_id} is marked as not picked up already")
            tx.execute(
                "INSERT INTO waste_uncollected (job_id, marked_by, marked_at) VALUES (?, ?, ?)",
                (job_id, by, tx.now()),
            )
            tx.event("waste.uncollected_marked", {"by": by}, job_id=job_id)
        return next(u for u in self.uncollected() if u.job_id == job_id)

    def uncollected(self, *, due_only: bool = False) -> list[Uncollected]:
        """Orders marked as not picked up, with whether they are due for destruction."""
        now = self.journal.clock.now()
        limit = timedelta(days=self.settings.uncollected_days)
        rows = self.journal.query(
            "SELECT u.job_id, u.marked_by, u.marked_at, (SELECT container FROM waste_entries w "
            "WHERE w.job_id = u.job_id AND w.kind = 'uncollected') FROM waste_uncollected u "
            "ORDER BY u.job_id"
        )
        result = []
        for job_id, marked_by, marked_at, destroyed_in in rows:
            done_at = self._done_at(int(str(job_id)))
            due = done_at is not None and now - parse_timestamp(done_at) >= limit
            if due_only and (not due or destroyed_in is not None):
                continue
            result.append(
                Uncollected(
                    int(str(job_id)),
                    done_at or "",
                    str(marked_by),
                    str(marked_at),
                    due,
                    None if destroyed_in is None else str(destroyed_in),
                )
            )
        return result

    def destroy_uncollected(
        self, job_id: int, *, container: str, sheets: int, by: str
    ) -> WasteEntry:
        """An uncollected order's prints went into ``container``."""
        found = [u for u in self.uncollected() if u.job_id == job_id]
        if not found:
            raise WasteEntryRefused(f"job {job_id} is not marked as not picked up")
        if found[0].destroyed_in is not None:
            raise WasteEntryRefused(
                f"job {job_id} was destroyed already, into container {found[0].destroyed_in}"
            )
        if not found[0].due:
            raise WasteEntryRefused(
                f"job {job_id} was done {found[0].done_at}; uncollected orders are destroyed "
                f"{self.settings.uncollected_days} days after that"
            )
        if sheets < 1:
            raise WasteEntryRefused(f"{sheets} sheets: say how many sheets were destroyed")
        with self.journal.transaction() as tx:
            self.boxes.open_for(tx, container, WasteMaterial.P, "prints")
            entry_id = self.register.record(
                tx,
                container,
                EntryKind.UNCOLLECTED,
                job_id=job_id,
                sheets=sheets,
                reason="uncollected",
                by=by,
            )
        return self.register.entry(entry_id)

    def _done_at(self, job_id: int) -> str | None:
        """When the job became DONE, or None; raises JobNotFound for an unknown job."""
        self.journal.job(job_id)
        done = chain.find(
            self.journal.store, job_id=job_id, kinds=("job.state_changed",), data={"to": "DONE"}
        )
        return done[0].ts if done else None
