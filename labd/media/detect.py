"""USB detection: mass-storage devices plugged into the print server go into the media ledger.

The only module that talks to udev (pyudev).  Vendor, product, serial number, capacity and
volume label come from udev properties and sysfs attributes: libusb (pyusb) cannot read the
string descriptors of every device (fake ones under umockdev have no language ids) and adds
nothing udev does not already know.  A device not yet known as an outstanding item becomes
an ``unlinked`` item until a technician links or dismisses it.
"""

from __future__ import annotations

import threading
from typing import Any

import pyudev
import structlog

from labd.errors import LabdError, MediaError
from labd.media.ledger import MediaLedger

log = structlog.get_logger(__name__)

SECTOR: int = 512  # sysfs gives a block device's size in 512-byte sectors, whatever its own


class MediaDetector:
    """Watches udev for USB disks and records plugs and unplugs; ``start()``/``stop()``."""

    def __init__(self, ledger: MediaLedger, context: pyudev.Context | None = None) -> None:
        self.ledger = ledger
        self.context = context or pyudev.Context()
        self._observer: Any = None
        self._lock = threading.Lock()
        self._present: dict[str, int] = {}  # device path of the disk -> media item id

    def start(self) -> None:
        """Listen for uevents, then record the USB disks already plugged in."""
        try:
            monitor = pyudev.Monitor.from_netlink(self.context)
            monitor.filter_by("block")
            # The monitor listens before the scan, so a plug during the scan is not missed;
            # handle() ignores a disk it has seen already.
            monitor.start()
            observer = pyudev.MonitorObserver(monitor, callback=self._on_event, name="labd-media")
        except (OSError, pyudev.DeviceNotFoundError) as e:
            raise MediaError("detection", f"cannot listen to udev: {e}") from e
        observer.start()
        self._observer = observer
        for device in self.context.list_devices(subsystem="block", DEVTYPE="disk", ID_BUS="usb"):
            self.handle("add", device)
        log.info("media.detection_started", plugged=len(self._present))

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
        if device.properties.get("ID_BUS") != "usb":
            return None
        devtype = device.properties.get("DEVTYPE")
        if action == "add" and devtype == "disk":
            return self._plugged(device)
        if action in ("add", "change") and devtype == "partition":
            return self._partition(device)
        if action == "remove" and devtype == "disk":
            with self._lock:
                item_id = self._present.pop(device.sys_path, None)
            if item_id is not None:
                self.ledger.removed(item_id)
            return item_id
        return None

    def _plugged(self, disk: Any) -> int | None:
        with self._lock:
            if disk.sys_path in self._present:
                return self._present[disk.sys_path]
            usb = disk.find_parent("usb", "usb_device")
            props = usb.properties if usb is not None else disk.properties
            attrs = usb.attributes if usb is not None else None
            serial = props.get("ID_SERIAL_SHORT") or _attr(attrs, "serial")
            vendor = _attr(attrs, "manufacturer") or props.get("ID_VENDOR")
            model = _attr(attrs, "product") or props.get("ID_MODEL")
            sectors = _attr(disk.attributes, "size")
            label = disk.properties.get("ID_FS_LABEL") or next(
                (
                    p.properties.get("ID_FS_LABEL")
                    for p in disk.children
                    if p.properties.get("ID_FS_LABEL")
                ),
                None,
            )
            item = self.ledger.detected(
                serial=serial,
                vendor=vendor,
                model=model,
                capacity=int(sectors) * SECTOR if sectors and sectors.isdigit() else None,
                label=label,
            )
            self._present[disk.sys_path] = item.id
        log.info("media.usb_plugged", item=item.id, vendor=vendor, model=model)
        return item.id

    def _partition(self, partition: Any) -> int | None:
        label = partition.properties.get("ID_FS_LABEL")
        disk = partition.find_parent("block", "disk")
        if disk is None:
            return None
        with self._lock:
            item_id = self._present.get(disk.sys_path)
        if item_id is None:
            item_id = self._plugged(disk)  # the disk's own event may come later or never
        if label and item_id is not None:
            self.ledger.labelled(item_id, label)
        return item_id


def _attr(attrs: Any, name: str) -> str | None:
    if attrs is None:
        return None
    try:
        value = attrs.asstring(name)
    except (KeyError, UnicodeDecodeError):
        return None
    return str(value).strip() or None
