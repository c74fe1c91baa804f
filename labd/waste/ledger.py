"""Secure waste: misprints, uncollected orders and destroyed media into locked containers.

A container goes ``open -> sealed -> collected -> certified`` and takes entries only while
open.  Entries name jobs, output numbers, sheet counts and media items, never images or
customer names, so a container's manifest can go to the disposal company as it is.  Every
change is a chained ``waste.*`` event; a free-text reason ("other: ...") is personal and
stays outside the chain.

:class:`WasteLedger` is what the daemon, the commands and the erasure hold.  It composes
the parts, one module each: the containers' life cycle (:mod:`labd.waste.containers`), the
entry register (:mod:`labd.waste.entries`), misprints and possible duplicates
(:mod:`labd.waste.misprints`), orders nobody picked up (:mod:`labd.waste.uncollected`) and
the reports (:mod:`labd.waste.reports`); the tables are :mod:`labd.waste.tables`.
Destroying a customer carrier, the one step that writes both this ledger and the media
ledger, is here.
"""

from __future__ import annotations

from labd.config import WasteSettings
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.waste.containers import Containers
from labd.waste.entries import Entries, erase_personal
from labd.waste.misprints import Misprints
from labd.waste.model import EntryKind, WasteEntry, WasteMaterial
from labd.waste.reports import Reports
from labd.waste.tables import SCHEMA
from labd.waste.uncollected import UncollectedOrders

__all__ = ["SCHEMA", "WasteLedger", "erase_personal"]


class WasteLedger:
    """The secure-waste ledger in the journal: its parts, and what callers ask of them.

    Each method callers use is the part's own (bound in the constructor, so its signature
    and docstring are written once, in the part): ``open``, ``seal``, ``collect``,
    ``certify``, ``container``, ``containers`` and ``overdue`` of :attr:`boxes`;
    ``entry``, ``entries`` and ``count_of`` of :attr:`register`; ``misprint`` and the
    duplicates' of :attr:`misprints`; the uncollected orders' of
    :attr:`uncollected_orders`; ``manifest``, ``certificates`` and ``per_reason_month``
    of :attr:`reports`.
    """

    def __init__(
        self,
        journal: Journal,
        settings: WasteSettings | None = None,
        media: MediaLedger | None = None,
    ) -> None:
        self.journal = journal
        self.settings = settings or WasteSettings()
        self.media = media or MediaLedger(journal)
        self.boxes = Containers(journal, self.settings, self.media)
        self.register = Entries(journal)
        self.misprints = Misprints(journal, self.settings, self.boxes, self.register)
        self.uncollected_orders = UncollectedOrders(
            journal, self.settings, self.boxes, self.register
        )
        self.reports = Reports(journal, self.boxes, self.register, self.media)

        self.open = self.boxes.open
        self.seal = self.boxes.seal
        self.collect = self.boxes.collect
        self.certify = self.boxes.certify
        self.container = self.boxes.container
        self.containers = self.boxes.containers
        self.overdue = self.boxes.overdue

        self.entry = self.register.entry
        self.entries = self.register.entries
        self.count_of = self.register.count_of

        self.misprint = self.misprints.misprint
        self.possible_duplicates = self.misprints.possible_duplicates
        self.confirm_duplicate = self.misprints.confirm_duplicate
        self.dismiss_duplicate = self.misprints.dismiss_duplicate

        self.mark_uncollected = self.uncollected_orders.mark_uncollected
        self.uncollected = self.uncollected_orders.uncollected
        self.destroy_uncollected = self.uncollected_orders.destroy_uncollected

        self.manifest = self.reports.manifest
        self.certificates = self.reports.certificates
        self.per_reason_month = self.reports.per_reason_month

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
            box = self.boxes.open_for(tx, container, WasteMaterial(item.material.value), item.kind)
            self.media.destroy_in(
                tx,
                item_id,
                by=by,
                level=box.din_level,
                container=container,
                override=override,
                reason=reason,
            )
            entry_id = self.register.record(
                tx,
                container,
                EntryKind.MEDIA,
                job_id=None,
                sheets=0,
                reason=None,
                by=by,
                media_item=item_id,
            )
        return self.register.entry(entry_id)
