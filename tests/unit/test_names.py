"""File names: one natural order for every Unicode name; names that are not UTF-8 made safe.

Examples pin the cases a technician sees (superscripts, circled numbers, digits of other
scripts, leading zeros, absurdly long numbers); property tests feed every code point, lone
surrogates included, and every byte string a filesystem allows.
"""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labd.names import has_undecodable, make_names_safe, natural_key, safe_name, shorten

NAME_MAX = 255  # bytes, on ext4, xfs and btrfs
MARKER = "…"

# Every code point: st.characters() with no filter also gives lone surrogates (Cs), which
# str allows and which os.fsdecode() produces for bytes that are not UTF-8.
ANY_TEXT = st.text(st.characters())
# Pieces of names: valid UTF-8, any bytes (mostly not UTF-8), and bytes known to be tricky
# (a Latin-1 é, a lead byte with no continuation, an encoded surrogate, extensions).
_PIECES = st.one_of(
    st.text(min_size=1, max_size=20).map(lambda s: s.encode()),
    st.binary(min_size=1, max_size=8),
    st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xb2\x80", b".jpg", b".", b"~2", b"7"]),
)


def _as_name(pieces: list[bytes]) -> bytes:
    """A name a Linux filesystem takes: no "/" or NUL, at most 255 bytes, not "." or ".."."""
    raw = b"".join(pieces).replace(b"/", b"_").replace(b"\0", b"_")[:NAME_MAX]
    return b"_" + raw[1:] if raw in (b".", b"..") else raw


NAME_BYTES = st.lists(_PIECES, min_size=1, max_size=40).map(_as_name)
# Names as os.listdir() gives them: bytes that are not UTF-8 as surrogate escapes.
FS_NAMES = NAME_BYTES.map(os.fsdecode)


def size(name: str) -> int:
    """Bytes of ``name`` on disk (a surrogate escape is the one byte it stands for)."""
    return len(name.encode("utf-8", "surrogateescape"))


def numbers(name: str) -> tuple[str, ...]:
    """The numbers natural_key reads in ``name``, as digit strings without leading zeros."""
    return tuple(part[2] for part in natural_key(name)[:-1] if part[0] == 0)


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- natural order: examples ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("img2", "img10", id="numbers-by-value"),
        pytest.param("IMG_0009.jpg", "IMG_0010.jpg", id="padded-numbers"),
        pytest.param("img9", "img010", id="leading-zero-makes-no-number-smaller"),
        pytest.param("img007", "img7", id="same-value-tie-broken-by-exact-name"),
        pytest.param("img7.jpg", "img008.jpg", id="leading-zeros-then-value"),
        pytest.param("apple.jpg", "Banana.jpg", id="case-insensitive"),
        pytest.param("A.jpg", "a.jpg", id="case-only-differs-exact-text-decides"),
        pytest.param("foto11.jpg", "foto\u0661\u0662.jpg", id="arabic-indic-12-after-11"),
        pytest.param("foto\u0661\u0662.jpg", "foto13.jpg", id="arabic-indic-12-before-13"),
        pytest.param("page\u0969", "page10", id="devanagari-3-before-10"),
        pytest.param("img\uff19", "img10", id="fullwidth-9-before-10"),
        pytest.param("IMG_\u00b29.jpg", "IMG_\u00b210.jpg", id="superscript-then-numbers"),
        pytest.param("foto10.jpg", "foto\u2460.jpg", id="circled-one-is-text"),
        pytest.param("img", "img1", id="prefix-first"),
        pytest.param("Film", "Film2", id="folder-before-its-numbered-sibling"),
        pytest.param("x" + "9" * 4999, "x1" + "0" * 4999, id="5000-digits-by-value"),
        pytest.param("x" + "1" * 5000, "x" + "1" * 4999 + "2", id="5000-digits-last-digit"),
    ],
)
def test_natural_order_examples(first, second) -> None:
    assert natural_key(first) < natural_key(second)
    assert sorted([second, first], key=natural_key) == [first, second]


