"""The journal's tables: the core migrations and printing's schema.

Each migration is applied once, in order, by :mod:`labd.store`; a released one is never
edited.  The jobs domain (:mod:`labd.journal`) owns ``jobs``, ``job_personal``,
``job_files``, ``job_outputs`` and ``job_salts``; :mod:`labd.store.chain` owns ``events``
and ``event_details``; printing owns ``print_superseded``.
"""

from __future__ import annotations

from typing import Final

from labd.store.base import Schema

__all__ = ["MIGRATIONS", "PRINTING_SCHEMA", "SCHEMA_VERSION", "ComponentSchema"]

# The schema of one component; the name the components have always used.
ComponentSchema = Schema

# Each migration is a list of statements, applied in one transaction; the schema version
# (PRAGMA user_version) is the number of migrations applied.  Never edit a released one:
# append a new one.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hotfolder TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            technician TEXT NOT NULL,
            spool TEXT NOT NULL,
            source_inode INTEGER,
            rule TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX jobs_state ON jobs(state)",
        # Personal data, apart from the chained events so erasure leaves the chain intact.
        """CREATE TABLE job_personal (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            entry TEXT NOT NULL,
            reason TEXT
        )""",
        """CREATE TABLE job_files (
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (job_id, seq)
        )""",
        """CREATE TABLE job_outputs (
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            seq INTEGER NOT NULL,
            path TEXT NOT NULL,
            source_seq INTEGER,
            cups_queue TEXT NOT NULL,
            submit_intent_at TEXT,
            cups_job_id INTEGER,
            cups_state TEXT,
            PRIMARY KEY (job_id, seq)
        )""",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            job_id INTEGER,
            kind TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX events_job ON events(job_id)",
        """CREATE TABLE event_details (
            seq INTEGER PRIMARY KEY REFERENCES events(seq),
            text TEXT NOT NULL
        )""",
        # Schema versions of the components (media, waste, ...) that keep their own tables.
        """CREATE TABLE component_schema (
            name TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        )""",
        """CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
        """CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
           BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
    ),
    # 2: what a job ticket says: the order reference (personal) and copies per file.
    (
        "ALTER TABLE job_personal ADD COLUMN order_ref TEXT",
        "ALTER TABLE job_files ADD COLUMN copies INTEGER",
        "CREATE INDEX job_personal_order ON job_personal(order_ref)",
    ),
    # 3: per-job salts for chained references to personal fields (erased with the data, so
    # the reference says nothing afterwards); indexes for the supervisor's filters.
    (
        """CREATE TABLE job_salts (
            job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
            salt BLOB NOT NULL
        )""",
        "CREATE INDEX events_ts ON events(ts)",
        "CREATE INDEX events_kind ON events(kind)",
    ),
    # 4: the print server (node) that claimed each job, for a journal several servers share.
    (
        "ALTER TABLE jobs ADD COLUMN node TEXT",
        "CREATE INDEX jobs_node_state ON jobs(node, state)",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


# CUPS jobs that no longer stand for their output: aborted or canceled ones a technician
# retried, or ones of an UNCERTAIN job resolved as "reprint".  Reconciliation must never
# take one of them for the output's current CUPS job (they share its name).
PRINTING_SCHEMA: Final = Schema(
    "printing",
    (
        (
            """CREATE TABLE print_superseded (
                job_id INTEGER NOT NULL REFERENCES jobs(id),
                seq INTEGER NOT NULL,
                cups_job_id INTEGER NOT NULL,
                cups_state TEXT,
                superseded_at TEXT NOT NULL,
                PRIMARY KEY (job_id, seq, cups_job_id)
            )""",
        ),
    ),
)
