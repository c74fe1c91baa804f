"""Configuration: TOML in, frozen and validated settings out.

Every problem is a :class:`~labd.errors.ConfigError` naming the file, the key and what is
wrong, so an administrator can fix it without reading code.  Parsing (:func:`load`) is pure;
checks against the filesystem (:func:`check_paths`) are separate, so ``labd demo`` can
rebase the paths before they are checked.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

if TYPE_CHECKING:
    from labd.store import StoreLocation
    from labd.store.location import PostgresLocation

from labd.alerts.settings import AlertSettings, parse_alerts
from labd.errors import ConfigError
from labd.media.model import DEFAULT_DISPOSITION as MEDIA_DEFAULT_DISPOSITION
from labd.media.model import MediaKind
from labd.model import (
    MM_PER_INCH,
    Fit,
    HotFolder,
    Layout,
    LowResolution,
    OrderReady,
    OutputFormat,
    Printer,
    Product,
    RenderingIntent,
    WatchMode,
)

# Files that technicians' tools and operating systems leave behind.  They are never taken.
DEFAULT_IGNORE: Final = (
    ".*",  # hidden files: .DS_Store, ._resource forks, .stfolder, editors' swap files
    "Thumbs.db",
    "desktop.ini",
    "~$*",
    "*.part",
    "*.filepart",
    "*.crdownload",
    "*.tmp",
    "@eaDir",
)
DEFAULT_STABILITY_SECONDS: Final = 5.0
DEFAULT_RESCAN_SECONDS: Final = 60.0
DEFAULT_FOLLOW_SECONDS: Final = 1.0
DEFAULT_MAX_FILE_MB: Final = 2048
DEFAULT_POLL_SECONDS: Final = 2.0
DEFAULT_STALL_SECONDS: Final = 120.0
DEFAULT_MIN_FREE_MB: Final = 512
DEFAULT_LATE_FILES_SECONDS: Final = 3600.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UNIT_MM: Final = {"mm": 1.0, "cm": 10.0, "in": MM_PER_INCH}
_NUMBER: Final = r"(\d+(?:\.\d+)?)"
_UNIT: Final = "(" + "|".join(_UNIT_MM) + ")"
_SIZE = re.compile(rf"^\s*{_NUMBER}\s*[xX\u00d7]\s*{_NUMBER}\s*{_UNIT}\s*$")
# One length ("5 mm"): a sign and any unit are matched, so the error can say which is wrong.
_LENGTH = re.compile(rf"^\s*(-?)\s*{_NUMBER}\s*([^\s\d.]*)\s*$")

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """Everything labd needs to run, validated."""

    source: Path
    state_dir: Path
    spool_dir: Path
    quarantine_dir: Path
    rescan_seconds: float
    follow_seconds: float
    cups_server: str | None
    products: Mapping[str, Product]
    printers: Mapping[str, Printer]
    hotfolders: Mapping[str, HotFolder]
    media: MediaSettings = field(default_factory=lambda: MediaSettings())  # noqa: PLW0108  # defined further down
    waste: WasteSettings = field(default_factory=lambda: WasteSettings())  # noqa: PLW0108  # defined further down
    retention: RetentionSettings = field(default_factory=lambda: RetentionSettings())  # noqa: PLW0108  # defined further down
    # A loop without progress for this long stops the watchdog pings (systemd restarts labd).
    stall_seconds: float = DEFAULT_STALL_SECONDS
    # Below this much free space in the spool (or the journal's filesystem) no job is taken.
    min_free_bytes: int = DEFAULT_MIN_FREE_MB * 1024**2
    # Conversion processes for the files of an order; 0: one per core.
    convert_workers: int = 0
    # The lab's time zone for what a person reads (tables, reports); None: the server's.
    # The journal and exports stay in UTC.
    timezone: ZoneInfo | None = None
    # Who answers for the processing (GDPR Art. 30(1)(a)); None: not configured yet.
    controller: Controller | None = None
    # Where labd serves its metrics (Prometheus/OpenMetrics); off unless configured.
    metrics: MetricsSettings = field(default_factory=lambda: MetricsSettings())  # noqa: PLW0108  # defined further down
    # Where the journal is (the SQLite file in state_dir, or a shared PostgreSQL database)
    # and this server's node name in it.
    journal: JournalSettings = field(default_factory=lambda: JournalSettings())  # noqa: PLW0108  # defined further down
    # Where alerts and the daily digest go (labd.alerts); nowhere unless configured.
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # The console in a browser (``labd web``): where it listens, TLS, sessions.
    web: WebSettings = field(default_factory=lambda: WebSettings())  # noqa: PLW0108  # defined further down
    _extra: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def journal_path(self) -> Path:
        """The SQLite journal's file (the default journal: ``[journal] url`` empty)."""
        return self.state_dir / "journal.sqlite"

    @property
    def journal_location(self) -> StoreLocation:
        """Where the journal is: the shared PostgreSQL database, else the SQLite file."""
        return self.journal.postgres or self.journal_path

    @property
    def journal_exists(self) -> bool:
        """Whether a journal may be there to read (a database always may; a file, once
        labd has run)."""
        return self.journal.postgres is not None or self.journal_path.exists()

    def retention_days(self, hotfolder: str) -> int:
        """Days a job of ``hotfolder`` is kept after it finished: the hot folder's setting,
        else its product's, else ``[retention] days`` (also for hot folders no longer
        configured)."""
        hf = self.hotfolders.get(hotfolder)
        if hf is not None and hf.retention_days is not None:
            return hf.retention_days
        product = self.products.get(hf.product) if hf is not None else None
        if product is not None and product.retention_days is not None:
            return product.retention_days
        return self.retention.days

    def rebased(self, base: Path) -> Config:
        """Return this configuration with every path moved under ``base`` (for ``labd demo``)."""
        base = base.absolute()
        hotfolders = {
            name: replace(hf, path=base / "hot" / name) for name, hf in self.hotfolders.items()
        }
        return replace(
            self,
            state_dir=base / "state",
            spool_dir=base / "spool",
            quarantine_dir=base / "quarantine",
            hotfolders=MappingProxyType(hotfolders),
        )


