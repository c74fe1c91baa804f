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


# An optical drive on the server's SATA bus, empty; a disc is put in by setting what udev
# would say of it (cdrom_id, blkid) and sending the 'change' uevent the kernel sends.
DRIVE_PATH = "/sys/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sr0"
DRIVE = """\
P: /devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sr0
N: sr0
E: DEVNAME=/dev/sr0
E: DEVTYPE=disk
E: MAJOR=11
E: MINOR=0
E: SUBSYSTEM=block
E: ID_BUS=ata
E: ID_CDROM=1
E: ID_CDROM_DVD=1
E: ID_CDROM_BD=1
E: ID_MODEL=HL-DT-ST_BD-RE_WH16NS60
E: ID_SERIAL=HL-DT-ST_BD-RE_WH16NS60_K9OG7AH3345
A: removable=1
A: size=0
A: ro=0
A: dev=11:0
"""
DISC = {  # what cdrom_id and blkid say of a customer's DVD
    "ID_CDROM_MEDIA": "1",
    "ID_CDROM_MEDIA_DVD": "1",
    "ID_FS_TYPE": "iso9660",
    "ID_FS_UUID": "2026-12-06-10-11-12-00",
    "ID_FS_LABEL": "HANSEN_WEDDING",
}
DISC_SECTORS = 9_180_416  # 4.7 GB


def insert_disc(testbed: Any, disc: dict[str, str], sectors: int) -> None:
    for key, value in disc.items():
        testbed.set_property(DRIVE_PATH, key, value)
    testbed.set_attribute(DRIVE_PATH, "size", str(sectors))
    testbed.uevent(DRIVE_PATH, "change")


def eject_disc(testbed: Any, disc: dict[str, str]) -> None:
    for key in disc:
        testbed.set_property(DRIVE_PATH, key, "")
    testbed.set_attribute(DRIVE_PATH, "size", "0")
    testbed.uevent(DRIVE_PATH, "change")


_DRIVE_ADDED: list[str] = []


@pytest.fixture
def drive(testbed: Any) -> Any:
    """The testbed with the server's optical drive (added once, empty)."""
    if not _DRIVE_ADDED:
        testbed.add_from_string(DRIVE)
        _DRIVE_ADDED.append(DRIVE_PATH)
    return testbed


def item_of(ledger: MediaLedger, identifier: str, *, present: bool) -> MediaItem | None:
    items = [i for i in ledger.items() if i.identifier == identifier]
    return items[0] if len(items) == 1 and items[0].present is present else None


def test_a_dvd_inserted_ejected_and_inserted_again_is_one_item(
    drive: Any, ledger: MediaLedger
) -> None:
    from labd.media.detect import MediaDetector  # noqa: PLC0415  # imports pyudev

    detector = MediaDetector(ledger)
    detector.start()
    try:
        assert ledger.items() == []  # an empty drive is nothing to record
        insert_disc(drive, DISC, DISC_SECTORS)
        dvd = wait_for(lambda: item_of(ledger, DISC["ID_FS_UUID"], present=True))
        assert (dvd.kind.value, dvd.state, dvd.disposition.value) == ("dvd", MediaState.UNLINKED, "destroy")  # fmt: skip
        assert (dvd.id_kind.value, dvd.label, dvd.capacity) == ("uuid", "HANSEN_WEDDING", DISC_SECTORS * 512)  # fmt: skip
        assert dvd.vendor is None  # the drive's maker is not the disc's
        eject_disc(drive, DISC)
        wait_for(lambda: item_of(ledger, DISC["ID_FS_UUID"], present=False))
        insert_disc(drive, DISC, DISC_SECTORS)
        again = wait_for(lambda: item_of(ledger, DISC["ID_FS_UUID"], present=True))
        assert again.id == dvd.id
        assert [e.kind for e in ledger.history(dvd.id)] == [
            "media.detected", "media.inserted", "media.removed", "media.inserted",
        ]  # fmt: skip
    finally:
        detector.stop()
        eject_disc(drive, DISC)


def usb_device(port: str, name: str, serial: str, product: str, vendor: str = "Generic") -> str:
    """A USB mass-storage device on port ``port`` of the root hub, with its interface."""
    return f"""\
P: /devices/pci0000:00/0000:00:14.0/usb1/{port}
N: bus/usb/001/0{port[-1]}0
E: DEVTYPE=usb_device
E: DRIVER=usb
E: SUBSYSTEM=usb
E: ID_VENDOR={vendor}
E: ID_MODEL={product.replace(" ", "_")}
E: ID_SERIAL_SHORT={serial}
A: manufacturer={vendor}
A: product={product}
A: serial={serial}

P: /devices/pci0000:00/0000:00:14.0/usb1/{port}/{port}:1.0
E: DEVTYPE=usb_interface
E: DRIVER=usb-storage
E: INTERFACE=8/6/80
E: SUBSYSTEM=usb
A: bInterfaceClass=08
"""


def usb_disk(port: str, name: str, attributes: str, properties: str = "") -> str:
    """The block disk ``name`` behind the USB device on ``port``."""
    return f"""\
P: /devices/pci0000:00/0000:00:14.0/usb1/{port}/{port}:1.0/host9/target9:0:0/9:0:0:0/block/{name}
N: {name}
E: DEVNAME=/dev/{name}
E: DEVTYPE=disk
E: SUBSYSTEM=block
E: ID_BUS=usb
{properties}{attributes}"""


