"""Containers and their life cycle: ``open -> sealed -> collected -> certified``.

A container is put into service empty, takes entries only while open (every kind of
entry asks :meth:`Containers.open_for` in its own transaction), is sealed for good,
handed over to the disposal company and certified by its certificate of destruction.
Each move follows the model's order and is a chained ``waste.container_*`` event; a
refused move says what must come first.  Certifying a container certifies the customer
carriers destroyed in it too, in the media ledger, in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import structlog

from labd.config import WasteSettings
from labd.errors import ContainerMoveRefused, ContainerNotFound, WasteEntryRefused, WasteError
from labd.journal import Journal, Tx
from labd.media.ledger import MediaLedger
from labd.waste.entries import media_items_in
from labd.waste.model import _NEXT, Container, ContainerState, WasteMaterial
from labd.waste.tables import CONTAINER_COLUMNS, container_of

log = structlog.get_logger(__name__)

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Containers:
    """The secure-waste containers: their life cycle, and which of them take entries."""

    journal: Journal
    settings: WasteSettings  # certificate_overdue_days
    media: MediaLedger  # certifies the carriers destroyed in a container

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
        _require(seal, "a seal number (--seal)")
        with self.journal.transaction() as tx:
            self._advance(tx, container_id, ContainerState.SEALED, by=by, seal=seal)
            tx.execute(
                "UPDATE waste_containers SET seal = ?, sealed_by = ?, sealed_at = ? WHERE id = ?",
                (seal, by, tx.now(), container_id),
            )
        return self.container(container_id)

    def collect(self, container_id: str, *, company: str, on: date, by: str) -> Container:
        """Handed over to the disposal ``company`` on ``on`` by ``by``."""
        _require(company, "the disposal company (--company)")
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
        _require(certificate, "the certificate number (--certificate)")
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
            for item in media_items_in(tx, container_id):
                self.media.certify_in(tx, item, certificate, by=by)
        return self.container(container_id)

    def container(self, container_id: str) -> Container:
        """The container as it stands."""
        rows = self.journal.query(
            f"SELECT {CONTAINER_COLUMNS} FROM waste_containers WHERE id = ?",  # noqa: S608  # constants only
            (container_id,),
        )
        if not rows:
            raise ContainerNotFound(container_id)
        return container_of(rows[0])

    def containers(self, *, state: ContainerState | None = None) -> list[Container]:
        """Every container, oldest first."""
        sql = f"SELECT {CONTAINER_COLUMNS} FROM waste_containers"  # noqa: S608  # constants only
        args: list[object] = []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(state.value)
        return [container_of(r) for r in self.journal.query(sql + " ORDER BY opened_at, id", args)]

    def overdue(self, today: date | None = None) -> list[Container]:
        """Collected containers still without a certificate after ``certificate_overdue_days``."""
        today = today or self.journal.clock.now().date()
        limit = timedelta(days=self.settings.certificate_overdue_days)
        return [
            c
            for c in self.containers(state=ContainerState.COLLECTED)
            if c.collected_on is not None and today - date.fromisoformat(c.collected_on) >= limit
        ]

    def open_for(self, tx: Tx, container_id: str, material: WasteMaterial, what: str) -> Container:
        """The container, inside ``tx``, if it takes ``what`` (of ``material``) now: it must
        be open and of that material class, or the entry is refused."""
        rows = tx.rows(
            f"SELECT {CONTAINER_COLUMNS} FROM waste_containers WHERE id = ?",  # noqa: S608  # constants only
            (container_id,),
        )
        if not rows:
            raise ContainerNotFound(container_id)
        box = container_of(tuple(rows[0]))
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


def _previous(state: ContainerState) -> ContainerState:
    return next(s for s, n in _NEXT.items() if n is state)


def _require(value: str, what: str) -> None:
    if not value.strip():
        raise WasteError(f"{what} is required")
