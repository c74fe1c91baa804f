"""labd's domain types: jobs and their states, products, printers, hot folders.

No I/O here: these are plain values shared by every part of labd.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

MM_PER_INCH: Final = 25.4


class JobState(enum.StrEnum):
    """Where a job is in its life cycle (see docs in README, "Job life cycle")."""

    DISCOVERED = "DISCOVERED"  # intent to claim committed, rename not yet confirmed
    CLAIMED = "CLAIMED"  # files moved into the private spool
    CONVERTED = "CONVERTED"  # print-ready outputs written
    SUBMITTING = "SUBMITTING"  # intent to submit committed; CUPS may or may not have it
    SUBMITTED = "SUBMITTED"  # every output has a CUPS job id
    PRINTED = "PRINTED"  # CUPS reports every output completed
    DONE = "DONE"  # finished; the retention period runs from here
    QUARANTINED = "QUARANTINED"  # bad input: moved aside with a reason, nothing printed
    HELD = "HELD"  # printer or CUPS trouble; waits for a retry or a technician
    UNCERTAIN = "UNCERTAIN"  # after a crash CUPS cannot prove whether it printed
    WITHDRAWN = "WITHDRAWN"  # the files left the hot folder before labd could claim them
    PURGED = "PURGED"  # customer files deleted (retention or erasure)
    CANCELED = "CANCELED"  # a technician cancelled it (`labd cancel`); its CUPS jobs too

    @property
    def terminal(self) -> bool:
        """True for states a job never leaves by itself."""
        return self in _TERMINAL


_TERMINAL: Final = frozenset(
    {JobState.QUARANTINED, JobState.WITHDRAWN, JobState.PURGED, JobState.CANCELED}
)

# The allowed moves of the life cycle.  The journal refuses any other.
TRANSITIONS: Final[MappingProxyType[JobState, frozenset[JobState]]] = MappingProxyType(
    {
        # QUARANTINED: an error nobody foresaw stopped the claim (rule internal.error).
        JobState.DISCOVERED: frozenset(
            {JobState.CLAIMED, JobState.WITHDRAWN, JobState.QUARANTINED}
        ),
        JobState.CLAIMED: frozenset(
            {JobState.CONVERTED, JobState.QUARANTINED, JobState.HELD, JobState.CANCELED}
        ),
        JobState.CONVERTED: frozenset({JobState.SUBMITTING, JobState.HELD, JobState.CANCELED}),
        JobState.SUBMITTING: frozenset(
            {JobState.SUBMITTED, JobState.HELD, JobState.UNCERTAIN, JobState.CANCELED}
        ),
        JobState.SUBMITTED: frozenset(
            {JobState.PRINTED, JobState.HELD, JobState.UNCERTAIN, JobState.CANCELED}
        ),
        JobState.PRINTED: frozenset({JobState.DONE}),
        JobState.DONE: frozenset({JobState.PURGED}),
        JobState.HELD: frozenset(
            {
                JobState.CLAIMED,
                JobState.CONVERTED,
                JobState.SUBMITTING,
                JobState.SUBMITTED,
                JobState.QUARANTINED,
                JobState.CANCELED,
                JobState.PURGED,
            }
        ),
        # A supervisor decides: printed after all (DONE), print it (SUBMITTING), or cancel.
        JobState.UNCERTAIN: frozenset(
            {
                JobState.DONE,
                JobState.CONVERTED,
                JobState.SUBMITTING,
                JobState.CANCELED,
                JobState.PURGED,
            }
        ),
        JobState.QUARANTINED: frozenset({JobState.PURGED}),
        JobState.WITHDRAWN: frozenset(),
        JobState.CANCELED: frozenset({JobState.PURGED}),
        JobState.PURGED: frozenset(),
    }
)


class JobKind(enum.StrEnum):
    """What arrived in the hot folder."""

    FILE = "file"  # a single file at the top of the hot folder
    ORDER = "order"  # a folder: every file in it belongs to one job


class WatchMode(enum.StrEnum):
    """How a hot folder's changes are noticed (a full rescan runs in every mode)."""

    AUTO = "auto"  # inotify on local disks, polling on network filesystems
    INOTIFY = "inotify"
    POLL = "poll"  # network shares: inotify sees nothing a remote client writes


