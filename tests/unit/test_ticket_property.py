"""Job tickets from hostile hands: any bytes as ticket.toml give a Ticket or a clear refusal.

read_ticket may raise nothing but InputRejected (rule ``intake.bad_ticket``) with a reason,
and it never changes the order folder: a bad ticket loses nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labd.errors import InputRejected
from labd.intake.ticket import MAX_COPIES, RULE, TICKET_NAME, Ticket, read_ticket

FILES = ["IMG_0001.jpg", "sub/IMG_0002.jpg"]
PHOTOS = {"IMG_0001.jpg": b"\xff\xd8first photo", "sub/IMG_0002.jpg": b"\xff\xd8second photo"}

# -- TOML-ish text: the ticket's own keys and values, right and wrong, and TOML's syntax --

KEYS = st.sampled_from(
    [
        "order", "copies", "copies_per_file", "media", "kind", "identifier", "id_kind",
        "disposition", '"IMG_0001.jpg"', '"sub/IMG_0002.jpg"', '"nope.jpg"', "copys", "a.b",
        '"\\ud800"', "''", '""',
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["0", "1", "99", "100", "-1", "0x10", "1_000", "+inf", "nan", "1e999"]),
    st.sampled_from(["true", "false", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z"]),
    st.sampled_from(['"usb"', '"dvd"', '"floppy"', '"serial"', '"return"', '"destroy"', '""']),
    st.text(max_size=70).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.text(max_size=10).map(lambda s: f"'{s}'"),
    st.integers(1, 6000).map(lambda n: "1" * n),  # more digits than int() converts
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: "[" + ", ".join(v) + "]"),
        st.lists(st.tuples(KEYS, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=12,
)
LINES = st.one_of(
    st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["[copies_per_file]", "[[media]]", "[media]", "[order]", "[[copies]]"]),
    st.sampled_from(["", "# a comment", "=", "[", '"', "order =", "a = 1 2", "\t", "\r"]),
    st.integers(1, 3000).map(lambda n: "x = " + "[" * n),  # nested deeper than the stack
    st.text(max_size=30),
)
TOML_TEXT = st.lists(LINES, max_size=12).map("\n".join)
# The text as a customer's editor may save it: UTF-8, or a legacy encoding, or cut short.
TICKET_BYTES = st.one_of(
    st.binary(max_size=2000),
    TOML_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    TOML_TEXT.map(lambda t: t.encode("latin-1", "replace")),
    st.tuples(TOML_TEXT, st.binary(max_size=8)).map(
        lambda tb: tb[0].encode("utf-8", "replace") + tb[1]
    ),
)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` -> its bytes (None for folders)."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def check(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        order = Path(tmp) / "order"
        (order / "sub").mkdir(parents=True)
        for name, data in PHOTOS.items():
            (order / name).write_bytes(data)
        (order / TICKET_NAME).write_bytes(raw)
        before = snapshot(order)
        refused: InputRejected | None = None
        try:
            ticket = read_ticket(order, FILES)
        except InputRejected as e:
            refused = e
        if refused is not None:
            assert refused.rule == RULE
            assert refused.reason.strip()
            assert refused.reason.startswith(TICKET_NAME)
            assert str(refused) == refused.reason
        else:
            assert isinstance(ticket, Ticket)  # a ticket.toml was there: never None
            assert ticket.order is None or 0 < len(ticket.order) <= 64
            assert ticket.copies is None or 1 <= ticket.copies <= MAX_COPIES
            assert set(ticket.copies_per_file) <= set(FILES)
            assert all(1 <= c <= MAX_COPIES for c in ticket.copies_per_file.values())
        # Bad input loses nothing: the photos and the ticket itself are as they were.
        assert snapshot(order) == before


@settings(max_examples=200, deadline=None)
@given(TICKET_BYTES)
@example(b"\xff\xfe")  # not UTF-8: UTF-16's byte order mark
@example(b'order = "caf\xe9"')  # Latin-1
@example(b'order = "\xc3"')  # a UTF-8 sequence cut short
@example(b"copies = " + b"1" * 5000)  # more digits than Python converts to int
@example(b"x = " + b"[" * 100_000)  # nested deeper than the stack
@example(b"x = " + b"{a = " * 100_000)
@example(b'order = "2026-1"\ncopies = 2\n[copies_per_file]\n"IMG_0001.jpg" = 3\n')
def test_any_bytes_give_a_ticket_or_a_clear_refusal(raw) -> None:
    check(raw)


@settings(max_examples=200, deadline=None)
@given(TOML_TEXT)
def test_any_toml_ish_text_gives_a_ticket_or_a_clear_refusal(text) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(
            b"\xff\xfeo\x00",
            "ticket.toml is not UTF-8 text (byte 1: invalid start byte); save it as UTF-8",
            id="utf-16",
        ),
        pytest.param(
            b'order = "caf\xe9"',
            "ticket.toml is not UTF-8 text (byte 13: invalid continuation byte); save it as UTF-8",
            id="latin-1",
        ),
        pytest.param(
            b"copies = " + b"1" * 5000,
            "ticket.toml cannot be read: Exceeds the limit (4300 digits)",
            id="5000-digit-number",
        ),
        pytest.param(
            b"x = " + b"[" * 100_000,
            "ticket.toml cannot be read: arrays or tables nested too deeply",
            id="nested-arrays",
        ),
        pytest.param(
            b"x = " + b"{a = " * 100_000,
            "ticket.toml cannot be read: arrays or tables nested too deeply",
            id="nested-inline-tables",
        ),
    ],
)
def test_unreadable_tickets_are_refused_with_a_clear_reason(tmp_path: Path, raw, reason) -> None:
    (tmp_path / "IMG_0001.jpg").write_bytes(PHOTOS["IMG_0001.jpg"])
    (tmp_path / TICKET_NAME).write_bytes(raw)
    with pytest.raises(InputRejected) as info:
        read_ticket(tmp_path, FILES)
    assert info.value.reason.startswith(reason)
    assert info.value.rule == RULE
    assert (tmp_path / TICKET_NAME).read_bytes() == raw  # nothing lost
    assert (tmp_path / "IMG_0001.jpg").read_bytes() == PHOTOS["IMG_0001.jpg"]
