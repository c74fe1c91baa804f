"""The print side of the life cycle: what :mod:`labd.printing` decides, journaled.

Each step is committed before the side effect that depends on it: the intent before the
IPP request, the CUPS job id as soon as CUPS gives it, every change of the CUPS job's
state.  Outputs a technician sends again keep their old CUPS jobs as *superseded*, so
that reconciliation never mistakes one of them (same name) for the new submission.
Reached as ``journal.printing``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from labd import spool
from labd.errors import JobNotFound, JournalError, StaleGuess
from labd.model import Job, JobOutput, JobState

if TYPE_CHECKING:
    from labd.journal.lifecycle import Journal
    from labd.store.base import Tx

__all__ = ["PrintSteps"]

# How many of job j's outputs other than ``?`` CUPS has not got yet (a constant, put into
# the statements that use it: S608 below).
_UNSENT: Final = (
    "SELECT count(*) FROM job_outputs o WHERE o.job_id = j.id AND o.cups_job_id IS NULL "
    "AND o.seq <> ?"
)


class PrintSteps:
    """The printing steps of ``journal``'s jobs and outputs."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._store = journal.store

    def _no_output(self, job_id: int, seq: int) -> JournalError:
        return JournalError(self._journal.name, f"job {job_id} has no output {seq}")

    def submit_intent(
        self, job_id: int, seq: int, *, known: tuple[JobState, str] | None = None
    ) -> None:
        """Committed before the IPP request: output ``seq`` is about to go to CUPS.

        ``known``: the job's state and the output's CUPS queue as the caller read them;
        the transaction then checks them with its writes instead of reading them first
        (one round trip on PostgreSQL instead of two), and reads after all if either, or
        the event chain, changed meanwhile.
        """
        if known is not None:
            state, queue = known
            try:
                with self._store.transaction(known_head=True) as tx:
                    tx.expect(
                        "SELECT 1 FROM job_outputs o JOIN jobs j ON j.id = o.job_id "
                        "WHERE o.job_id = ? AND o.seq = ? AND j.state = ? AND o.cups_queue = ?",
                        (job_id, seq, state.value, queue),
                    )
                    self._intent_in(tx, job_id, seq, state, queue)
            except StaleGuess:
                pass
            else:
                return
        with self._store.transaction() as tx:
            row = tx.one(
                "SELECT o.cups_queue, j.state FROM job_outputs o JOIN jobs j ON j.id = o.job_id "
                "WHERE o.job_id = ? AND o.seq = ?",
                (job_id, seq),
            )
            if row is None:
                raise self._no_output(job_id, seq)
            state = JobState(row.text("state"))
            self._intent_in(tx, job_id, seq, state, row.text("cups_queue"))

    def _intent_in(self, tx: Tx, job_id: int, seq: int, state: JobState, queue: str) -> None:
        if state is not JobState.SUBMITTING:
            self._journal.move_in(tx, job_id, JobState.SUBMITTING, current=state)
        tx.write(
            "UPDATE job_outputs SET submit_intent_at = ? WHERE job_id = ? AND seq = ?",
            (self._store.now(), job_id, seq),
        )
        tx.event("print.submit_intent", {"seq": seq, "queue": queue}, job_id=job_id)

    def submitted(
        self, job_id: int, seq: int, cups_job_id: int, *, known: tuple[JobState, int] | None = None
    ) -> None:
        """CUPS accepted output ``seq`` as ``cups_job_id``; all accepted → SUBMITTED.

        ``known``: the job's state and how many of its other outputs CUPS has not got yet,
        as the caller knows them (checked with the writes, as for submit_intent).
        """
        if known is not None:
            state, unsent = known
            try:
                with self._store.transaction(known_head=True) as tx:
                    tx.expect(
                        f"SELECT 1 FROM jobs j WHERE j.id = ? AND j.state = ? AND ({_UNSENT}) = ?",  # noqa: S608
                        (job_id, state.value, seq, unsent),
                    )
                    self._submitted_in(tx, job_id, seq, cups_job_id, state=state, unsent=unsent)
            except StaleGuess:
                pass
            else:
                return
        with self._store.transaction() as tx:
            # Read first: the transaction's first statement carries its start (and the
            # event chain's head) to the server, and the writes go with the commit.
            job = tx.one(
                f"SELECT state, ({_UNSENT}) AS unsent FROM jobs j WHERE j.id = ?",  # noqa: S608
                (seq, job_id),
            )
            if job is None:
                raise JobNotFound(job_id)
            state = JobState(job.text("state"))
            unsent = job.integer("unsent")
            self._submitted_in(tx, job_id, seq, cups_job_id, state=state, unsent=unsent)

    def _submitted_in(
        self, tx: Tx, job_id: int, seq: int, cups_job_id: int, *, state: JobState, unsent: int
    ) -> None:
        tx.write(
            "UPDATE job_outputs SET cups_job_id = ? WHERE job_id = ? AND seq = ?",
            (cups_job_id, job_id, seq),
        )
        tx.event("print.submitted", {"seq": seq, "cups_job_id": cups_job_id}, job_id=job_id)
        if unsent == 0:
            self._journal.move_in(tx, job_id, JobState.SUBMITTED, current=state)

    def cups_state(self, job_id: int, seq: int, state: str, **data: object) -> None:
        """Record the CUPS job state of output ``seq`` when it changed."""
        with self._store.transaction() as tx:
            row = tx.one(
                "SELECT cups_state, cups_job_id FROM job_outputs WHERE job_id = ? AND seq = ?",
                (job_id, seq),
            )
            if row is not None:
                self._cups_state_in(
                    tx, job_id=job_id, seq=seq, was=row.opt_text("cups_state"),
                    cups_job_id=row.opt_integer("cups_job_id"), state=state, data=data,
                )  # fmt: skip

    def cups_state_of(self, out: JobOutput, state: str, **data: object) -> None:
        """:meth:`cups_state` for ``out`` as read in the running batch, which holds the
        write lock since: no read again."""
        with self._store.transaction() as tx:
            self._cups_state_in(
                tx, job_id=out.job_id, seq=out.seq, was=out.cups_state,
                cups_job_id=out.cups_job_id, state=state, data=data,
            )  # fmt: skip

    def _cups_state_in(
        self,
        tx: Tx,
        *,
        job_id: int,
        seq: int,
        was: str | None,
        cups_job_id: int | None,
        state: str,
        data: Mapping[str, object],
    ) -> None:
        if was == state:
            return
        tx.write(
            "UPDATE job_outputs SET cups_state = ? WHERE job_id = ? AND seq = ?",
            (state, job_id, seq),
        )
        tx.event(
            "print.cups_state",
            {"seq": seq, "cups_job_id": cups_job_id, "state": state, **data},
            job_id=job_id,
        )

    def print_again(
        self, job_id: int, seqs: Sequence[int], to: JobState, *, by: str, why: str
    ) -> None:
        """Take a held or uncertain job back to ``to``; outputs ``seqs`` are submitted anew.

        Their CUPS jobs are kept as superseded, so that reconciliation never takes one of
        them (same name) for the new submission.
        """
        with self._store.transaction() as tx:
            now = self._store.now()
            for seq in seqs:
                row = tx.one(
                    "SELECT cups_job_id, cups_state FROM job_outputs WHERE job_id = ? AND seq = ?",
                    (job_id, seq),
                )
                if row is None:
                    raise self._no_output(job_id, seq)
                if row.opt_integer("cups_job_id") is not None:
                    tx.execute(
                        "INSERT INTO print_superseded (job_id, seq, cups_job_id, "
                        "cups_state, superseded_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (job_id, seq, row.opt_integer("cups_job_id"),
                         row.opt_text("cups_state"), now),
                    )  # fmt: skip
                tx.execute(
                    "UPDATE job_outputs SET submit_intent_at = NULL, cups_job_id = NULL, "
                    "cups_state = NULL WHERE job_id = ? AND seq = ?",
                    (job_id, seq),
                )
            self._journal.move_in(tx, job_id, to, data={"by": by, "why": why, "again": list(seqs)})

    def superseded(self, job_id: int) -> set[int]:
        """CUPS job ids that once stood for outputs of this job and no longer do."""
        rows = self._store.read(
            "SELECT cups_job_id FROM print_superseded WHERE job_id = ?", (job_id,)
        )
        return {r.integer("cups_job_id") for r in rows}

    def reprint(self, original: int, seqs: Sequence[int], *, by: str) -> Job:
        """A new job printing outputs ``seqs`` of ``original`` again, linked to it.

        It starts HELD (``print.reprint_preparing``) so that no daemon submits it before its
        files are in its spool folder; ``journal.resume`` to CONVERTED then releases it.
        """
        now = self._store.now()
        with self._store.transaction() as tx:
            src = tx.one("SELECT hotfolder, kind, spool, node FROM jobs WHERE id = ?", (original,))
            if src is None:
                raise JobNotFound(original)
            outputs = {
                r.integer("seq"): (r.text("path"), r.opt_integer("source_seq"),
                                   r.text("cups_queue"))
                for r in tx.rows(
                    "SELECT seq, path, source_seq, cups_queue FROM job_outputs WHERE job_id = ?",
                    (original,),
                )
            }  # fmt: skip
            missing = [s for s in seqs if s not in outputs]
            if not seqs or missing:
                raise JournalError(
                    self._journal.name,
                    f"job {original} has no output(s) {missing or 'at all'}",
                )
            job_id = tx.insert(
                # The original's node: the reprint copies files from its spool folder.
                "INSERT INTO jobs (hotfolder, kind, state, technician, spool, rule, "
                "created_at, updated_at, node) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?) RETURNING id",
                (src.text("hotfolder"), src.text("kind"), JobState.HELD.value, by,
                 "print.reprint_preparing", now, now, src.opt_text("node")),
            )  # fmt: skip
            folder = str(spool.job_folder(Path(src.text("spool")).parent, job_id))
            tx.execute("UPDATE jobs SET spool = ? WHERE id = ?", (folder, job_id))
            tx.execute(
                "INSERT INTO job_personal (job_id, entry) SELECT ?, entry FROM job_personal "
                "WHERE job_id = ?",
                (job_id, original),
            )
            files = {
                r.integer("seq"): (r.text("name"), r.integer("size"))
                for r in tx.rows(
                    "SELECT seq, name, size FROM job_files WHERE job_id = ?", (original,)
                )
            }
            for new_seq, seq in enumerate(seqs, 1):
                path, source_seq, queue = outputs[seq]
                tx.execute(
                    "INSERT INTO job_outputs (job_id, seq, path, source_seq, cups_queue) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (job_id, new_seq, path, new_seq if source_seq in files else None, queue),
                )
                if source_seq in files:
                    tx.execute(
                        "INSERT INTO job_files (job_id, seq, name, size) VALUES (?, ?, ?, ?)",
                        (job_id, new_seq, *files[source_seq]),
                    )
            tx.event(
                "job.reprint", {"original": original, "outputs": list(seqs), "by": by},
                job_id=job_id,
            )  # fmt: skip
            tx.event("job.reprinted", {"reprint": job_id, "outputs": list(seqs)}, job_id=original)
        return self._journal.job(job_id)
