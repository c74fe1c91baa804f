"""The journal's timestamps: the one parser of what :func:`labd.clock.isoformat` writes.

The table pins what the parsers it replaced (``pipeline._epoch``, ``retention._parse``,
``media.parse_ts``) accepted, including a string without an offset, which comes back naive as
it always did; the property test is the round trip isoformat -> parse_timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labd.clock import epoch, isoformat, parse_timestamp

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-01-01T12:00:00.000Z", NOON, id="Z form"),
        pytest.param("2026-01-01T12:00:00.000+00:00", NOON, id="+00:00 form"),
        pytest.param("2026-01-01T12:00:00Z", NOON, id="no milliseconds"),
        pytest.param(
            "2026-01-01T12:00:00.123456Z",
            NOON.replace(microsecond=123456),
            id="microseconds",
        ),
        pytest.param("2026-01-01T13:00:00.000+01:00", NOON, id="other offset, same instant"),
    ],
)
def test_parse_timestamp_gives_aware_utc(text, expected):
    moment = parse_timestamp(text)
    assert moment == expected
    assert moment.tzinfo is UTC
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-01-01T12:00:00.000", datetime(2026, 1, 1, 12, 0), id="no offset"),
        pytest.param("2026-01-01", datetime(2026, 1, 1), id="date only"),
    ],
)
def test_parse_timestamp_without_offset_stays_naive(text, expected):
    # What every replaced parser did (datetime.fromisoformat); the journal never writes one.
    moment = parse_timestamp(text)
    assert moment == expected
    assert moment.tzinfo is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("yesterday", id="garbage"),
        pytest.param("2026-13-01T12:00:00.000Z", id="month 13"),
        pytest.param("2026-01-01T12:00:00.000z", id="lower-case z"),
        pytest.param("2026-01-01T12:00:00.000ZZ", id="two Z"),
        pytest.param("2026-01-01T12:00:00.000Z+00:00", id="Z and offset"),
        pytest.param("2026-01-01Z", id="date with Z"),
    ],
)
def test_parse_timestamp_refuses_with_the_text(text):
    with pytest.raises(ValueError, match="is not a journal timestamp") as raised:
        parse_timestamp(text)
    assert repr(text) in str(raised.value)


def test_epoch_is_seconds_since_1970():
    assert epoch("1970-01-01T00:00:00.000Z") == 0.0
    assert epoch("2026-01-01T12:00:00.000Z") == NOON.timestamp()
    assert epoch("2026-01-01T12:00:00.250+00:00") == NOON.timestamp() + 0.25


def test_epoch_refuses_garbage():
    with pytest.raises(ValueError, match="'soon'"):
        epoch("soon")


_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 12, 31),
        timezones=st.one_of(st.just(UTC), _OFFSETS),
    )
)
def test_round_trip(moment):
    text = isoformat(moment)
    parsed = parse_timestamp(text)
    assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert parsed.tzinfo is UTC
    assert isoformat(parsed) == text
