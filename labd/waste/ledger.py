"""Secure waste: misprints, uncollected orders and destroyed media into locked containers.

A container goes ``open -> sealed -> collected -> certified`` and takes entries only while
open.  Entries name jobs, output numbers, sheet counts and media items, never images or
customer names, so a container's manifest can go to the disposal company as it is.  Every
change is a chained ``waste.*`` event; a free-text reason ("other: ...") is personal and
stays outside the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

import structlog

from labd.clock import parse_timestamp
from labd.config import WasteSettings
from labd.errors import (
    ContainerMoveRefused,
    ContainerNotFound,
    WasteEntryRefused,
    WasteError,
)
from labd.journal import ComponentSchema, Journal, Tx
from labd.media.ledger import MediaLedger
from labd.store import chain
from labd.waste.model import (
    _NEXT,
    DUPLICATE,
    OTHER,
    Container,
    ContainerState,
    EntryKind,
    Manifest,
    PossibleDuplicate,
    Uncollected,
    WasteEntry,
    WasteMaterial,
)

log = structlog.get_logger(__name__)

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

SCHEMA: Final = ComponentSchema(
    "waste",
    (
        (
            """CREATE TABLE waste_containers (
                id TEXT PRIMARY KEY,
                material TEXT NOT NULL,
                level INTEGER NOT NULL,
                location TEXT NOT NULL,
                state TEXT NOT NULL,
                opened_by TEXT NOT NULL,
                opened_at TEXT NOT NULL,
                seal TEXT,
                sealed_by TEXT,
                sealed_at TEXT,
                company TEXT,
                collected_on TEXT,
                handed_over_by TEXT,
                certificate TEXT,
                certified_on TEXT,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE waste_entries (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                container TEXT NOT NULL REFERENCES waste_containers(id),
                kind TEXT NOT NULL,
                job_id INTEGER REFERENCES jobs(id),
                outputs TEXT NOT NULL DEFAULT '[]',
                sheets INTEGER NOT NULL DEFAULT 0,
                reason TEXT,
                found_by TEXT NOT NULL,
                media_item INTEGER,
                reprint TEXT,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX waste_entries_container ON waste_entries(container)",
            # Personal data ("other" reasons in free text), outside the chained events.
            """CREATE TABLE waste_entry_personal (
                entry_id INTEGER PRIMARY KEY REFERENCES waste_entries(id),
                text TEXT NOT NULL
            )""",
            """CREATE TABLE waste_uncollected (
                job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
                marked_by TEXT NOT NULL,
                marked_at TEXT NOT NULL
            )""",
        ),
    ),
)


_CONTAINER_COLUMNS: Final = (
    "id, material, level, location, state, opened_by, opened_at, seal, sealed_by, sealed_at, "
    "company, collected_on, handed_over_by, certificate, certified_on, updated_at"
)
_ENTRY_COLUMNS: Final = (
    "e.id, e.container, e.kind, e.job_id, e.outputs, e.sheets, e.reason, e.found_by, "
    "e.media_item, e.reprint, e.created_at, p.text"
)
_ENTRY_FROM: Final = "waste_entries e LEFT JOIN waste_entry_personal p ON p.entry_id = e.id"


