"""The journal of jobs: every job, its files and outputs, and every state change.

The jobs domain: :mod:`~labd.journal.schema` (its tables), :mod:`~labd.journal.view`
(reading: jobs, events, the supervisor's filters), :mod:`~labd.journal.lifecycle` (the
state machine and each step of the life cycle), :mod:`~labd.journal.printing` (the print
steps that :mod:`labd.printing` decides), :mod:`~labd.journal.notes` (what is noted beside
a job's state: its ticket, a low resolution, late files, a quarantined job closed) and
:mod:`~labd.journal.summary` (how the jobs stand, for the status).  Each
step is one transaction of the store (:mod:`labd.store`) with its chained event, so a state
change returned from here is on disk before the side effect that depends on it.  Personal
data (file and folder names, reasons that name files, order references) lives in tables the
chain does not cover, so erasing it never breaks the chain.
"""

from __future__ import annotations

from labd.journal.lifecycle import Discovery, Journal, ensure_private_dir, fail_job
from labd.journal.nodes import NODES_SCHEMA
from labd.journal.notes import JobNotes
from labd.journal.printing import PrintSteps
from labd.journal.schema import MIGRATIONS, PRINTING_SCHEMA, SCHEMA_VERSION, ComponentSchema
from labd.journal.view import EventFilter, JournalView
from labd.store import Tx, storage_error
from labd.store.chain import GENESIS, ChainCheck, event_hash, personal_ref

__all__ = [
    "GENESIS",
    "MIGRATIONS",
    "NODES_SCHEMA",
    "PRINTING_SCHEMA",
    "SCHEMA_VERSION",
    "ChainCheck",
    "ComponentSchema",
    "Discovery",
    "EventFilter",
    "JobNotes",
    "Journal",
    "JournalView",
    "PrintSteps",
    "Tx",
    "ensure_private_dir",
    "event_hash",
    "fail_job",
    "personal_ref",
    "storage_error",
]
