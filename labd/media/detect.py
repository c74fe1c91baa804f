"""Detection: carriers put into the print server go into the media ledger by themselves.

USB sticks and USB hard or solid-state disks when plugged in; optical discs (CD, DVD,
BD) when inserted into a drive and ejected; memory cards when inserted into a built-in
(MMC) or USB card reader that may have been plugged long before.  The only module that
talks to udev (pyudev): vendor, product, serial number, file system UUID, capacity and
volume label come from udev properties and sysfs attributes, which the kernel fills from
the devices' own descriptors (libusb would read the same descriptors again, and cannot
read the string descriptors of every device).

What a carrier is comes from :func:`sighting`: a disc is known by its file system's UUID
(the drive's serial is the drive's, not the disc's), a card in a USB reader likewise (the
reader's serial is the reader's); a card in a built-in reader and a USB disk by their
serial numbers.  A disc or card seen again is the same item.  A new one is ``unlinked``
until a technician links or dismisses it.  The server's own disks are never looked at.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyudev
import structlog

from labd.errors import LabdError, MediaError
from labd.media.ledger import MediaLedger
from labd.media.model import MediaKind

log = structlog.get_logger(__name__)

SECTOR: Final = 512  # sysfs gives a block device's size in 512-byte sectors, whatever its own

# udev's flags for the slots of a card reader (60-persistent-storage.rules and hwdb).
_CARD_SLOT_PREFIXES: Final = ("ID_DRIVE_FLASH_", "ID_DRIVE_MEDIA_FLASH_")


@dataclass(frozen=True)
class Sighting:
    """A carrier in one of the server's ports, drives or card readers."""

    kind: MediaKind
    serial: str | None = None
    uuid: str | None = None
    vendor: str | None = None
    model: str | None = None
    capacity: int | None = None
    label: str | None = None

    @property
    def identity(self) -> str | None:
        """What makes it the same carrier when it is seen again."""
        return self.serial or self.uuid or self.label


def sighting(disk: Any) -> Sighting | None:
    """What carrier the block disk ``disk`` holds; None for none (an empty drive or
    reader slot, a card whose file system is not readable yet) or for a disk that is not
    a customer's carrier (the server's own disks)."""
    props = disk.properties
    if props.get("ID_CDROM") == "1":
        return _disc(disk) if props.get("ID_CDROM_MEDIA") == "1" else None
    if _holds_root(disk):
        return None
    mmc = disk.find_parent("mmc")
    if mmc is not None:
        return _card(disk, mmc)
    if props.get("ID_BUS") == "usb" and _capacity(disk):  # no capacity: an empty slot
        return _usb(disk)
    return None


def _card(disk: Any, mmc: Any) -> Sighting | None:
    """A card in a built-in reader: the card itself is a device, with its serial."""
    if _attr(mmc.attributes, "type") not in ("SD", None):
        return None  # eMMC soldered on the board: the server's own storage
    return Sighting(
        MediaKind.SD,
        serial=_attr(mmc.attributes, "serial"),
        vendor=_attr(mmc.attributes, "oemid"),
        model=_attr(mmc.attributes, "name"),
        capacity=_capacity(disk),
        label=_volume(disk, "ID_FS_LABEL"),
    )


def _usb(disk: Any) -> Sighting | None:
    """A stick, a disk in a USB enclosure, or a card in a USB reader's slot."""
    if any(key.startswith(_CARD_SLOT_PREFIXES) for key in disk.properties):
        uuid = _volume(disk, "ID_FS_UUID")
        if uuid is None:
            return None  # the card's partitions are not read yet: their events follow
        return Sighting(MediaKind.SD, uuid=uuid, capacity=_capacity(disk),
                        label=_volume(disk, "ID_FS_LABEL"))  # fmt: skip
    usb = disk.find_parent("usb", "usb_device")
    props = usb.properties if usb is not None else disk.properties
    attrs = usb.attributes if usb is not None else None
    kind = MediaKind.USB
    if _attr(disk.attributes, "removable") == "0":  # a disk in a USB enclosure
        rotational = _attr(disk.attributes, "queue/rotational")
        kind = MediaKind.HDD if rotational == "1" else MediaKind.SSD
    return Sighting(
        kind,
        serial=props.get("ID_SERIAL_SHORT") or _attr(attrs, "serial"),
        vendor=_attr(attrs, "manufacturer") or props.get("ID_VENDOR"),
        model=_attr(attrs, "product") or props.get("ID_MODEL"),
        capacity=_capacity(disk),
        label=_volume(disk, "ID_FS_LABEL"),
    )


def _disc(drive: Any) -> Sighting:
    props = drive.properties
    media = [key for key, value in props.items() if value == "1"]
    if any(key.startswith("ID_CDROM_MEDIA_BD") for key in media):
        kind = MediaKind.BD
    elif any(key.startswith("ID_CDROM_MEDIA_DVD") for key in media):
        kind = MediaKind.DVD
    else:
        kind = MediaKind.CD
    return Sighting(
        kind,
        uuid=props.get("ID_FS_UUID"),
        capacity=_capacity(drive),
        label=props.get("ID_FS_LABEL"),
    )


