"""Misprints, and the possible duplicates the printing part reports.

A misprint names a printed job's outputs by number and a reason from the configured
list, or "other" with a text saying what was wrong; it goes into an open class-P
container, and may ask for the outputs to be printed again.  A possible duplicate (an
extra print CUPS may have made when restarted mid-job) waits for a technician at the
printer: confirmed, the extra print becomes a misprint with the reason "duplicate";
dismissed, with a reason why none came out.  Either decision is a chained event naming
the report, so a report is decided once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from labd.config import WasteSettings
from labd.errors import WasteEntryRefused
from labd.journal import Journal
from labd.store import chain
from labd.waste.containers import Containers
from labd.waste.entries import Entries
from labd.waste.model import (
    DUPLICATE,
    OTHER,
    EntryKind,
    PossibleDuplicate,
    WasteEntry,
    WasteMaterial,
)

log = structlog.get_logger(__name__)


@dataclass
class Misprints:
    """Recording misprints, and deciding the possible duplicates the printing part reported."""

    journal: Journal
    settings: WasteSettings  # the reasons a misprint may give
    boxes: Containers
    register: Entries

    def misprint(
        self,
        job_id: int,
        *,
        container: str,
        reason: str,
        by: str,
        outputs: Sequence[int] = (),
        sheets: int | None = None,
        text: str | None = None,
        reprint: bool = False,
        confirms: int | None = None,
    ) -> WasteEntry:
        """Misprints of ``job_id`` (its ``outputs`` by number) went into ``container``.

        ``confirms`` is the journal event of a possible duplicate this entry confirms.

        ``reprint`` records that the outputs are to be printed again and links that intent
        to this entry; labd does not resubmit them by itself yet.
        """
        if reason == OTHER:
            if not (text and text.strip()):
                raise WasteEntryRefused(
                    "reason 'other' needs a text (--text) saying what was wrong"
                )
        elif reason not in (*self.settings.reasons, DUPLICATE):
            known = ", ".join((*self.settings.reasons, OTHER))
            raise WasteEntryRefused(f"unknown reason {reason!r}; reasons: {known}")
        self.journal.job(job_id)  # raises JobNotFound
        have = [o.seq for o in self.journal.outputs(job_id)]
        if not have:
            raise WasteEntryRefused(f"job {job_id} has no print outputs; nothing of it was printed")
        unknown = sorted(set(outputs) - set(have))
        if unknown:
            raise WasteEntryRefused(
                f"job {job_id} has outputs {_ranges(have)}; no output {_ranges(unknown)}"
            )
        count = sheets if sheets is not None else max(len(outputs), 1)
        if count < 1:
            raise WasteEntryRefused(f"{count} sheets: a misprint is at least one sheet")
        with self.journal.transaction() as tx:
            self.boxes.open_for(tx, container, WasteMaterial.P, "prints")
            entry_id = self.register.record(
                tx,
                container,
                EntryKind.MISPRINT,
                job_id=job_id,
                outputs=sorted(set(outputs)),
                sheets=count,
                reason=reason,
                by=by,
                reprint="requested" if reprint else None,
                text=text if reason == OTHER else None,
            )
            if reprint:
                tx.event(
                    "waste.reprint_requested",
                    {"entry": entry_id, "outputs": sorted(set(outputs)), "by": by},
                    job_id=job_id,
                )
            if confirms is not None:
                tx.event(
                    "waste.duplicate_confirmed",
                    {"event": confirms, "entry": entry_id, "by": by},
                    job_id=job_id,
                )
        log.info(
            "waste.misprint",
            job=job_id,
            container=container,
            reason=reason,
            sheets=count,
            reprint=reprint,
        )
        return self.register.entry(entry_id)

    def possible_duplicates(self) -> list[PossibleDuplicate]:
        """Possible extra prints the printing part reported, not yet confirmed or dismissed."""
        store = self.journal.store
        decisions = ("waste.duplicate_confirmed", "waste.duplicate_dismissed")
        decided = {int(str(e.data["event"])) for e in chain.find(store, kinds=decisions)}
        return [
            PossibleDuplicate(
                e.seq, e.ts, e.job_id or 0, int(str(e.data["seq"])), str(e.data["why"])
            )
            for e in chain.find(store, kinds=("print.possible_duplicate",))
            if e.seq not in decided
        ]

    def confirm_duplicate(
        self, event: int, *, container: str, by: str, sheets: int | None = None
    ) -> WasteEntry:
        """The extra print was found: it goes into ``container`` as a misprint."""
        dup = self._duplicate(event)
        return self.misprint(dup.job_id, container=container, reason=DUPLICATE, by=by,
                             outputs=[dup.output], sheets=sheets, confirms=event)  # fmt: skip

    def dismiss_duplicate(self, event: int, *, by: str, reason: str) -> None:
        """No extra print came out (the printer had not started, say)."""
        dup = self._duplicate(event)
        if not reason.strip():
            raise WasteEntryRefused("say why it is no duplicate (--reason)")
        self.journal.record(
            "waste.duplicate_dismissed", {"event": event, "by": by}, job_id=dup.job_id,
            detail=reason,
        )  # fmt: skip

    def _duplicate(self, event: int) -> PossibleDuplicate:
        for dup in self.possible_duplicates():
            if dup.event == event:
                return dup
        raise WasteEntryRefused(f"event {event} is no open possible duplicate")


def _ranges(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)
