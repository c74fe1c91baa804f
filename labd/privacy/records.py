"""The record of processing activities (GDPR Art. 30(1)), drawn from the configuration.

What labd does with personal data is fixed by its code; who answers for it is the lab's
``[controller]``; how long each hot folder keeps what comes from the configuration.  A
record without its controller is incomplete: it says so, and how to complete it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from labd.config import Config

# What a [controller] section holds: (key, what it is), in the order a record shows them.
CONTROLLER_KEYS: Final = (
    ("name", "the lab's legal name"),
    ("address", "its postal address"),
    ("email", "the e-mail address for data protection questions"),
    ("dpo", "the data protection officer's contact (optional; where one is designated)"),
)
CONTROLLER_EXAMPLE: Final = """\
[controller]
name = "Fotolab Hansen AS"
address = "Storgata 1, 0155 Oslo, Norway"
email = "privacy@fotolab.example"
dpo = "Kari Nordmann, dpo@fotolab.example"   # optional
"""


@dataclass(frozen=True)
class Record:
    """The record, and what it still lacks."""

    data: dict[str, object]
    missing: tuple[str, ...]  # configuration keys the record needs and does not have


def records(config: Config) -> Record:
    """The record of processing activities of the lab that runs labd, as controller."""
    controller = config.controller
    missing = () if controller else tuple(f"controller.{k}" for k, _ in CONTROLLER_KEYS[:3])
    retention = [
        {
            "hotfolder": hf.name,
            "product": hf.product,
            "retention_days": config.retention_days(hf.name),
        }
        for hf in config.hotfolders.values()
    ]
    data: dict[str, object] = {
        "controller": None
        if controller is None
        else {
            "name": controller.name,
            "address": controller.address,
            "email": controller.email,
            "dpo": controller.dpo,
        },
        "processing": "photo print production for the lab's customers (labd)",
        "purposes": [
            "produce the prints and products the customer ordered",
            "handle complaints and reprints within the retention period",
            "return or destroy the customer's data carriers",
            "dispose of misprints as secure waste",
            "prove what was done with each order (the journal)",
        ],
        "categories_of_data_subjects": [
            "customers (photographers, consumers)",
            "people shown in the photos",
            "lab staff (technicians)",
        ],
        "categories_of_personal_data": [
            "image files and their contents (may show people, incl. special categories)",
            "file and folder names, order references",
            "data carrier serial numbers, volume labels, parcel numbers",
            "free texts (misprint reasons, incidents, legal hold reasons)",
            "technicians' user names (who did what)",
        ],
        "recipients": [
            "CUPS on the print server and the printers (print files only)",
            "the certified disposal company (physical waste)",
        ],
        "transfers_to_third_countries": "none by labd",
        "retention": {
            "default_days": config.retention.days,
            "per_hotfolder": retention,
            "runs_from": "DONE, QUARANTINED or CANCELED; a legal hold suspends it",
            "media": f"outstanding carriers overdue after {config.media.overdue_days} days",
            "uncollected_orders_days": config.waste.uncollected_days,
            "journal": "events are kept; their personal fields are erased with the job",
        },
        "measures": [
            "hot folders refused if readable by others; shares need a password (labd doctor)",
            "only listed technicians may drop jobs; links, devices, oversized files refused",
            "spool and journal private to the service user (mode 0700)",
            "CUPS job names carry labd ids only; PreserveJobFiles No is checked",
            "print files carry no EXIF/GPS metadata",
            "files deleted automatically when the retention period ends; CUPS copies purged",
            "erasure on request with a tombstone; SQLite secure_delete and WAL checkpoint",
            "hash-chained journal; personal data outside the chain; `labd journal verify`",
            "carriers returned or destroyed (DIN 66399) and recorded; misprints into locked "
            "containers with certificates",
        ],
        "missing": list(missing),
    }
    return Record(data, missing)
