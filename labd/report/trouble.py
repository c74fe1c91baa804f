"""Trouble: how long jobs stood held, per printer and per rule, and why jobs were quarantined.

A hold counts for the part of it that falls in the period: one begun earlier counts from
the period's start, one still held counts to the period's end (or to now, while the
period lasts).  Quarantined jobs count by rule only: the reasons' texts name files.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from labd.clock import epoch
from labd.model import Event, JobState
from labd.report.context import Context
from labd.report.model import Table


@dataclass(frozen=True)
class Trouble:
    """Held time per printer and per rule, and quarantined jobs per rule."""

    held_per_printer: Table
    held_per_rule: Table
    quarantined: Table

    @property
    def held_s(self) -> float:
        """Seconds held in the period, all printers (the sum of the printers' rounded rows)."""
        return round(sum(_float(row[2]) for row in self.held_per_printer.rows), 1)

    @property
    def tables(self) -> tuple[Table, Table, Table]:
        return (self.held_per_printer, self.held_per_rule, self.quarantined)


def read_trouble(ctx: Context) -> Trouble:
    """The held and quarantined jobs of ``ctx``'s period."""
    return Trouble(*_held(ctx), _quarantined(ctx))


def _holds(ctx: Context) -> list[tuple[Event, float | None]]:
    """Every hold begun before the period's end: the event that began it, and its end
    (epoch seconds) if it ended before the period's end."""
    held = JobState.HELD.value
    into = ctx.events_to_end("job.state_changed", data={"to": held})
    out_of = ctx.events_to_end("job.state_changed", data={"from": held})
    open_holds: dict[int, Event] = {}
    spans: list[tuple[Event, float | None]] = []
    for e in sorted([*into, *out_of], key=lambda e: e.seq):
        if e.job_id is None:
            continue
        if e.data.get("to") == held:
            open_holds[e.job_id] = e
        elif e.job_id in open_holds:
            spans.append((open_holds.pop(e.job_id), epoch(e.ts)))
    spans.extend((e, None) for e in open_holds.values())
    return spans


def _held(ctx: Context) -> tuple[Table, Table]:
    """Held time in the period per printer and per rule (holds begun earlier count from
    the period's start; one still held counts to its end, or to now)."""
    start = epoch(ctx.since)
    stop = min(epoch(ctx.until), ctx.now.timestamp())
    per_printer: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    per_rule: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for begin, end in _holds(ctx):
        began = epoch(begin.ts)
        inside = max(0.0, min(end if end is not None else stop, stop) - max(began, start))
        if inside <= 0 and not start <= began < stop:
            continue
        printer = per_printer[ctx.jobs.printer(begin.job_id or 0)]
        rule = per_rule[str(begin.data.get("rule") or "-")]
        if begin.ts >= ctx.since:
            printer[0] += 1
            rule[0] += 1
        printer[1] += inside
        rule[1] += inside
        if end is None or end >= stop:
            printer[2] += 1
    return (
        Table(
            "held_per_printer",
            "Held time per printer",
            ("printer", "holds", "held_s", "still_held"),
            tuple(
                (p, int(v[0]), round(v[1], 1), int(v[2])) for p, v in sorted(per_printer.items())
            ),
        ),
        Table(
            "held_per_rule",
            "Holds per rule",
            ("rule", "holds", "held_s"),
            tuple((r, int(v[0]), round(v[1], 1)) for r, v in sorted(per_rule.items())),
        ),
    )


def _quarantined(ctx: Context) -> Table:
    """Quarantined jobs per rule (the reasons' texts name files: not in a report)."""
    rules = Counter(str(e.data.get("rule") or "-") for e in ctx.moved(JobState.QUARANTINED))
    return Table(
        "quarantine_reasons",
        "Quarantined jobs per reason",
        ("rule", "jobs"),
        tuple((rule, n) for rule, n in rules.most_common()),
    )


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
