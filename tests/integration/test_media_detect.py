"""USB detection against a fake USB stick under umockdev.

umockdev is the fake of the USB bus: this machine has no USB stick to plug, so
``umockdev-wrapper`` preloads a library that gives libudev (and so pyudev) a made-up sysfs
and uevents.  The stick below is the reference's recipe (``shared/reference/stick.umockdev``):
a SanDisk Cruzer Blade, mass-storage interface 08/06/50, partition ``sdb1`` labelled
``CUSTOMER01``.  Run under: ``umockdev-wrapper .venv/bin/python -m pytest``.
"""

# ruff: noqa: E501  # the device tree below keeps its hex descriptors on one line each, as umockdev reads them

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labd.clock import ManualClock
from labd.media.ledger import MediaLedger
from labd.media.model import MediaItem, MediaState
from labd.schemas import open_journal
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(
    "libumockdev-preload" not in os.environ.get("LD_PRELOAD", ""),
    reason="needs the umockdev preload: run under umockdev-wrapper",
)

USB = "/sys/devices/pci0000:00/0000:00:14.0/usb1"
SERIAL = "4C530001230517110512"
# The root hub stays; only the stick (from 1-1 down) is plugged and unplugged.  umockdev
# refuses to add a device that exists already.
HUB = """\
P: /devices/pci0000:00/0000:00:14.0/usb1
N: bus/usb/001/001
E: DEVNAME=/dev/bus/usb/001/001
E: DEVTYPE=usb_device
E: DRIVER=usb
E: PRODUCT=1d6b/2/606
E: TYPE=9/0/1
E: BUSNUM=001
E: DEVNUM=001
E: MAJOR=189
E: MINOR=0
E: SUBSYSTEM=usb
E: ID_VENDOR_ID=1d6b
E: ID_MODEL_ID=0002
A: idVendor=1d6b
A: idProduct=0002
A: bDeviceClass=09
A: bConfigurationValue=1
A: bNumConfigurations=1
A: bNumInterfaces= 1
A: busnum=1
A: devnum=1
A: speed=480
A: version= 2.00
A: manufacturer=Linux 6.6 xhci-hcd
A: product=xHCI Host Controller
A: serial=0000:00:14.0
A: dev=189:0
H: descriptors=12010002090001406b1d020006060302010109021900010100E0000904000001090000000705810304000C"""
STICK = """\
P: /devices/pci0000:00/0000:00:14.0/usb1/1-1
N: bus/usb/001/002
E: DEVNAME=/dev/bus/usb/001/002
E: DEVTYPE=usb_device
E: DRIVER=usb
E: PRODUCT=781/5567/100
E: TYPE=0/0/0
E: BUSNUM=001
E: DEVNUM=002
E: MAJOR=189
E: MINOR=1
E: SUBSYSTEM=usb
E: ID_VENDOR=SanDisk
E: ID_VENDOR_ID=0781
E: ID_MODEL=Cruzer_Blade
E: ID_MODEL_ID=5567
E: ID_SERIAL=SanDisk_Cruzer_Blade_4C530001230517110512
E: ID_SERIAL_SHORT=4C530001230517110512
E: ID_USB_INTERFACES=:080650:
A: idVendor=0781
A: idProduct=5567
A: bcdDevice=0100
A: bDeviceClass=00
A: bDeviceSubClass=00
A: bDeviceProtocol=00
A: bConfigurationValue=1
A: bNumConfigurations=1
A: bNumInterfaces= 1
A: bMaxPacketSize0=64
A: busnum=1
A: devnum=2
A: devpath=1
A: speed=480
A: version= 2.00
A: manufacturer=SanDisk
A: product=Cruzer Blade
A: serial=4C530001230517110512
A: removable=removable
A: dev=189:1
H: descriptors=1201000200000040810767550001010203010902200001010080320904000002080650000705810200020007050202000200
L: driver=../../../../bus/usb/drivers/usb

P: /devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0
E: DEVTYPE=usb_interface
E: DRIVER=usb-storage
E: PRODUCT=781/5567/100
E: TYPE=0/0/0
E: INTERFACE=8/6/80
E: SUBSYSTEM=usb
A: bInterfaceClass=08
A: bInterfaceSubClass=06
A: bInterfaceProtocol=50
A: bInterfaceNumber=00
A: bNumEndpoints=02

P: /devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb
N: sdb
E: DEVNAME=/dev/sdb
E: DEVTYPE=disk
E: MAJOR=8
E: MINOR=16
E: SUBSYSTEM=block
E: ID_BUS=usb
E: ID_USB_DRIVER=usb-storage
E: ID_VENDOR=SanDisk
E: ID_MODEL=Cruzer_Blade
E: ID_SERIAL=SanDisk_Cruzer_Blade_4C530001230517110512-0:0
E: ID_PART_TABLE_TYPE=dos
A: removable=1
A: size=31266816
A: ro=0
A: dev=8:16

P: /devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1
N: sdb1
E: DEVNAME=/dev/sdb1
E: DEVTYPE=partition
E: MAJOR=8
E: MINOR=17
E: SUBSYSTEM=block
E: ID_BUS=usb
E: ID_FS_TYPE=vfat
E: ID_FS_LABEL=CUSTOMER01
E: ID_FS_UUID=1234-ABCD
E: ID_FS_USAGE=filesystem
A: partition=1
A: size=31264768
A: dev=8:17
"""