class OrderReady(enum.StrEnum):
    """When an order folder (not a single file) of a hot folder is complete."""

    STABLE = "stable"  # quiet for the stability period, or READY in it (and two looks agree)
    MARKER = "marker"  # only once READY or ticket.toml is in it, however long it stays quiet


class OutputFormat(enum.StrEnum):
    """The print-ready format a product makes."""

    JPEG = "jpeg"
    PDF = "pdf"


class Layout(enum.StrEnum):
    """What a PDF product makes of its inputs."""

    PHOTOBOOK = "photobook"  # images: one page each at the print size, in natural name order
    PASSTHROUGH = "passthrough"  # print-ready PDFs: checked, then printed as they are


class RenderingIntent(enum.StrEnum):
    """How colours outside the output profile's gamut are mapped (ICC rendering intents)."""

    PERCEPTUAL = "perceptual"
    RELATIVE = "relative"  # relative colorimetric


class Fit(enum.StrEnum):
    """How an image is placed on the print."""

    FILL = "fill"  # scale to cover the print, centre crop
    FIT = "fit"  # scale to fit inside the print, pad with the border colour
    NONE = "none"  # keep the pixels 1:1, centred; a photo larger than the print is refused


class LowResolution(enum.StrEnum):
    """What labd does with a photo whose effective resolution is below the product's min_ppi."""

    WARN = "warn"  # print it; a warning in the journal, `labd status` and `labd jobs N`
    HOLD = "hold"  # hold the job (input.low_resolution): a technician retries or cancels
    QUARANTINE = "quarantine"  # refuse the job like bad input, with the reason


# The default minimum effective resolution by the print's long side: (up to mm, ppi).
# A small print is looked at from a hand's length, where fewer than ~150 source pixels
# per inch show as soft or blocky; a 20x30 is looked at from further away and 100 ppi
# hold up; posters from across a room, 72.
DEFAULT_MIN_PPI: Final = ((210.0, 150), (450.0, 100), (float("inf"), 72))


def default_min_ppi(width_mm: float, height_mm: float) -> int:
    """The default ``min_ppi`` of a print of this size (see DEFAULT_MIN_PPI)."""
    long_side = max(width_mm, height_mm)
    return next(ppi for up_to, ppi in DEFAULT_MIN_PPI if long_side <= up_to)


@dataclass(frozen=True)
class Product:
    """What a hot folder makes: format, print size and resolution, fit, quality, colour."""

    name: str
    format: OutputFormat
    width_mm: float  # the long or short side as configured; orientation follows the image
    height_mm: float
    dpi: int
    fit: Fit = Fit.FILL
    jpeg_quality: int = 92
    border_colour: tuple[int, int, int] = (255, 255, 255)
    # A margin of border_colour on every side; the picture fills, fits or sits inside it.
    border_mm: float = 0.0
    copies: int = 1
    layout: Layout | None = None  # PDF products only
    # The output profile's ICC data (the printer's profile); None: sRGB.  Read once, when the
    # configuration is loaded, so a product is a self-contained value for worker processes.
    output_icc: bytes | None = field(default=None, repr=False)
    output_profile: str = "srgb"  # as configured ("srgb" or the file), for messages
    rendering_intent: RenderingIntent = RenderingIntent.PERCEPTUAL
    black_point_compensation: bool = True
    retention_days: int | None = None  # None: [retention] days
    # JPEG chroma subsampling: "4:2:0" (smallest), "4:2:2", "4:4:4" (sharpest colour edges).
    jpeg_subsampling: str = "4:2:0"
    # CUPS options for this product's jobs (media, media-type, print-quality), over the
    # printer's own.  Pairs, not a mapping proxy: a product travels to worker processes.
    options: tuple[tuple[str, str], ...] = ()
    # The lowest effective resolution (source pixels used per inch of print) printed without
    # a word; None: default_min_ppi of the size; 0: never judged.  Below it, low_resolution.
    min_ppi: int | None = None
    low_resolution: LowResolution = LowResolution.WARN

    @property
    def required_ppi(self) -> int:
        """``min_ppi`` as configured, else the default for the print's size."""
        if self.min_ppi is not None:
            return self.min_ppi
        return default_min_ppi(self.width_mm, self.height_mm)

    def pixel_size(self, *, landscape: bool) -> tuple[int, int]:
        """Return (width, height) in pixels, turned to match the image's orientation."""
        a = round(self.width_mm / MM_PER_INCH * self.dpi)
        b = round(self.height_mm / MM_PER_INCH * self.dpi)
        long_side, short_side = max(a, b), min(a, b)
        return (long_side, short_side) if landscape else (short_side, long_side)

    @property
    def border_pixels(self) -> int:
        """The border on each side, in pixels at the product's dpi."""
        return round(self.border_mm / MM_PER_INCH * self.dpi)

    @property
    def page_pixels(self) -> tuple[int, int]:
        """(width, height) in pixels as configured, not turned: a book's pages all agree."""
        return (
            round(self.width_mm / MM_PER_INCH * self.dpi),
            round(self.height_mm / MM_PER_INCH * self.dpi),
        )