@pytest.mark.parametrize(
    ("name", "read"),
    [
        # A superscript two is no digit: IMG_²1 is picture 1, never 21.
        pytest.param("IMG_\u00b21.jpg", ("1",), id="superscript-is-not-a-digit"),
        pytest.param("foto\u2460.jpg", (), id="circled-number-is-not-a-number"),
        pytest.param("foto\u0661\u0662.jpg", ("12",), id="arabic-indic-digits"),
        pytest.param("\u0967\u0966 mixed 1\u0662", ("10", "12"), id="devanagari-and-mixed"),
        pytest.param("IMG_0007.jpg", ("7",), id="leading-zeros"),
        pytest.param("000", ("",), id="zero"),
        pytest.param("x" + "7" * 5000, ("7" * 5000,), id="5000-digit-run"),
        pytest.param("caf\udce9 2.jpg", ("2",), id="undecodable-byte"),
        pytest.param("\ud800\udfff 3", ("3",), id="lone-surrogates"),
    ],
)
def test_natural_key_reads_only_decimal_digits_as_numbers(name, read) -> None:
    assert numbers(name) == read


def test_a_run_longer_than_int_converts_does_not_raise() -> None:
    # int() refuses strings of more than 4300 digits: the key must never call it.
    long = "IMG_" + "1" * 100_000 + ".jpg"
    names = [long, "IMG_2.jpg", "IMG_" + "0" * 100_000 + "3.jpg"]
    assert sorted(names, key=natural_key) == [names[1], names[2], long]


# -- natural order: properties -------------------------------------------------------------


@given(ANY_TEXT)
@example("\udcff")
@example("\ud800")
@example("\u0661" * 5000)
def test_natural_key_takes_any_text(name) -> None:
    key = natural_key(name)
    assert key == natural_key(name)
    assert key[-1][2] == name  # the exact name decides ties


@given(ANY_TEXT, ANY_TEXT)
@example("img007", "img7")
@example("a", "A")
@example("\u00df", "ss")  # casefolds to the same text
def test_keys_compare_and_are_equal_only_for_equal_names(a, b) -> None:
    ka, kb = natural_key(a), natural_key(b)
    assert (ka == kb) == (a == b)
    assert (ka < kb) + (ka == kb) + (ka > kb) == 1  # comparable, never a TypeError


