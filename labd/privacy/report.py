"""What a supervisor reads: the day's or week's report, and the GDPR Art. 30 record.

Both are built from the journal and the configuration only; neither holds personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from labd.clock import isoformat
from labd.config import Config
from labd.journal import Journal
from labd.media.ledger import MediaLedger
from labd.model import Event
from labd.privacy.retention import Retention
from labd.store import chain


@dataclass(frozen=True)
class Period:
    """A half-open span of days, [start, end), in UTC."""

    start: date
    end: date

    @classmethod
    def day(cls, d: date) -> Period:
        """One day."""
        return cls(d, d + timedelta(days=1))

    @classmethod
    def week(cls, d: date) -> Period:
        """The ISO week (Monday to Sunday) holding ``d``."""
        monday = d - timedelta(days=d.weekday())
        return cls(monday, monday + timedelta(days=7))

    def bounds(self) -> tuple[str, str]:
        """Journal timestamps of the start and the end."""
        return (
            isoformat(datetime.combine(self.start, time(), UTC)),
            isoformat(datetime.combine(self.end, time(), UTC)),
        )


def report(journal: Journal, retention: Retention, period: Period) -> dict[str, object]:
    """Counts of what happened in ``period``, and what is outstanding at its end."""
    since, until = period.bounds()

    def events(kind: str, **data: object) -> list[Event]:
        return chain.find(journal.store, kinds=(kind,), since=since, until=until, data=data)

    def count(kind: str) -> int:
        return len(events(kind))

    def moved(state: str) -> int:
        """Jobs that moved into ``state`` in the period (each once)."""
        return len({e.job_id for e in events("job.state_changed", to=state)})

    end = datetime.combine(period.end, time(), UTC)
    media = MediaLedger(journal, retention.config.media)
    return {
        "from": period.start.isoformat(),
        "to": (period.end - timedelta(days=1)).isoformat(),
        "jobs_received": count("job.discovered"),
        "jobs_printed": moved("PRINTED"),
        "jobs_done": moved("DONE"),
        "jobs_held": moved("HELD"),
        "jobs_failed": moved("UNCERTAIN") + moved("CANCELED"),
        "jobs_quarantined": moved("QUARANTINED"),
        "misprints": count("waste.misprint"),
        "media_outstanding": sum(1 for i in media.items() if i.state.outstanding),
        "media_overdue": len(media.overdue(end)),
        "deletions_done": count("retention.purged"),
        "erasures": count("erasure.requested"),
        "deletions_due": len([d for d in retention.due(until=end) if not d.held]),
        "deletions_held": len([d for d in retention.due(until=end) if d.held]),
    }


def records(config: Config) -> dict[str, object]:
    """The record of processing activities (GDPR Art. 30(2), the lab as processor)."""
    retention = {
        hf.name: {"product": hf.product, "retention_days": config.retention_days(hf.name)}
        for hf in config.hotfolders.values()
    }
    return {
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
    }
