"""Quarantine names: long customer names still fit with their reason file; a leftover of an
interrupted copy is never moved into.

Every case checks both sides: the names fit within 255 bytes, and nothing is lost (the
file's bytes, every file of an order, the leftover itself).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labd.names import NAME_MAX
from labd.quarantine import REASON_SUFFIX, note_of, quarantine, target_name

JOB = 7
LONG_FILE = "é" * 126 + ".jp"  # 255 bytes: the longest name ext4 takes
LONG_ORDER = "é" * 127 + "x"  # 255 bytes, no extension


def size(name: str) -> int:
    return len(os.fsencode(name))


def tree(path: Path) -> dict[str, bytes | None]:
    """An entry's content: a file's bytes, or every file under a folder (None for folders)."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {
        str(p.relative_to(path)): None if p.is_dir() else p.read_bytes()
        for p in sorted(path.rglob("*"))
    }


def spool_entry(tmp_path: Path, name: str, *, order: bool) -> Path:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    entry = spool / name
    if order:
        (entry / "sub").mkdir(parents=True)
        (entry / "IMG_0001.jpg").write_bytes(b"\xff\xd8one")
        (entry / "sub" / "IMG_0002.jpg").write_bytes(b"\xff\xd8two")
        (entry / "ticket.toml").write_bytes(b"copies = 0\n")
    else:
        entry.write_bytes(b"\xff\xd8 not really a photo " + bytes(range(256)))
    return entry


def put_aside(source: Path, tmp_path: Path) -> Path:
    return quarantine(
        source,
        tmp_path / "quarantine",
        hotfolder="prints",
        job_id=JOB,
        rule="intake.bad_ticket",
        reason="ticket.toml: copies: 0 is out of range",
    )


def check_quarantined(target: Path, content: dict[str, bytes | None]) -> None:
    note = note_of(target)
    assert target.exists()
    assert note.is_file()
    assert size(target.name) <= NAME_MAX - len(REASON_SUFFIX)
    assert size(note.name) <= NAME_MAX
    assert target.name.startswith(f"{JOB}-")
    assert tree(target) == content  # every byte of every file
    text = note.read_text()
    assert "Reason: ticket.toml: copies: 0 is out of range\n" in text
    assert "Rule: intake.bad_ticket\n" in text


@pytest.mark.parametrize(
    ("name", "order", "ending"),
    [
        pytest.param(LONG_FILE, False, "….jp", id="255-byte-file-keeps-its-extension"),
        pytest.param("a" * 251 + ".jpg", False, "….jpg", id="255-byte-ascii-file"),
        pytest.param("😀" * 63 + ".jp", False, "….jp", id="four-byte-characters"),
        pytest.param(LONG_ORDER, True, "…", id="255-byte-order-folder"),
        pytest.param("Dahl", True, "Dahl", id="short-order-unchanged"),
        pytest.param("IMG_0001.jpg", False, "IMG_0001.jpg", id="short-file-unchanged"),
    ],
)
def test_a_long_name_is_shortened_so_that_its_reason_fits(
    tmp_path: Path, name, order, ending
) -> None:
    assert size(name) <= NAME_MAX
    source = spool_entry(tmp_path, name, order=order)
    content = tree(source)
    target = put_aside(source, tmp_path)
    check_quarantined(target, content)
    assert not source.exists()
    assert target.name.endswith(ending)
    stem = target.name.removeprefix(f"{JOB}-").removesuffix(ending)
    assert name.startswith(stem)  # a prefix of the customer's name, in whole characters
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(
        [target.name, note_of(target).name]
    )
    # Run again, as after a crash once everything was done: the same target, nothing moved.
    assert put_aside(source, tmp_path) == target
    check_quarantined(target, content)


@pytest.mark.parametrize(
    ("name", "order"),
    [
        pytest.param("Dahl", True, id="order"),
        pytest.param(LONG_ORDER, True, id="255-byte-order"),
        pytest.param(LONG_FILE, False, id="255-byte-file"),
    ],
)
def test_a_leftover_of_an_interrupted_copy_is_never_moved_into(tmp_path: Path, name, order) -> None:
    source = spool_entry(tmp_path, name, order=order)
    content = tree(source)
    # What a copy across filesystems leaves when labd dies half way: the reason file, a
    # target folder with part of the files, and the source still whole in the spool.
    folder = tmp_path / "quarantine" / "prints"
    leftover = folder / target_name(JOB, name)
    leftover.mkdir(parents=True)
    (leftover / "IMG_0001.jpg").write_bytes(b"\xff\xd8o")  # cut short
    note_of(leftover).write_text("labd job 7 ... (the first attempt)\n")
    left = tree(leftover)

    target = put_aside(source, tmp_path)
    assert target != leftover
    assert target.parent == folder
    check_quarantined(target, content)  # whole, under its own name, with its reason
    assert not source.exists()
    assert tree(leftover) == left  # never moved into (no nesting), nothing of it deleted
    assert not (leftover / source.name).exists()
    assert target.name.endswith("~2")

    # Interrupted again: the next free name once more.
    source = spool_entry(tmp_path, name, order=order)
    again = put_aside(source, tmp_path)
    assert again not in (leftover, target)
    assert again.name.endswith("~3")
    check_quarantined(again, content)
    assert tree(target) == content
    assert tree(leftover) == left
    names = [p.name for p in folder.iterdir()]
    assert len(names) == len(set(names)) == 6  # three entries, each with its reason
    assert all(size(n) <= NAME_MAX for n in names)