@dataclass(frozen=True)
class Printer:
    """A CUPS queue and the options every job sent to it carries."""

    name: str
    queue: str
    options: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class HotFolder:
    """A watched directory bound to one product and one printer."""

    name: str
    path: Path
    product: str
    printer: str
    stability_seconds: float
    ignore: tuple[str, ...]
    group: str | None = None  # the lab's group: the only one with access besides the owner
    technicians: tuple[str, ...] = ()  # users allowed to drop jobs here; empty: any
    max_file_bytes: int = 2 * 1024**3
    watch: WatchMode = field(default_factory=lambda: WatchMode.AUTO)
    poll_seconds: float = 2.0
    retention_days: int | None = None  # None: the product's, else [retention] days
    order_ready: OrderReady = field(default_factory=lambda: OrderReady.STABLE)
    # An order folder of a name taken less than this long ago, from the same technician,
    # is the rest of that order (late files): journaled as such.  0: never.
    late_files_seconds: float = 3600.0


@dataclass(frozen=True)
class Job:
    """A job as the journal holds it now."""

    id: int
    hotfolder: str
    kind: JobKind
    state: JobState
    technician: str
    entry: str  # the file or folder name as dropped: personal data, kept out of the event chain
    spool: str
    created_at: str
    updated_at: str
    rule: str | None = None  # machine-readable code of why the job is HELD or QUARANTINED
    reason: str | None = None  # the same for a technician; may name files, so personal data
    order_ref: str | None = None  # from the job ticket: personal data, kept out of the chain
    node: str | None = None  # the print server that claimed it (None: before labd had nodes)


@dataclass(frozen=True)
class JobFile:
    """One input file of a job, as claimed."""

    job_id: int
    seq: int
    name: str  # relative path inside the job: personal data, kept out of the event chain
    size: int
    copies: int | None = None  # from the job ticket; None: the product's


@dataclass(frozen=True)
class JobOutput:
    """One print-ready file of a job and the CUPS job that prints it."""

    job_id: int
    seq: int
    path: str  # relative to the job's spool folder; a neutral name (0001.jpg), never a customer's
    source_seq: int | None  # the input file it was made from; None when made from several
    cups_queue: str
    submit_intent_at: str | None = None
    cups_job_id: int | None = None
    cups_state: str | None = None

    @property
    def cups_title(self) -> str:
        """The CUPS job name of this output: labd's ids only, never a customer's file name."""
        return f"labd-{self.job_id}-{self.seq}"


@dataclass(frozen=True)
class Event:
    """One entry of the journal's append-only, hash-chained event log."""

    seq: int
    ts: str
    job_id: int | None
    kind: str
    data: MappingProxyType[str, object]
    hash: str
    detail: str | None = None  # personal text (a reason naming files), stored outside the chain
