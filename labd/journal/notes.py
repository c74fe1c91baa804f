"""What the journal notes about jobs beside their state: the order, warnings, links.

A job's state changes are :class:`~labd.journal.Journal`'s; these are the chained events
that do not move a job: what its ticket says (the order reference, copies), a resolution
below the product's minimum, files that came late for an order taken already, a
quarantined job closed because its files came again (or by hand).  Personal text (order
references, reasons) stays beside the chain, as everywhere.  Reached as
``journal.notes``; the reads are :class:`~labd.journal.view.JournalView`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from labd.errors import JobActionRefused
from labd.journal.view import (
    CLOSED_EVENT,
    LATE_FILES_ARRIVED_EVENT,
    LATE_FILES_EVENT,
    LOW_RESOLUTION_EVENT,
    REPLACES_EVENT,
    Resolution,
)
from labd.model import JobState
from labd.store import chain
from labd.store.chain import personal_ref

if TYPE_CHECKING:
    from labd.journal.lifecycle import Journal

__all__ = ["JobNotes"]


class JobNotes:
    """The notes of ``journal``'s jobs that are not state changes."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._store = journal.store

    def resolution(self, job_id: int) -> Resolution | None:
        """The effective resolution of the job's files at its last conversion; None for a
        job not converted (or converted before labd measured it, or a PDF passed through)."""
        converted = chain.find(
            self._store,
            kinds=("job.state_changed",),
            job_id=job_id,
            data={"to": JobState.CONVERTED.value},
        )
        for event in reversed(converted):
            ppi, dpi, least = (event.data.get(k) for k in ("ppi", "dpi", "min_ppi"))
            if isinstance(ppi, list) and isinstance(dpi, int) and isinstance(least, int):
                by_seq = {seq: p for seq, p in enumerate(ppi, 1) if isinstance(p, int)}
                return Resolution(dpi=dpi, min_ppi=least, ppi=by_seq)
        return None

    def ticket(
        self, job_id: int, *, order_ref: str | None, copies: Mapping[int, int], media: int
    ) -> None:
        """Record what the job's ticket says: order reference, copies per file seq."""
        with self._store.transaction() as tx:
            tx.execute(
                "UPDATE job_personal SET order_ref = ? WHERE job_id = ?", (order_ref, job_id)
            )
            tx.executemany(
                "UPDATE job_files SET copies = ? WHERE job_id = ? AND seq = ?",
                [(n, job_id, seq) for seq, n in copies.items()],
            )
            # How many files the ticket gives copies for, and their copies together (the
            # others print the product's).  Journals before these fields wrote the first
            # number as "copies": see view.event_data.
            data: dict[str, object] = {
                "order_ref": order_ref is not None,
                "files_with_copies": len(copies),
                "ticket_copies": sum(copies.values()),
                "media": media,
            }
            if order_ref is not None:
                data["order_hash"] = personal_ref(self._journal.salt_in(tx, job_id), order_ref)
            tx.event("job.ticket", data, job_id=job_id)

    def low_resolution(
        self,
        job_id: int,
        *,
        policy: str,
        min_ppi: int,
        files: Sequence[tuple[int, int]],
        detail: str,
    ) -> None:
        """Files of the job below the product's minimum resolution: (file seq, effective ppi).

        The names are in ``detail`` (personal: erasure clears it); the chained event keeps
        the numbers.
        """
        data = {
            "policy": policy,
            "min_ppi": min_ppi,
            "files": [seq for seq, _ in files],
            "ppi": [ppi for _, ppi in files],
        }
        self._journal.record(LOW_RESOLUTION_EVENT, data, job_id=job_id, detail=detail)

    def close_quarantined(
        self, job_id: int, *, by: str, replaced_by: int | None = None, reason: str | None = None
    ) -> None:
        """Close a QUARANTINED job: its files came again as job ``replaced_by``, or a
        technician closed it by hand (``reason``: personal text, kept outside the chain).

        It stays QUARANTINED: its retention period runs from when it was quarantined, and
        deletes its quarantine copy at the end, as for any quarantined job.  The chained
        event (and ``job.replaces`` on the new job) links the two and takes it out of
        "needs attention".
        """
        with self._store.transaction() as tx:
            state = self._journal.state_in(tx, job_id)
            if state is not JobState.QUARANTINED:
                raise JobActionRefused(
                    job_id, state.value, "only a QUARANTINED job is closed; it needs no closing"
                )
            closed = self._journal.closing(job_id)
            if closed is not None:
                raise JobActionRefused(
                    job_id,
                    "QUARANTINED and closed already",
                    f"at {closed.ts} (event {closed.seq}); nothing more to do",
                )
            data: dict[str, object] = {"by": by}
            if replaced_by is not None:
                if replaced_by == job_id:
                    raise JobActionRefused(job_id, state.value, "a job cannot replace itself")
                self._journal.state_in(tx, replaced_by)  # JobNotFound for a wrong number
                data["replaced_by"] = replaced_by
            tx.event(CLOSED_EVENT, data, job_id=job_id, detail=reason)
            if replaced_by is not None:
                tx.event(REPLACES_EVENT, {"closed": job_id}, job_id=replaced_by)

    def late_files(
        self, job_id: int, *, first: int, order_ref: str | None, files: int, repeated: int
    ) -> None:
        """Job ``job_id`` holds files of the order job ``first`` was taken as, that came after
        it: ``files`` of them, ``repeated`` of those by names the order had already.

        ``order_ref``: the order's reference, when this job takes it over (its own folder
        had no ticket); personal, so the event holds a salted hash of it only.
        """
        with self._store.transaction() as tx:
            data: dict[str, object] = {
                "first_job": first,
                "files": files,
                "repeated": repeated,
                "order_ref": order_ref is not None,
            }
            if order_ref is not None:
                tx.execute(
                    "UPDATE job_personal SET order_ref = ? WHERE job_id = ?", (order_ref, job_id)
                )
                data["order_hash"] = personal_ref(self._journal.salt_in(tx, job_id), order_ref)
            tx.event(LATE_FILES_EVENT, data, job_id=job_id)
            tx.event(LATE_FILES_ARRIVED_EVENT, {"late_job": job_id, "files": files}, job_id=first)
