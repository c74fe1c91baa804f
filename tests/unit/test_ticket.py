"""Job tickets: what a good one says; every bad one refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from labd.errors import InputRejected
from labd.intake.ticket import RULE, TICKET_NAME, TicketMedia, read_ticket
from labd.media.model import Disposition, IdKind, MediaKind

FILES = ["IMG_0001.jpg", "sub/IMG_0002.jpg"]


def ticket(tmp_path: Path, text: str) -> Path:
    (tmp_path / TICKET_NAME).write_text(text)
    return tmp_path


def test_no_ticket(tmp_path: Path) -> None:
    assert read_ticket(tmp_path, FILES) is None


def test_a_full_ticket(tmp_path: Path) -> None:
    t = read_ticket(ticket(tmp_path, """
order = "2026-1042"
copies = 2
[copies_per_file]
"sub/IMG_0002.jpg" = 5
[[media]]
kind = "usb"
identifier = "4C530001230517110512"
id_kind = "serial"
[[media]]
kind = "dvd"
identifier = "T-77"
disposition = "return"
"""), FILES)  # fmt: skip
    assert t is not None
    assert t.order == "2026-1042"
    assert t.copies_of("IMG_0001.jpg") == 2
    assert t.copies_of("sub/IMG_0002.jpg") == 5
    assert t.media == (
        TicketMedia(MediaKind.USB, "4C530001230517110512", IdKind.SERIAL, None),
        TicketMedia(MediaKind.DVD, "T-77", IdKind.TAG, Disposition.RETURN),
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param('order = "x"\ncopys = 2', "ticket.toml: copys: unknown setting", id="typo"),
        pytest.param("copies = 0", "ticket.toml: copies: 0 is out of range", id="zero-copies"),
        pytest.param('copies = "two"', "ticket.toml: copies: expected a whole number", id="type"),
        pytest.param(
            '[copies_per_file]\n"nope.jpg" = 2',
            "copies_per_file.nope.jpg: no such file",
            id="unknown-file",
        ),
        pytest.param(
            '[[media]]\nkind = "floppy"\nidentifier = "x"',
            "media[0].kind: 'floppy' is not one of",
            id="media-kind",
        ),
        pytest.param('[[media]]\nkind = "usb"', "media[0].identifier: missing", id="media-id"),
        pytest.param('order = "x', "ticket.toml cannot be read", id="toml-syntax"),
        pytest.param(f'order = "{"x" * 65}"', "order: at most 64 characters", id="long-order"),
    ],
)
def test_bad_tickets_are_refused_with_a_reason(tmp_path: Path, text: str, reason: str) -> None:
    folder = ticket(tmp_path, text)
    with pytest.raises(InputRejected) as info:
        read_ticket(folder, FILES)
    assert reason in info.value.reason
    assert info.value.rule == RULE
    assert (folder / TICKET_NAME).read_text() == text  # the ticket itself is kept as it was


def test_every_mistake_is_named_with_its_key_and_line_in_the_tickets_order(
    tmp_path: Path,
) -> None:
    text = (
        '[[media]]\nkind = "floppy"\n'  # lines 1-2: a kind that is no kind, no identifier
        "[[media]]\n"
        'kind = "usb"\nidentifier = "SN-1"\ncolour = "red"\n'  # line 6: not a media key
        "[copies_per_file]\n"
        '"IMG_0001.jpg" = 0\n'  # line 8
    )
    folder = ticket(tmp_path, text)
    with pytest.raises(InputRejected) as info:
        read_ticket(folder, FILES)
    assert info.value.reason == (
        "ticket.toml has 4 mistakes: "
        "[1] media[0].identifier: missing; this setting is required (line 1) "
        "[2] media[0].kind: 'floppy' is not one of: usb, sd, hdd, ssd, cd, dvd, bd (line 2) "
        "[3] media[1].colour: unknown setting; this table takes: disposition, id_kind, "
        "identifier, kind (line 6) "
        "[4] copies_per_file.IMG_0001.jpg: 0 is out of range; expected 1 to 99 (line 8)"
    )
    assert info.value.rule == RULE
    assert (folder / TICKET_NAME).read_text() == text  # the ticket itself is kept as it was


def test_a_single_mistake_reads_as_before_with_its_line(tmp_path: Path) -> None:
    folder = ticket(tmp_path, 'order = "A-1"\n\ncopies = 0\n')
    with pytest.raises(InputRejected) as info:
        read_ticket(folder, FILES)
    assert info.value.reason == "ticket.toml: copies: 0 is out of range; expected 1 to 99 (line 3)"