_TESTBED: list[Any] = []


@pytest.fixture
def testbed() -> Any:
    """The process's one Testbed.

    Never clear() it or make a second: libusb's device list listens on the first one's
    udev monitor and goes blind after that.
    """
    gi = pytest.importorskip("gi")
    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev  # noqa: PLC0415  # only under umockdev-wrapper

    if not _TESTBED:
        testbed = UMockdev.Testbed.new()
        testbed.add_from_string(HUB)
        _TESTBED.append(testbed)
    return _TESTBED[0]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[MediaLedger]:
    journal = open_journal(tmp_path / "journal.sqlite", ManualClock())
    yield MediaLedger(journal)
    journal.close()


def wait_for(check: Callable[[], MediaItem | None], timeout: float = 5.0) -> MediaItem:
    """Poll until ``check`` returns an item: uevents arrive on the detector's thread."""
    return wait_until(check, timeout=timeout, what="the detector to record the stick",
                      interval=0.02)  # fmt: skip


def the_stick(ledger: MediaLedger, *, present: bool) -> MediaItem | None:
    items = [i for i in ledger.items() if i.identifier == SERIAL]
    if len(items) == 1 and items[0].present is present and items[0].label:
        return items[0]
    return None


# umockdev leaves /sys/block/<name> behind when a disk is removed, so each plug uses the
# next kernel name (sdb, sdc, ...), as the kernel itself may do for a replugged stick.
_NAMES = iter(f"sd{letter}" for letter in "bcdefghijklmnop")


def plug(testbed: Any) -> tuple[str, ...]:
    """Plug the stick in ('add' uevents); its sysfs paths, children first, to unplug it."""
    name = next(_NAMES)
    testbed.add_from_string(STICK.replace("sdb", name))
    disk = f"{USB}/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/{name}"
    return (f"{disk}/{name}1", disk, f"{USB}/1-1/1-1:1.0", f"{USB}/1-1")


def unplug(testbed: Any, tree: tuple[str, ...]) -> None:
    """Unplug children first, as the kernel does."""
    for path in tree:
        testbed.uevent(path, "remove")
        testbed.remove_device(path)


def test_plug_record_link_unplug_replug(testbed: Any, ledger: MediaLedger) -> None:
    from labd.media.detect import MediaDetector  # noqa: PLC0415  # imports pyudev

    threads = set(threading.enumerate())
    detector = MediaDetector(ledger)
    detector.start()
    tree = plug(testbed)
    try:
        stick = wait_for(lambda: the_stick(ledger, present=True))
        assert (stick.state, stick.source, stick.kind.value) == (
            MediaState.UNLINKED,
            "detected",
            "usb",
        )
        assert (stick.vendor, stick.model, stick.label) == ("SanDisk", "Cruzer Blade", "CUSTOMER01")
        assert stick.capacity == 31266816 * 512
        ledger.link(stick.id, by="anna", orders=["A-1001"])

        unplug(testbed, tree)
        wait_for(lambda: the_stick(ledger, present=False))
        tree = plug(testbed)  # the customer's stick again: the same item, not a new one
        again = wait_for(lambda: the_stick(ledger, present=True))
        assert (again.id, again.state) == (stick.id, MediaState.RECEIVED)
        kinds = [e.kind for e in ledger.history(stick.id)]
        assert kinds == [
            "media.detected", "media.inserted", "media.received", "media.linked",
            "media.removed", "media.inserted",
        ]  # fmt: skip
        assert ledger.journal.verify().first_bad is None
    finally:
        detector.stop()
        unplug(testbed, tree)
    assert set(threading.enumerate()) <= threads  # the listening thread has ended


def test_a_stick_plugged_before_start_is_found(testbed: Any, ledger: MediaLedger) -> None:
    from labd.media.detect import MediaDetector  # noqa: PLC0415  # imports pyudev

    tree = plug(testbed)
    detector = MediaDetector(ledger)
    try:
        detector.start()
        stick = wait_for(lambda: the_stick(ledger, present=True))
        assert stick.state is MediaState.UNLINKED
    finally:
        detector.stop()
        unplug(testbed, tree)