def disk_path(port: str, name: str) -> str:
    return f"{USB}/{port}/{port}:1.0/host9/target9:0:0/9:0:0:0/block/{name}"


def partition(parent: str, name: str, uuid: str, label: str) -> str:
    return f"""\
P: {parent.removeprefix("/sys")}/{name}
N: {name}
E: DEVNAME=/dev/{name}
E: DEVTYPE=partition
E: SUBSYSTEM=block
E: ID_FS_TYPE=exfat
E: ID_FS_UUID={uuid}
E: ID_FS_LABEL={label}
A: partition=1
A: size=124735488
"""


def test_a_card_put_into_a_reader_plugged_long_before_is_recorded_and_taken_out(
    testbed: Any, ledger: MediaLedger
) -> None:
    from labd.media.detect import MediaDetector  # noqa: PLC0415  # imports pyudev

    reader = disk_path("1-2", "sdy")
    testbed.add_from_string(
        usb_device("1-2", "sdy", "000000001536", "USB3.0 CRW -SD")
        + "\n"
        + usb_disk("1-2", "sdy", "A: removable=1\nA: size=0\n", "E: ID_DRIVE_FLASH_SD=1\n")
    )
    detector = MediaDetector(ledger)
    detector.start()
    try:
        assert ledger.items() == []  # the reader with its slot empty is nothing to record
        testbed.set_attribute(reader, "size", "124735488")
        testbed.uevent(reader, "change")  # the card goes in; its partition is read next
        testbed.add_from_string(partition(reader, "sdy1", "3A21-F00D", "EOS_DIGITAL"))
        card = wait_for(lambda: item_of(ledger, "3A21-F00D", present=True))
        assert (card.kind.value, card.id_kind.value, card.label) == ("sd", "uuid", "EOS_DIGITAL")
        assert card.disposition.value == "return"
        assert "000000001536" not in {i.identifier for i in ledger.items()}  # the reader's own
        testbed.uevent(f"{reader}/sdy1", "remove")
        testbed.remove_device(f"{reader}/sdy1")
        testbed.set_attribute(reader, "size", "0")
        testbed.uevent(reader, "change")  # the card is out
        wait_for(lambda: item_of(ledger, "3A21-F00D", present=False))
    finally:
        detector.stop()


def test_a_card_in_a_built_in_reader_is_known_by_its_serial(
    testbed: Any, ledger: MediaLedger
) -> None:
    from labd.media.detect import MediaDetector  # noqa: PLC0415  # imports pyudev

    host = "/devices/platform/fe340000.mmc/mmc_host/mmc0"
    card = f"""\
P: {host}
E: SUBSYSTEM=mmc_host

P: {host}/mmc0:aaaa
E: SUBSYSTEM=mmc
E: MMC_TYPE=SD
E: MMC_NAME=SD64G
A: type=SD
A: name=SD64G
A: serial=0x1a2b3c4d
A: oemid=0x5344

P: {host}/mmc0:aaaa/block/mmcblk0
N: mmcblk0
E: DEVNAME=/dev/mmcblk0
E: DEVTYPE=disk
E: SUBSYSTEM=block
A: size=124735488
A: dev=179:0
"""
    detector = MediaDetector(ledger)
    detector.start()
    try:
        testbed.add_from_string(card)  # the card goes in: the kernel adds its devices
        item = wait_for(lambda: item_of(ledger, "0x1a2b3c4d", present=True))
        assert (item.kind.value, item.id_kind.value, item.model) == ("sd", "serial", "SD64G")
        assert item.capacity == 124735488 * 512
        for path in (f"{host}/mmc0:aaaa/block/mmcblk0", f"{host}/mmc0:aaaa"):
            testbed.uevent(f"/sys{path}", "remove")
            testbed.remove_device(f"/sys{path}")
        wait_for(lambda: item_of(ledger, "0x1a2b3c4d", present=False))
    finally:
        detector.stop()


def test_a_usb_hard_disk_is_a_hard_disk_and_the_servers_own_disk_is_left_alone(
    testbed: Any, ledger: MediaLedger
) -> None:
    from labd.media.detect import MediaDetector  # noqa: PLC0415  # imports pyudev

    testbed.add_from_string("""\
P: /devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda
N: sda
E: DEVNAME=/dev/sda
E: DEVTYPE=disk
E: SUBSYSTEM=block
E: ID_BUS=ata
E: ID_SERIAL_SHORT=WD-SERVER-OWN
A: removable=0
A: size=1953525168
""")
    detector = MediaDetector(ledger)
    detector.start()
    try:
        testbed.add_from_string(
            usb_device("1-3", "sdx", "NA8H2K9Q", "Expansion HDD", vendor="Seagate")
            + "\n"
            + usb_disk("1-3", "sdx", "A: removable=0\nA: size=3907029168\nA: queue/rotational=1\n")
        )
        disk = wait_for(lambda: item_of(ledger, "NA8H2K9Q", present=True))
        assert (disk.kind.value, disk.material.value, disk.vendor) == ("hdd", "H", "Seagate")
        assert [i.identifier for i in ledger.items()] == ["NA8H2K9Q"]  # not the server's sda
    finally:
        detector.stop()