class MediaDetector:
    """Watches udev for carriers and records them coming and going; ``start()``/``stop()``."""

    def __init__(self, ledger: MediaLedger, context: pyudev.Context | None = None) -> None:
        self.ledger = ledger
        self.context = context or pyudev.Context()
        self._observer: Any = None
        self._lock = threading.Lock()
        # device path of the disk -> (media item id, what identifies the carrier in it)
        self._present: dict[str, tuple[int, str | None]] = {}

    def start(self) -> None:
        """Listen for uevents, then record the carriers already in the server."""
        try:
            monitor = pyudev.Monitor.from_netlink(self.context)
            monitor.filter_by("block")
            # The monitor listens before the scan, so a plug during the scan is not missed;
            # handle() ignores a carrier it has seen already.
            monitor.start()
            observer = pyudev.MonitorObserver(monitor, callback=self._on_event, name="labd-media")
        except (OSError, pyudev.DeviceNotFoundError) as e:
            raise MediaError("detection", f"cannot listen to udev: {e}") from e
        observer.start()
        self._observer = observer
        for device in self.context.list_devices(subsystem="block", DEVTYPE="disk"):
            self.handle("add", device)
        log.info("media.detection_started", present=len(self._present))

    def stop(self) -> None:
        """Stop listening; returns once the listening thread has ended."""
        if self._observer is not None:
            self._observer.stop()
            self._observer = None
            log.info("media.detection_stopped")

    def _on_event(self, device: Any) -> None:
        try:
            self.handle(device.action, device)
        except LabdError as e:
            # One bad device must not stop detection of the next one.
            log.exception("media.detect_failed", error=str(e), code=e.code)

    def handle(self, action: str | None, device: Any) -> int | None:
        """Record one block-device event; the media item id it concerned, if any."""
        devtype = device.properties.get("DEVTYPE")
        if devtype == "partition":
            return self._partition(device) if action in ("add", "change") else None
        if devtype != "disk":
            return None
        if action == "remove":
            return self._gone(device)
        if action not in ("add", "change"):
            return None
        seen = sighting(device)
        if seen is None:
            # A change with nothing in the drive or slot: the disc was ejected, the card
            # pulled out.  (An add with nothing is an empty drive: nothing to record.)
            return self._gone(device) if action == "change" else None
        return self._arrived(device, seen)

    def _arrived(self, disk: Any, seen: Sighting) -> int:
        with self._lock:
            known = self._present.get(disk.sys_path)
            if known is not None and known[1] == seen.identity:
                return known[0]
        if known is not None:  # another disc or card in the same drive without an eject
            self._gone(disk)
        item = self.ledger.detected(
            kind=seen.kind,
            serial=seen.serial,
            uuid=seen.uuid,
            vendor=seen.vendor,
            model=seen.model,
            capacity=seen.capacity,
            label=seen.label,
        )
        with self._lock:
            self._present[disk.sys_path] = (item.id, seen.identity)
        log.info("media.arrived", item=item.id, kind=seen.kind.value, vendor=seen.vendor,
                 model=seen.model)  # fmt: skip
        return item.id

    def _gone(self, disk: Any) -> int | None:
        with self._lock:
            known = self._present.pop(disk.sys_path, None)
        if known is None:
            return None
        self.ledger.removed(known[0])
        return known[0]

    def _partition(self, partition: Any) -> int | None:
        label = partition.properties.get("ID_FS_LABEL")
        disk = partition.find_parent("block", "disk")
        if disk is None:
            return None
        with self._lock:
            known = self._present.get(disk.sys_path)
        item_id = known[0] if known is not None else None
        if item_id is None:
            # The disk's own event may come later or never, and a card's identity is its
            # file system's: the disk is looked at again now that its partition is known.
            seen = sighting(disk)
            item_id = self._arrived(disk, seen) if seen is not None else None
        if label and item_id is not None:
            self.ledger.labelled(item_id, label)
        return item_id


@functools.cache
def _root_device() -> str:
    """The ``major:minor`` of the root file system, as sysfs writes a device's ``dev``."""
    root = Path("/").stat().st_dev
    return f"{os.major(root)}:{os.minor(root)}"


def _holds_root(disk: Any) -> bool:
    """Whether the server's root file system is on ``disk`` (a system booted from a card)."""
    wanted = _root_device()
    return any(_attr(d.attributes, "dev") == wanted for d in (disk, *disk.children))


def _capacity(disk: Any) -> int | None:
    sectors = _attr(disk.attributes, "size")
    return int(sectors) * SECTOR if sectors and sectors.isdigit() else None


def _volume(disk: Any, key: str) -> str | None:
    """A file system property of the disk itself, or of its first partition that has it."""
    value = disk.properties.get(key)
    if value:
        return str(value)
    return next((str(p.properties[key]) for p in disk.children if p.properties.get(key)), None)


def _attr(attrs: Any, name: str) -> str | None:
    if attrs is None:
        return None
    try:
        value = attrs.asstring(name)
    except (KeyError, UnicodeDecodeError):
        return None
    return str(value).strip() or None