@given(ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_the_order_is_transitive(a, b, c) -> None:
    ka, kb, kc = natural_key(a), natural_key(b), natural_key(c)
    if ka <= kb <= kc:
        assert ka <= kc
    if kc <= kb <= ka:
        assert kc <= ka


@given(st.lists(ANY_TEXT, max_size=30))
def test_sorting_is_one_order_whatever_the_input_order(names) -> None:
    once = sorted(names, key=natural_key)
    assert sorted(once, key=natural_key) == once
    backwards = names[::-1]
    assert sorted(backwards, key=natural_key) == once  # no ties an input order could decide


@given(ANY_TEXT, ANY_TEXT.filter(bool))
@example("img", "1")
@example("0", "0")
@example("\u03c3", "x")
def test_a_name_sorts_before_the_longer_names_it_begins(name, more) -> None:
    assert natural_key(name) < natural_key(name + more)


TEXT_AROUND = st.text(alphabet=string.ascii_letters + "_-. ", max_size=8)
# The zero of some scripts' decimal digits: ASCII, Arabic-Indic, Extended Arabic-Indic,
# Devanagari, Bengali, Thai, fullwidth, mathematical bold.
ZEROS = st.sampled_from([0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0xFF10, 0x1D7CE])


def written(n: int, zero: int) -> str:
    """``n`` in the decimal digits whose zero is the code point ``zero``."""
    return "".join(chr(zero + int(d)) for d in str(n))


AROUND = st.tuples(TEXT_AROUND, TEXT_AROUND)


@given(
    AROUND,
    st.integers(0, 10**40),
    st.integers(0, 10**40),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
def test_ascii_numbers_sort_by_value(around, m, n, pads) -> None:
    (before, after), (pad_m, pad_n) = around, pads
    a = f"{before}{'0' * pad_m}{m}{after}"
    b = f"{before}{'0' * pad_n}{n}{after}"
    if m != n:
        assert (natural_key(a) < natural_key(b)) == (m < n)


@given(AROUND, st.integers(0, 10**20), st.integers(0, 10**20), st.tuples(ZEROS, ZEROS))
def test_numbers_of_any_script_sort_by_value(around, m, n, zeros) -> None:
    (before, after), (zero_m, zero_n) = around, zeros
    a = before + written(m, zero_m) + after
    b = before + written(n, zero_n) + after
    assert numbers(a) == (str(m).lstrip("0"),)
    if m != n:
        assert (natural_key(a) < natural_key(b)) == (m < n)


# -- shorten -------------------------------------------------------------------------------


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f".{ext}" if dot and stem and size(ext) <= 16 else ""


@pytest.mark.parametrize(
    ("name", "max_bytes", "expected"),
    [
        pytest.param("short.jpg", 240, "short.jpg", id="fits"),
        pytest.param("abcdefghij.jpg", 10, "abc….jpg", id="keeps-the-extension"),
        pytest.param("ééééé.jpg", 10, "é….jpg", id="never-half-an-e-acute"),
        pytest.param("abcdefghij", 6, "abc…", id="no-extension"),
        pytest.param("abc.verylongextension-17b", 10, "abc.ver…", id="extension-too-long"),
        pytest.param("abcdefgh.jpeg", 5, "ab…", id="no-room-for-the-extension"),
        pytest.param("abcdefgh.jpeg", 2, "ab", id="no-room-for-the-marker"),
        pytest.param("caf" + "\udce9" * 5 + ".jpg", 11, "caf\udce9….jpg", id="not-utf8"),
    ],
)
def test_shorten_examples(name, max_bytes, expected) -> None:
    result = shorten(name, max_bytes)
    assert result == expected
    assert size(result) <= max_bytes


@given(st.one_of(FS_NAMES, st.text(max_size=300)), st.integers(0, 300))
@example("é" * 200 + "\udcff.jpg", 100)  # a cut through é in a name that is not UTF-8
@example("abcdefgh.jpeg", 3)  # no room for marker and extension
@example("é" * 127 + ".j", 240)
def test_shorten_fits_and_keeps_the_head_and_extension(name, max_bytes) -> None:
    result = shorten(name, max_bytes)
    assert size(result) <= max_bytes
    if size(name) <= max_bytes:
        assert result == name
        return
    ext = extension(name)
    # The extension is kept whenever it fits with the marker; the marker whenever it fits.
    for tail in (MARKER + ext, MARKER, ""):
        if size(tail) <= max_bytes:
            break
    assert result.endswith(tail)
    head = result[: len(result) - len(tail)]
    # A prefix of the name in whole characters: none cut in half (a cut through a character
    # would leave a surrogate escape that is not in the name).
    assert name.startswith(head)
    # Nothing cut that would have fitted: a character takes at most 4 bytes.
    assert size(result) > max_bytes - 4


@given(st.text(max_size=300), st.integers(20, 300))
def test_shorten_of_valid_text_is_valid_utf8(name, max_bytes) -> None:
    shorten(name, max_bytes).encode("utf-8")  # no surrogate, no half character


# -- safe names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"caf\xe9.jpg", "caf\\xe9.jpg", id="latin-1"),
        pytest.param("café.jpg".encode(), "café.jpg", id="utf-8-unchanged"),
        pytest.param(b"\xff\xfe", "\\xff\\xfe", id="only-bad-bytes"),
        pytest.param(b"a\xed\xb2\x80b", "a\\xed\\xb2\\x80b", id="encoded-surrogate"),
        pytest.param(b"\xc3(", "\\xc3(", id="lead-byte-without-continuation"),
    ],
)
def test_safe_name_examples(raw, expected) -> None:
    name = os.fsdecode(raw)
    assert has_undecodable(name) == (not is_utf8(raw))
    assert safe_name(name) == expected


@given(NAME_BYTES)
@example(b"\xe9" * 255)  # a Latin-1 name at the limit: \xNN takes four bytes per byte
def test_safe_name_is_utf8_and_fits(raw) -> None:
    name = os.fsdecode(raw)
    safe = safe_name(name)
    safe.encode("utf-8")  # never raises
    assert not has_undecodable(safe)
    assert size(safe) <= NAME_MAX  # still a name the filesystem takes
    if is_utf8(raw):
        assert safe == name
    else:
        assert has_undecodable(name)