class WasteLedger:
    """The secure-waste ledger in the journal."""

    def __init__(
        self,
        journal: Journal,
        settings: WasteSettings | None = None,
        media: MediaLedger | None = None,
    ) -> None:
        self.journal = journal
        self.settings = settings or WasteSettings()
        self.media = media or MediaLedger(journal)

    # -- containers --------------------------------------------------------------------------

    def open(
        self, container_id: str, *, material: WasteMaterial, level: int, location: str, by: str
    ) -> Container:
        """Put a new, empty container into service."""
        if not _CONTAINER_ID.match(container_id):
            raise WasteError(
                f"{container_id!r} is not a container id (letters, digits, '.', '_', '-')"
            )
        if not 1 <= level <= 7:
            raise WasteError(f"security level {level} is out of range; DIN 66399 has 1 to 7")
        if not location.strip():
            raise WasteError("say where the container stands (--location)")
        with self.journal.transaction() as tx:
            if tx.one("SELECT 1 FROM waste_containers WHERE id = ?", (container_id,)):
                raise WasteError(f"container {container_id} exists already; ids are never reused")
            now = tx.now()
            tx.execute(
                "INSERT INTO waste_containers (id, material, level, location, state, opened_by, "
                "opened_at, updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)",
                (container_id, material.value, level, location, by, now, now),
            )
            tx.event(
                "waste.container_opened",
                {
                    "container": container_id,
                    "material": material.value,
                    "level": level,
                    "location": location,
                    "by": by,
                },
            )
        log.info("waste.container_opened", container=container_id, level=f"{material}-{level}")
        return self.container(container_id)

    def seal(self, container_id: str, *, seal: str, by: str) -> Container:
        """Close the container for good with a numbered seal."""
        self._require(seal, "a seal number (--seal)")
        with self.journal.transaction() as tx:
            self._advance(tx, container_id, ContainerState.SEALED, by=by, seal=seal)
            tx.execute(
                "UPDATE waste_containers SET seal = ?, sealed_by = ?, sealed_at = ? WHERE id = ?",
                (seal, by, tx.now(), container_id),
            )
        return self.container(container_id)

    def collect(self, container_id: str, *, company: str, on: date, by: str) -> Container:
        """Handed over to the disposal ``company`` on ``on`` by ``by``."""
        self._require(company, "the disposal company (--company)")
        with self.journal.transaction() as tx:
            self._advance(
                tx,
                container_id,
                ContainerState.COLLECTED,
                by=by,
                company=company,
                collected_on=on.isoformat(),
            )
            tx.execute(
                "UPDATE waste_containers SET company = ?, collected_on = ?, handed_over_by = ? "
                "WHERE id = ?",
                (company, on.isoformat(), by, container_id),
            )
        return self.container(container_id)

    def certify(self, container_id: str, *, certificate: str, on: date, by: str) -> Container:
        """The disposal company's certificate of destruction; certifies its media items too."""
        self._require(certificate, "the certificate number (--certificate)")
        with self.journal.transaction() as tx:
            self._advance(
                tx,
                container_id,
                ContainerState.CERTIFIED,
                by=by,
                certificate=certificate,
                certified_on=on.isoformat(),
            )
            tx.execute(
                "UPDATE waste_containers SET certificate = ?, certified_on = ? WHERE id = ?",
                (certificate, on.isoformat(), container_id),
            )
            items = tx.rows(
                "SELECT media_item FROM waste_entries WHERE container = ? AND kind = 'media'",
                (container_id,),
            )
            for item in items:
                self.media.certify_in(tx, item.integer("media_item"), certificate, by=by)
        return self.container(container_id)

    def container(self, container_id: str) -> Container:
        """The container as it stands."""
        rows = self.journal.query(
            f"SELECT {_CONTAINER_COLUMNS} FROM waste_containers WHERE id = ?",  # noqa: S608  # constants only
            (container_id,),
        )
        if not rows:
            raise ContainerNotFound(container_id)
        return _container(rows[0])

    def containers(self, *, state: ContainerState | None = None) -> list[Container]:
        """Every container, oldest first."""
        sql = f"SELECT {_CONTAINER_COLUMNS} FROM waste_containers"  # noqa: S608  # constants only
        args: list[object] = []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(state.value)
        return [_container(r) for r in self.journal.query(sql + " ORDER BY opened_at, id", args)]

    def overdue(self, today: date | None = None) -> list[Container]:
        """Collected containers still without a certificate after ``certificate_overdue_days``."""
        today = today or self.journal.clock.now().date()
        limit = timedelta(days=self.settings.certificate_overdue_days)
        return [
            c
            for c in self.containers(state=ContainerState.COLLECTED)
            if c.collected_on is not None and today - date.fromisoformat(c.collected_on) >= limit
        ]

    # -- entries -----------------------------------------------------------------------------

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
        have = [o.seq for o in self.journal.outputs(job_id)] if self._job_exists(job_id) else []
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
            self._open_for(tx, container, WasteMaterial.P, "prints")
            entry_id = self._insert(
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
        return self.entry(entry_id)

    # -- possible duplicates reported by the printing part ------------------------------------

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

    def _duplicate(self, event: int) -> PossibleDuplicate:
        for dup in self.possible_duplicates():
            if dup.event == event:
                return dup
        raise WasteEntryRefused(f"event {event} is no open possible duplicate")

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
            self._open_for(tx, container, WasteMaterial.P, "prints")
            entry_id = self._insert(
                tx,
                container,
                EntryKind.UNCOLLECTED,
                job_id=job_id,
                sheets=sheets,
                reason="uncollected",
                by=by,
            )
        return self.entry(entry_id)

    def destroy_media(
        self,
        item_id: int,
        *,
        container: str,
        by: str,
        override: bool = False,
        reason: str | None = None,
    ) -> WasteEntry:
        """A customer carrier went into ``container``: one transaction for both ledgers."""
        item = self.media.item(item_id)
        with self.journal.transaction() as tx:
            box = self._open_for(tx, container, WasteMaterial(item.material.value), item.kind)
            self.media.destroy_in(
                tx,
                item_id,
                by=by,
                level=box.din_level,
                container=container,
                override=override,
                reason=reason,
            )
            entry_id = self._insert(
                tx,
                container,
                EntryKind.MEDIA,
                job_id=None,
                sheets=0,
                reason=None,
                by=by,
                media_item=item_id,
            )
        return self.entry(entry_id)

    def entry(self, entry_id: int) -> WasteEntry:
        """One entry."""
        sql = f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE e.id = ?"  # noqa: S608  # constants only
        rows = self.journal.query(sql, (entry_id,))
        if not rows:
            raise WasteError(f"no waste entry {entry_id}")
        return _entry(rows[0])

    def entries(self, container: str | None = None) -> list[WasteEntry]:
        """Entries, oldest first, of one container or all."""
        sql = f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM}"  # noqa: S608  # constants only
        args: list[object] = []
        if container is not None:
            sql += " WHERE e.container = ?"
            args.append(container)
        return [_entry(r) for r in self.journal.query(sql + " ORDER BY e.id", args)]

    def count_of(self, *, jobs: Sequence[int]) -> int:
        """How many entries name these jobs: for an erasure's plan."""
        marks = ", ".join("?" * len(jobs))
        rows = self.journal.query(
            f"SELECT count(*) AS n FROM waste_entries WHERE job_id IN ({marks})",  # noqa: S608  # placeholders
            list(jobs),
        )
        return rows[0].integer("n") if jobs else 0

    # -- reports -------------------------------------------------------------------------------

    def manifest(self, container_id: str) -> Manifest:
        """What is in a container: jobs, sheets, media and order references; no names, no images."""
        box = self.container(container_id)
        entries = self.entries(container_id)
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
        overdue = {c.id for c in self.overdue()}
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
            for c in self.containers()
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

    # -- internals -----------------------------------------------------------------------------

    def _advance(
        self, tx: Tx, container_id: str, to: ContainerState, *, by: str, **data: str
    ) -> None:
        row = tx.one("SELECT state FROM waste_containers WHERE id = ?", (container_id,))
        if row is None:
            raise ContainerNotFound(container_id)
        state = ContainerState(row.text("state"))
        if _NEXT.get(state) is not to:
            if state is ContainerState.CERTIFIED:
                why = "its destruction is certified; nothing can follow"
            elif list(ContainerState).index(to) <= list(ContainerState).index(state):
                why = f"it is {state.value} already"
            else:
                why = f"it must be {_previous(to).value} first"
            raise ContainerMoveRefused(container_id, state.value, to.value, why)
        tx.execute(
            "UPDATE waste_containers SET state = ?, updated_at = ? WHERE id = ?",
            (to.value, tx.now(), container_id),
        )
        tx.event(
            f"waste.container_{to.value}",
            {"container": container_id, "from": state.value, "to": to.value, "by": by, **data},
        )
        log.info("waste.container_moved", container=container_id, to=to.value, by=by)

    def _open_for(self, tx: Tx, container_id: str, material: WasteMaterial, what: str) -> Container:
        rows = tx.rows(
            f"SELECT {_CONTAINER_COLUMNS} FROM waste_containers WHERE id = ?",  # noqa: S608  # constants only
            (container_id,),
        )
        if not rows:
            raise ContainerNotFound(container_id)
        box = _container(tuple(rows[0]))
        if box.state is not ContainerState.OPEN:
            raise WasteEntryRefused(
                f"container {container_id} is {box.state.value}; only an open container takes "
                "entries (open a new one: labd waste container open)"
            )
        if box.material is not material:
            raise WasteEntryRefused(
                f"container {container_id} takes material class {box.material.value}; "
                f"{what} are class {material.value}"
            )
        return box

    def _insert(
        self,
        tx: Tx,
        container: str,
        kind: EntryKind,
        *,
        job_id: int | None,
        sheets: int,
        reason: str | None,
        by: str,
        outputs: Sequence[int] = (),
        media_item: int | None = None,
        reprint: str | None = None,
        text: str | None = None,
    ) -> int:
        entry_id = tx.insert(
            "INSERT INTO waste_entries (container, kind, job_id, outputs, sheets, reason, "
            "found_by, media_item, reprint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (
                container,
                kind.value,
                job_id,
                json.dumps(list(outputs)),
                sheets,
                reason,
                by,
                media_item,
                reprint,
                tx.now(),
            ),
        )
        if text is not None:
            tx.execute(
                "INSERT INTO waste_entry_personal (entry_id, text) VALUES (?, ?)", (entry_id, text)
            )
        data: dict[str, object] = {
            "entry": entry_id,
            "container": container,
            "kind": kind.value,
            "sheets": sheets,
            "reason": reason,
            "by": by,
        }
        if outputs:
            data["outputs"] = list(outputs)
        if media_item is not None:
            data["media_item"] = media_item
        tx.event(f"waste.{kind.value}", data, job_id=job_id, detail=text)
        return entry_id

    def _job_exists(self, job_id: int) -> bool:
        self.journal.job(job_id)  # raises JobNotFound
        return True

    def _done_at(self, job_id: int) -> str | None:
        self._job_exists(job_id)
        done = chain.find(
            self.journal.store, job_id=job_id, kinds=("job.state_changed",), data={"to": "DONE"}
        )
        return done[0].ts if done else None

    @staticmethod
    def _require(value: str, what: str) -> None:
        if not value.strip():
            raise WasteError(f"{what} is required")