class _Table:
    """One TOML table being read: typed getters that report the full key on error."""

    _REQUIRED: Final = object()

    def __init__(self, file: str, prefix: str, data: Mapping[str, Any]) -> None:
        self.file = file
        self.prefix = prefix
        self.data = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), problem)

    def _get(
        self, name: str, kind: type[T] | tuple[type, ...], kind_name: str, default: object
    ) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is self._REQUIRED:
                raise self.error(name, "missing; this setting is required")
            return default
        value = self.data[name]
        # bool is an int in Python; a flag given where a number is expected is a mistake.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(name, f"expected {kind_name}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(name, f"expected {kind_name}, got {type(value).__name__} {value!r}")
        return value

    def string(self, name: str, default: object = _REQUIRED) -> Any:
        value = self._get(name, str, "a string", default)
        if isinstance(value, str) and not value.strip() and default is self._REQUIRED:
            raise self.error(name, "must not be empty")
        return value

    def number(self, name: str, default: object = _REQUIRED, *, low: float, high: float) -> Any:
        value = self._get(name, (int, float), "a number", default)
        if value is not None and not low <= value <= high:
            raise self.error(name, f"{value} is out of range; expected {low:g} to {high:g}")
        return value

    def integer(self, name: str, default: object = _REQUIRED, *, low: int, high: int) -> Any:
        value = self._get(name, int, "a whole number", default)
        if value is not None and not low <= value <= high:
            raise self.error(name, f"{value} is out of range; expected {low} to {high}")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: object = _REQUIRED) -> Any:
        value = self.string(name, default)
        if value not in choices:
            raise self.error(name, f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def flag(self, name: str, default: bool) -> bool:  # noqa: FBT001  # mirrors the TOML value
        return bool(self._get(name, bool, "true or false", default))

    def strings(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(name, list, "a list of strings", list(default))
        if not all(isinstance(v, str) for v in value):
            raise self.error(name, "expected a list of strings")
        return tuple(value)

    def table(self, name: str, *, required: bool = False) -> Mapping[str, Any]:
        value = self._get(name, dict, "a table", self._REQUIRED if required else {})
        return cast("Mapping[str, Any]", value)

    def unknown(self) -> list[ConfigError]:
        """An error for each key of the table that nothing asked for (a typo, most likely)."""
        expected = ", ".join(sorted(self.used)) or "nothing"
        return [
            self.error(name, f"unknown setting; this table takes: {expected}")
            for name in sorted(set(self.data) - self.used)
        ]

    def finish(self) -> None:
        unknown = self.unknown()
        if unknown:
            raise unknown[0]


def _path(table: _Table, name: str, default: str | None = None) -> Path:
    raw = table.string(name, default if default is not None else _Table._REQUIRED)
    path = Path(raw).expanduser()
    if not path.is_absolute():
        # Relative paths are relative to the configuration file, never to the working
        # directory, so the service and an administrator's shell agree.
        path = Path(table.file).absolute().parent / path
    return path


def _size_mm(table: _Table) -> tuple[float, float]:
    raw = table.string("size")
    match = _SIZE.match(raw)
    if match is None:
        raise table.error("size", f'{raw!r} is not a print size like "6x4 in" or "150x100 mm"')
    unit = _UNIT_MM[match.group(3)]
    width, height = float(match.group(1)) * unit, float(match.group(2)) * unit
    if width <= 0 or height <= 0:
        raise table.error("size", f"{raw!r} has a zero side")
    return width, height


def _border_mm(table: _Table) -> float:
    """``border``: a length in the units of ``size``, 0 or more (see _product for the rest)."""
    raw = table.string("border", "0 mm")
    match = _LENGTH.match(raw)
    if match is None:
        raise table.error("border", f'{raw!r} is not a length like "5 mm", "0.5 cm" or "0.2 in"')
    sign, number, unit = match.groups()
    if unit not in _UNIT_MM:
        what = f"unknown unit {unit!r}" if unit else "no unit"
        raise table.error("border", f"{raw!r} has {what}; use {', '.join(_UNIT_MM)}")
    border = float(number) * _UNIT_MM[unit]
    if sign and border:
        raise table.error("border", f"{raw!r} is negative; a border is 0 or more")
    return border


def _colour(table: _Table, name: str) -> tuple[int, int, int]:
    raw = table.string(name, "#ffffff")
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", raw):
        raise table.error(name, f'{raw!r} is not a colour like "#ffffff"')
    return int(raw[1:3], 16), int(raw[3:5], 16), int(raw[5:7], 16)


def _named_tables(top: _Table, section: str) -> dict[str, _Table]:
    tables = {}
    for name, data in top.table(section).items():
        if not _NAME.match(name):
            raise top.error(
                f"{section}.{name}", "names may use letters, digits, '.', '_' and '-' (at most 64)"
            )
        if not isinstance(data, dict):
            raise top.error(f"{section}.{name}", "expected a table")
        tables[name] = _Table(top.file, f"{section}.{name}", data)
    return tables


# An ICC profile: 'acsp' at byte 36, the data colour space at 16..20.  Only RGB output
# profiles: the printers labd feeds take RGB JPEG or PDF and separate the inks themselves.
_ICC_MAGIC: Final = b"acsp"
_ICC_MAX_BYTES: Final = 16 * 1024 * 1024


JPEG_SUBSAMPLING: Final = ("4:2:0", "4:2:2", "4:4:4")


def _product(t: _Table, name: str) -> Product:
    width, height = _size_mm(t)
    fmt = OutputFormat(t.choice("format", tuple(OutputFormat)))
    layout = None
    if fmt is OutputFormat.PDF:
        layout = Layout(t.choice("layout", tuple(Layout)))
    elif "layout" in t.data:
        raise t.error("layout", "only PDF products have a layout")
    if layout is Layout.PASSTHROUGH and "border" in t.data:
        raise t.error("border", "a pass-through PDF is printed as it is, without a border")
    for key in ("min_ppi", "low_resolution"):
        if layout is Layout.PASSTHROUGH and key in t.data:
            raise t.error(key, "a pass-through PDF is printed as it is, it has no photos to judge")
    profile = t.string("output_profile", "srgb")
    product = Product(
        name=name,
        format=fmt,
        width_mm=width,
        height_mm=height,
        dpi=t.integer("dpi", 300, low=72, high=2400),
        fit=Fit(t.choice("fit", tuple(Fit), "fill")),
        jpeg_quality=t.integer("jpeg_quality", 92, low=1, high=100),
        border_colour=_colour(t, "border_colour"),
        border_mm=_border_mm(t),
        copies=t.integer("copies", 1, low=1, high=999),
        layout=layout,
        output_icc=None if profile == "srgb" else _icc_profile(t, "output_profile"),
        output_profile=profile,
        rendering_intent=RenderingIntent(
            t.choice("rendering_intent", tuple(RenderingIntent), "perceptual")
        ),
        black_point_compensation=t._get(
            "black_point_compensation", bool, "true or false", default=True
        ),
        retention_days=t.integer("retention_days", None, low=0, high=MAX_RETENTION_DAYS),
        jpeg_subsampling=t.choice("jpeg_subsampling", JPEG_SUBSAMPLING, "4:2:0"),
        options=tuple(sorted(_cups_options(t).items())),
        min_ppi=t.integer("min_ppi", None, low=0, high=2400),
        low_resolution=LowResolution(
            t.choice("low_resolution", tuple(LowResolution), LowResolution.WARN.value)
        ),
    )
    # In pixels as printed: a border that rounds to half the short side leaves nothing.
    if 2 * product.border_pixels >= min(product.page_pixels):
        short_side = min(width, height)
        raise t.error(
            "border",
            f"{t.data['border']!r} on every side leaves no room for the picture: the print "
            f"is {short_side:g} mm on its short side, so a border must be under "
            f"{short_side / 2:g} mm",
        )
    t.finish()
    return product


def _icc_profile(t: _Table, name: str) -> bytes:
    """The ICC file named by ``name``: read now, so a bad path fails at start, not per job."""
    path = _path(t, name)
    try:
        with path.open("rb") as f:
            data = f.read(_ICC_MAX_BYTES + 1)
    except OSError as e:
        raise t.error(name, f"cannot read {path}: {e.strerror}") from e
    if len(data) < 132 or data[36:40] != _ICC_MAGIC or len(data) > _ICC_MAX_BYTES:
        raise t.error(name, f'{path} is not an ICC profile (or "srgb")')
    if data[16:20] != b"RGB ":
        space = data[16:20].decode("latin-1").strip()
        raise t.error(name, f"{path} is a {space} profile; labd makes RGB output")
    return data


def _cups_options(t: _Table) -> MappingProxyType[str, str]:
    options = t.table("options")
    for key, value in options.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise t.error(f"options.{key}", "CUPS options are strings or whole numbers")
    return MappingProxyType({k: str(v) for k, v in options.items()})


def _printer(t: _Table, name: str) -> Printer:
    printer = Printer(name=name, queue=t.string("queue"), options=_cups_options(t))
    t.finish()
    return printer


def parse(data: Mapping[str, Any], file: str) -> Config:
    """Validate parsed TOML ``data`` read from ``file`` into a :class:`Config`."""
    top = _Table(file, "", data)
    labd = _Table(file, "labd", top.table("labd", required=True))
    state_dir = _path(labd, "state_dir")
    spool_dir = _path(labd, "spool_dir")
    quarantine_dir = _path(labd, "quarantine_dir")
    hot_root = _path(labd, "hotfolder_root")
    stability = labd.number("stability_seconds", DEFAULT_STABILITY_SECONDS, low=0, high=3600)
    rescan = labd.number("rescan_seconds", DEFAULT_RESCAN_SECONDS, low=1, high=86400)
    follow = labd.number("follow_seconds", DEFAULT_FOLLOW_SECONDS, low=0.05, high=60)
    ignore = labd.strings("ignore", DEFAULT_IGNORE)
    group = labd.string("group", "") or None
    max_file_mb = labd.number("max_file_mb", DEFAULT_MAX_FILE_MB, low=1, high=1024**2)
    watch = labd.choice("watch", tuple(WatchMode), WatchMode.AUTO.value)
    poll = labd.number("poll_seconds", DEFAULT_POLL_SECONDS, low=0.1, high=600)
    stall = labd.number("stall_seconds", DEFAULT_STALL_SECONDS, low=1, high=86400)
    min_free_mb = labd.number("min_free_mb", DEFAULT_MIN_FREE_MB, low=0, high=1024**3)
    workers = labd.integer("convert_workers", 0, low=0, high=64)
    order_ready = labd.choice("order_ready", tuple(OrderReady), OrderReady.STABLE.value)
    late = labd.number("late_files_seconds", DEFAULT_LATE_FILES_SECONDS, low=0, high=86400)
    timezone = _timezone(labd)
    labd.finish()

    cups = _Table(file, "cups", top.table("cups"))
    server = cups.string("server", "") or None
    cups.finish()

    products = {n: _product(t, n) for n, t in _named_tables(top, "products").items()}
    printers = {n: _printer(t, n) for n, t in _named_tables(top, "printers").items()}
    hotfolders: dict[str, HotFolder] = {}
    for name, t in _named_tables(top, "hotfolders").items():
        product = t.string("product")
        if product not in products:
            raise t.error("product", f"no product {product!r}; defined: {_names(products)}")
        printer = t.string("printer")
        if printer not in printers:
            raise t.error("printer", f"no printer {printer!r}; defined: {_names(printers)}")
        hotfolders[name] = HotFolder(
            name=name,
            path=_path(t, "path", str(hot_root / name)),
            product=product,
            printer=printer,
            stability_seconds=t.number("stability_seconds", stability, low=0, high=3600),
            ignore=t.strings("ignore", ignore),
            group=t.string("group", group or "") or None,
            technicians=t.strings("technicians", ()),
            max_file_bytes=int(t.number("max_file_mb", max_file_mb, low=1, high=1024**2) * 1024**2),
            watch=WatchMode(t.choice("watch", tuple(WatchMode), watch)),
            poll_seconds=float(t.number("poll_seconds", poll, low=0.1, high=600)),
            order_ready=OrderReady(t.choice("order_ready", tuple(OrderReady), order_ready)),
            late_files_seconds=float(t.number("late_files_seconds", late, low=0, high=86400)),
            retention_days=t.integer("retention_days", None, low=0, high=MAX_RETENTION_DAYS),
        )
        t.finish()
    if not hotfolders:
        raise top.error("hotfolders", "no hot folders are configured; labd would watch nothing")
    media = _media(_Table(file, "media", top.table("media")))
    waste = _waste(_Table(file, "waste", top.table("waste")))
    retention = _retention(_Table(file, "retention", top.table("retention")))
    controller = _controller(top)
    metrics = _metrics(_Table(file, "metrics", top.table("metrics")))
    journal = _journal(_Table(file, "journal", top.table("journal")), Path(file).parent)
    alerts = parse_alerts(_Table(file, "alerts", top.table("alerts")))
    web = _web(_Table(file, "web", top.table("web")))
    top.finish()

    paths = [hf.path for hf in hotfolders.values()]
    if len(set(paths)) != len(paths):
        raise top.error("hotfolders", "two hot folders share one path")
    return Config(
        source=Path(file),
        state_dir=state_dir,
        spool_dir=spool_dir,
        quarantine_dir=quarantine_dir,
        rescan_seconds=float(rescan),
        follow_seconds=float(follow),
        cups_server=server,
        products=MappingProxyType(products),
        printers=MappingProxyType(printers),
        hotfolders=MappingProxyType(hotfolders),
        media=media,
        waste=waste,
        retention=retention,
        stall_seconds=float(stall),
        min_free_bytes=int(min_free_mb * 1024**2),
        convert_workers=workers,
        timezone=timezone,
        controller=controller,
        metrics=metrics,
        journal=journal,
        alerts=alerts,
        web=web,
    )


def _names(mapping: Mapping[str, object]) -> str:
    return ", ".join(sorted(mapping)) or "none"


def load(path: Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    file = str(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(file, "-", "the file does not exist") from e
    except OSError as e:
        raise ConfigError(file, "-", f"cannot read the file: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "-", f"not valid TOML: {e}") from e
    except UnicodeDecodeError as e:
        # tomllib decodes the whole file first; that error is no TOMLDecodeError.
        raise ConfigError(
            file, "-", f"not UTF-8 text (byte {e.start + 1}: {e.reason}); save it as UTF-8"
        ) from e
    except (RecursionError, ValueError) as e:
        raise ConfigError(file, "-", f"not valid TOML: {type(e).__name__}: {e}") from e
    return parse(data, file)


def check_paths(config: Config) -> None:
    """Check the configuration against the filesystem: hot folders exist, spool beside them.

    The spool must be on the same filesystem as every hot folder, because claiming a job
    is an atomic rename into the spool.
    """
    file = str(config.source)
    for hf in config.hotfolders.values():
        key = f"hotfolders.{hf.name}.path"
        if not hf.path.is_dir():
            what = "is not a folder" if hf.path.exists() else "does not exist"
            raise ConfigError(file, key, f"{hf.path} {what}; create it or fix the path")
        if not os.access(hf.path, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError(file, key, f"labd may not read and write {hf.path}")
    spool_parent = _existing_parent(config.spool_dir)
    for hf in config.hotfolders.values():
        if hf.path.stat().st_dev != spool_parent.stat().st_dev:
            raise ConfigError(
                file,
                "labd.spool_dir",
                f"{config.spool_dir} is on another filesystem than hot folder {hf.name} "
                f"({hf.path}); claiming a job is a rename, so both must be on one filesystem",
            )


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


# --- [media] and [waste]: customer media custody and secure waste -----------------------------

# The media kinds labd knows, and what happens to each by default: labd.media.model's.
MEDIA_KINDS: Final = tuple(kind.value for kind in MediaKind)
DEFAULT_DISPOSITION: Final = MappingProxyType(
    {kind.value: disposition.value for kind, disposition in MEDIA_DEFAULT_DISPOSITION.items()}
)
DEFAULT_MISPRINT_REASONS: Final = ("banding", "colour-cast", "paper-jam", "wrong-size", "dust")


@dataclass(frozen=True)
class MediaSettings:
    """``[media]``: default disposition per kind, when an item still in the house is overdue."""

    overdue_days: int = 14
    disposition: Mapping[str, str] = field(default_factory=lambda: DEFAULT_DISPOSITION)
    detect: bool = True  # record USB sticks plugged into the print server (udev)


@dataclass(frozen=True)
class WasteSettings:
    """``[waste]``: misprint reasons and the deadlines of the secure-waste ledger."""

    # "other" (with a text) is always accepted besides these.
    reasons: tuple[str, ...] = DEFAULT_MISPRINT_REASONS
    certificate_overdue_days: int = 30
    uncollected_days: int = 365


def _media(t: _Table) -> MediaSettings:
    overdue = t.integer("overdue_days", 14, low=1, high=3650)
    detect = t.flag("detect", default=True)
    given = t.table("disposition")
    disposition = dict(DEFAULT_DISPOSITION)
    for kind, value in given.items():
        if kind not in MEDIA_KINDS:
            raise t.error(f"disposition.{kind}", f"unknown kind; kinds: {', '.join(MEDIA_KINDS)}")
        if value not in ("return", "destroy"):
            raise t.error(f"disposition.{kind}", f"{value!r} is not one of: return, destroy")
        disposition[kind] = value
    t.finish()
    return MediaSettings(
        overdue_days=overdue, disposition=MappingProxyType(disposition), detect=detect
    )


def _waste(t: _Table) -> WasteSettings:
    reasons = t.strings("reasons", DEFAULT_MISPRINT_REASONS)
    for reason in reasons:
        if not _NAME.match(reason) or reason == "other":
            raise t.error(
                "reasons",
                f"{reason!r}: a reason is a short code (letters, digits, '.', '_', '-'); "
                "'other' is built in",
            )
    if len(set(reasons)) != len(reasons):
        raise t.error("reasons", "a reason is listed twice")
    settings = WasteSettings(
        reasons=reasons,
        certificate_overdue_days=t.integer("certificate_overdue_days", 30, low=1, high=3650),
        uncollected_days=t.integer("uncollected_days", 365, low=1, high=3650),
    )
    t.finish()
    return settings


# --- [retention]: how long customer files are kept ------------------------------------------

DEFAULT_RETENTION_DAYS: Final = 14
MAX_RETENTION_DAYS: Final = 3650


@dataclass(frozen=True)
class RetentionSettings:
    """``[retention]``: the default period; hot folders and products may set their own."""

    days: int = DEFAULT_RETENTION_DAYS  # after DONE, QUARANTINED or CANCELED
    check_seconds: float = 60.0  # how often the daemon looks for jobs past their period


def _retention(t: _Table) -> RetentionSettings:
    settings = RetentionSettings(
        days=t.integer("days", DEFAULT_RETENTION_DAYS, low=0, high=MAX_RETENTION_DAYS),
        check_seconds=float(t.number("check_seconds", 60.0, low=0.1, high=86400)),
    )
    t.finish()
    return settings


# --- [labd] timezone and [controller]: what people read -------------------------------------


def _timezone(t: _Table) -> ZoneInfo | None:
    """``timezone``: an IANA name ("Europe/Oslo"); empty or absent: the server's own."""
    name = t.string("timezone", "")
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    # A name mistyped in case or spacing ("europe/oslo") gets the right spelling offered.
    known = {z.casefold(): z for z in available_timezones()}
    near = known.get(name.strip().casefold())
    hint = f'; did you mean "{near}"?' if near else ""
    raise t.error(
        "timezone",
        f'{name!r} is not a time zone; give an IANA name like "Europe/Oslo" '
        f"(timedatectl list-timezones){hint}",
    )


# An e-mail address as far as a configuration can check one: something@domain.tld.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass(frozen=True)
class Controller:
    """``[controller]``: who decides on the processing and how to reach them (GDPR Art. 30)."""

    name: str
    address: str
    email: str
    dpo: str | None = None  # the data protection officer's contact, where one is designated


def _controller(top: _Table) -> Controller | None:
    """``[controller]``, if given: name, address and e-mail required, ``dpo`` optional."""
    if "controller" not in top.data:
        top.used.add("controller")
        return None
    t = _Table(top.file, "controller", top.table("controller"))
    controller = Controller(
        name=t.string("name").strip(),
        address=t.string("address").strip(),
        email=t.string("email").strip(),
        dpo=t.string("dpo", "").strip() or None,
    )
    if not _EMAIL.match(controller.email):
        raise t.error(
            "email", f"{controller.email!r} is not an e-mail address like privacy@lab.example"
        )
    t.finish()
    return controller


# --- [metrics]: the endpoint the lab's monitoring scrapes ------------------------------------

# "127.0.0.1:9464", "[::1]:9464", "localhost:9464": an address labd can bind without asking
# a name server (a name that resolves elsewhere would open the port where nobody meant it).
_LISTEN = re.compile(r"^(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})$")
LISTEN_EXAMPLE: Final = "127.0.0.1:9464"


@dataclass(frozen=True)
class MetricsSettings:
    """``[metrics]``: where the Prometheus/OpenMetrics endpoint listens; None: nowhere."""

    listen: tuple[str, int] | None = None  # (IP address or "localhost", port)

    @property
    def url(self) -> str | None:
        """Where to scrape, for the log and the README's examples."""
        if self.listen is None:
            return None
        host, port = self.listen
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"


def _metrics(t: _Table) -> MetricsSettings:
    """``listen``: empty or absent: no endpoint (labd opens no port nobody asked for)."""
    raw = t.string("listen", "").strip()
    t.finish()
    if not raw:
        return MetricsSettings()
    return MetricsSettings(listen=_listen(t, raw, LISTEN_EXAMPLE))


def _listen(t: _Table, raw: str, example: str) -> tuple[str, int]:
    """``listen = "ADDRESS:PORT"`` (like ``example``): the address and the port."""
    match = _LISTEN.match(raw)
    port_of_example = example.rsplit(":", 1)[1]
    if match is None:
        v6 = (
            f' (an IPv6 address goes in brackets: "[::1]:{port_of_example}")'
            if raw.count(":") > 1
            else ""
        )
        raise t.error("listen", f'{raw!r} is not an address and port like "{example}"{v6}')
    host = match.group("v6") if match.group("v6") is not None else match.group("host")
    port = int(match.group("port"))
    if host != "localhost":
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise t.error(
                "listen",
                f"{host!r} is not an IP address; give one the server has "
                f'("{example}", "[::1]:{port_of_example}") or localhost',
            ) from None
        host = str(address)
    if not 1 <= port <= 65535:
        raise t.error("listen", f"port {port} is out of range; expected 1 to 65535")
    return host, port


# --- [web]: the console in a browser (labd web) -----------------------------------------------

WEB_LISTEN_DEFAULT: Final = "127.0.0.1:8631"
DEFAULT_SESSION_IDLE_MINUTES: Final = 30


@dataclass(frozen=True)
class WebSettings:
    """``[web]``: where ``labd web`` listens, its TLS certificate, and its sessions."""

    listen: tuple[str, int] = ("127.0.0.1", 8631)
    tls_cert: Path | None = None  # both, or neither (plain HTTP, for a reverse proxy)
    tls_key: Path | None = None
    session_idle_minutes: int = DEFAULT_SESSION_IDLE_MINUTES


def web_listen(raw: str) -> tuple[str, int]:
    """``labd web --listen ADDRESS:PORT``, read as ``[web] listen`` is."""
    return _listen(_Table("--listen", "", {}), raw.strip(), WEB_LISTEN_DEFAULT)


def _web(t: _Table) -> WebSettings:
    """``listen``, ``tls_cert`` and ``tls_key`` (both or neither), ``session_idle_minutes``."""
    raw = t.string("listen", WEB_LISTEN_DEFAULT).strip() or WEB_LISTEN_DEFAULT
    cert = _path(t, "tls_cert", "") if t.string("tls_cert", "").strip() else None
    key = _path(t, "tls_key", "") if t.string("tls_key", "").strip() else None
    idle = t.integer("session_idle_minutes", DEFAULT_SESSION_IDLE_MINUTES, low=1, high=24 * 60)
    t.finish()
    if (cert is None) != (key is None):
        missing = "tls_key" if key is None else "tls_cert"
        raise t.error(missing, "missing; TLS needs both tls_cert and tls_key (or neither)")
    return WebSettings(
        listen=_listen(t, raw, WEB_LISTEN_DEFAULT),
        tls_cert=cert,
        tls_key=key,
        session_idle_minutes=idle,
    )


# --- [journal]: the SQLite file of one server, or one PostgreSQL database for several ------

DEFAULT_NODE_DOWN_SECONDS: Final = 120.0


def default_node() -> str:
    """This server's host name, as a node name (its first label, in node-name characters)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0]).strip("-.")
    return name[:64] or "labd"


@dataclass(frozen=True)
class JournalSettings:
    """``[journal]``: where the journal is and who this server is in it."""

    # None: the SQLite file in state_dir; else the shared PostgreSQL database.
    postgres: PostgresLocation | None = None
    # This server's name among the nodes of a shared journal; jobs it claims are its own.
    node: str = field(default_factory=default_node)
    # A node whose heartbeat is older than this is shown as down.
    node_down_seconds: float = DEFAULT_NODE_DOWN_SECONDS


def _journal(t: _Table, here: Path) -> JournalSettings:
    """``url`` (empty: SQLite), ``password_file``, ``node``, ``node_down_seconds``."""
    url = t.string("url", "").strip()
    password_file = t.string("password_file", "").strip()
    node = t.string("node", "").strip() or default_node()
    down = t.number("node_down_seconds", DEFAULT_NODE_DOWN_SECONDS, low=5, high=86400)
    t.finish()
    if not _NAME.match(node):
        raise t.error("node", f"{node!r} is not a name of letters, digits, '.', '_' and '-'")
    if password_file and not url:
        raise t.error("password_file", "is for a PostgreSQL url; the SQLite journal has none")
    postgres = None
    if url:
        secret = Path(password_file) if password_file else None
        if secret is not None and not secret.is_absolute():
            secret = here / secret
        # Only here: importing labd.store.location loads the whole store package (its
        # SQLite driver among it), which a command that opens no journal need not pay for.
        from labd.store.location import PostgresLocation  # noqa: PLC0415

        try:
            postgres = PostgresLocation(url, secret)
        except ValueError as e:
            raise t.error("url", str(e)) from None
    return JournalSettings(postgres=postgres, node=node, node_down_seconds=float(down))