@given(st.text())
def test_safe_name_is_identity_for_valid_names(name) -> None:
    assert not has_undecodable(name)
    assert safe_name(name) == name


# -- make_names_safe on a real folder ------------------------------------------------------


# Names as the kernel has them: bytes paths throughout, so nothing decodes them on the way.


def tree_of(top: bytes) -> dict[bytes, bytes | None]:
    """Every entry under ``top`` (bytes paths relative to it) -> its content, None for dirs."""
    found: dict[bytes, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        inside = dirpath[len(top) + 1 :]
        for d in dirnames:
            found[inside + b"/" + d if inside else d] = None
        for f in filenames:
            found[inside + b"/" + f if inside else f] = read_file(dirpath + b"/" + f)
    return found


def read_file(path: bytes) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def make_file(path: bytes, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)


def make_dir(path: bytes) -> None:
    Path(os.fsdecode(path)).mkdir()  # fsdecode/fsencode round-trip: the exact bytes


def check_made_safe(top: bytes, before: dict[bytes, bytes | None], renamed) -> None:
    after = tree_of(top)
    for path in after:
        path.decode("utf-8")  # every name under the folder is UTF-8 now
        assert all(len(part) <= NAME_MAX for part in path.split(b"/"))
    assert len(after) == len(before)  # nothing lost, nothing merged
    files_before = sorted(c for c in before.values() if c is not None)
    assert sorted(c for c in after.values() if c is not None) == files_before
    undecodable = [p for p in before if has_undecodable(os.fsdecode(p.rsplit(b"/", 1)[-1]))]
    assert len(renamed) == len(undecodable)
    for old, new in renamed:
        assert not has_undecodable(old)
        new.encode("utf-8")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(NAME_BYTES, min_size=1, max_size=6, unique=True),
    NAME_BYTES,
    st.lists(NAME_BYTES, max_size=6, unique=True),
)
def test_make_names_safe_on_a_real_folder(names, sub, inner) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        top = os.fsencode(tmp) + b"/order"
        make_dir(top)
        for n, name in enumerate(names):
            if name != sub:
                make_file(top + b"/" + name, b"%d:" % n + name)
        make_dir(top + b"/" + sub)
        for n, name in enumerate(inner):
            make_file(top + b"/" + sub + b"/" + name, b"inner %d:" % n + name)
        before = tree_of(top)
        renamed = make_names_safe(Path(os.fsdecode(top)))
        check_made_safe(top, before, renamed)


def test_make_names_safe_never_renames_over_an_existing_name(tmp_path: Path) -> None:
    top = os.fsencode(tmp_path)
    make_file(top + b"/a\xff.jpg", b"latin-1")
    make_file(top + b"/a\\xff.jpg", b"already safe")  # what the first one's safe name is
    make_dir(top + b"/d\xe9")
    make_file(top + b"/d\xe9/x\xe9", b"inner")
    before = tree_of(top)
    renamed = make_names_safe(tmp_path)
    check_made_safe(top, before, renamed)
    assert (tmp_path / "a\\xff.jpg").read_bytes() == b"already safe"
    assert (tmp_path / "a\\xff.jpg~2").read_bytes() == b"latin-1"
    assert (tmp_path / "d\\xe9" / "x\\xe9").read_bytes() == b"inner"
    assert make_names_safe(tmp_path) == []  # a second run (after a crash) finds nothing to do


def test_make_names_safe_keeps_a_long_latin1_name_within_the_limit(tmp_path: Path) -> None:
    top = os.fsencode(tmp_path)
    long = b"Gr\xf6\xdfe " * 42 + b".jpg"  # 256 bytes would not do; this is 255
    long = long[: NAME_MAX - 4] + b".jpg"
    make_file(top + b"/" + long, b"photo")
    make_file(top + b"/" + long[:-5] + b"\xe9.jpg", b"another photo")
    before = tree_of(top)
    renamed = make_names_safe(tmp_path)
    check_made_safe(top, before, renamed)
    assert all(new.endswith(".jpg") or ".jpg~" in new for _, new in renamed)