def _previous(state: ContainerState) -> ContainerState:
    return next(s for s, n in _NEXT.items() if n is state)


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _container(r: Sequence[object]) -> Container:
    return Container(
        id=str(r[0]),
        material=WasteMaterial(str(r[1])),
        level=int(str(r[2])),
        location=str(r[3]),
        state=ContainerState(str(r[4])),
        opened_by=str(r[5]),
        opened_at=str(r[6]),
        seal=_opt(r[7]),
        sealed_by=_opt(r[8]),
        sealed_at=_opt(r[9]),
        company=_opt(r[10]),
        collected_on=_opt(r[11]),
        handed_over_by=_opt(r[12]),
        certificate=_opt(r[13]),
        certified_on=_opt(r[14]),
        updated_at=str(r[15]),
    )


def _entry(r: Sequence[object]) -> WasteEntry:
    return WasteEntry(
        id=int(str(r[0])),
        container=str(r[1]),
        kind=EntryKind(str(r[2])),
        job_id=None if r[3] is None else int(str(r[3])),
        outputs=tuple(json.loads(str(r[4]))),
        sheets=int(str(r[5])),
        reason=_opt(r[6]),
        found_by=str(r[7]),
        media_item=None if r[8] is None else int(str(r[8])),
        reprint=_opt(r[9]),
        created_at=str(r[10]),
        text=_opt(r[11]),
    )


def _ranges(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def erase_personal(tx: Tx, job_ids: Sequence[int]) -> dict[str, int]:
    """Erasure: delete the free texts of these jobs' waste entries (their events' texts go
    with the job's); containers, sheets and reasons stay, so the destruction stays provable.
    """
    erased = 0
    for job_id in job_ids:
        erased += tx.execute(
            "DELETE FROM waste_entry_personal WHERE entry_id IN "
            "(SELECT id FROM waste_entries WHERE job_id = ?)",
            (job_id,),
        )
    return {"waste_texts": erased}
