"""Customer media custody: every carrier an order came on is returned or destroyed, provably.

A media item (USB stick, SD card, disk, disc) goes ``received -> in_use -> ready ->
returned | destroyed``, or ``lost`` (a data-protection incident).  A stick that labd
detected by itself starts ``unlinked`` until a technician links it to an order or
dismisses it.  Every move is a chained ``media.*`` event; what identifies a customer
(serial number, volume label, order references, parcel numbers, incident texts) lives in
tables and event details outside the chain, so it can be erased without breaking it.

This module holds the media tables and :class:`MediaLedger`, the one object the daemon,
the CLI, intake, waste and privacy hold.  The work is done by its parts:

- :mod:`labd.media.arrival`: carriers coming in (registered, named by a ticket, detected),
  linked to orders and jobs or dismissed
- :mod:`labd.media.custody`: the moves while the lab holds an item and the way it leaves
  (ready, returned, destroyed and certified, lost), each checked and chained
- :mod:`labd.media.queries`: reading items, lists, overdue carriers and histories
- :mod:`labd.media.erasure`: deleting a customer's personal data, the custody kept

No adapters here: USB detection (pyudev) is :mod:`labd.media.detect`.
"""

from __future__ import annotations

from typing import Final

from labd.config import MediaSettings
from labd.journal import ComponentSchema, Journal
from labd.media.arrival import Arrival
from labd.media.custody import Custody, parse_level
from labd.media.erasure import erase_personal
from labd.media.queries import MediaQueries

__all__ = ["SCHEMA", "MediaLedger", "erase_personal", "parse_level"]

SCHEMA: Final = ComponentSchema(
    "media",
    (
        (
            """CREATE TABLE media_items (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                material TEXT NOT NULL,
                state TEXT NOT NULL,
                disposition TEXT NOT NULL,
                id_kind TEXT NOT NULL,
                source TEXT NOT NULL,
                received_by TEXT,
                received_at TEXT,
                ready_at TEXT,
                closed_by TEXT,
                closed_at TEXT,
                level TEXT,
                container TEXT,
                shredder_run TEXT,
                certificate TEXT,
                vendor TEXT,
                model TEXT,
                capacity INTEGER,
                present INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX media_items_state ON media_items(state)",
            # Personal data, apart from the chained events so erasure leaves the chain intact.
            """CREATE TABLE media_personal (
                item_id INTEGER PRIMARY KEY REFERENCES media_items(id),
                identifier TEXT,
                label TEXT,
                shipment TEXT
            )""",
            "CREATE INDEX media_personal_identifier ON media_personal(identifier)",
            """CREATE TABLE media_orders (
                item_id INTEGER NOT NULL REFERENCES media_items(id),
                order_ref TEXT NOT NULL,
                PRIMARY KEY (item_id, order_ref)
            )""",
            """CREATE TABLE media_jobs (
                item_id INTEGER NOT NULL REFERENCES media_items(id),
                job_id INTEGER NOT NULL REFERENCES jobs(id),
                PRIMARY KEY (item_id, job_id)
            )""",
        ),
    ),
)


class MediaLedger:
    """The media ledger in the journal; every change is one transaction with its event.

    Its calls are those of its parts, under the names callers know: recording a carrier's
    arrival (:class:`~labd.media.arrival.Arrival`), its moves until it leaves
    (:class:`~labd.media.custody.Custody`) and reading
    (:class:`~labd.media.queries.MediaQueries`).
    """

    def __init__(self, journal: Journal, settings: MediaSettings | None = None) -> None:
        self.journal = journal
        self.settings = settings or MediaSettings()
        self.queries = MediaQueries(journal, self.settings)
        self.arrival = Arrival(journal, self.settings, self.queries)
        self.custody = Custody(journal, self.queries)
        # arrival
        self.register = self.arrival.register
        self.receive = self.arrival.receive
        self.detected = self.arrival.detected
        self.removed = self.arrival.removed
        self.labelled = self.arrival.labelled
        self.link = self.arrival.link
        self.dismiss = self.arrival.dismiss
        # custody
        self.in_use = self.custody.in_use
        self.imported = self.custody.imported
        self.ready = self.custody.ready
        self.ready_for_done_jobs = self.custody.ready_for_done_jobs
        self.set_disposition = self.custody.set_disposition
        self.returned = self.custody.returned
        self.destroyed = self.custody.destroyed
        self.destroy_in = self.custody.destroy_in
        self.certify = self.custody.certify
        self.certify_in = self.custody.certify_in
        self.lost = self.custody.lost
        # reading
        self.item = self.queries.item
        self.items = self.queries.items
        self.of_job = self.queries.of_job
        self.count_of = self.queries.count_of
        self.overdue = self.queries.overdue
        self.history = self.queries.history
