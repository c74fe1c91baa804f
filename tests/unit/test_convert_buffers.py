"""The file's bytes and the decoder's pixels kept from one photo to the next
(labd.convert.buffers): lent again only when nothing holds them, never across threads, and
never showing one photo's pixels in the next one's print."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pyvips

from labd.convert import RULE_TRUNCATED, RULE_UNSUPPORTED, buffers, convert_image, turbojpeg, webp
from labd.model import OutputFormat, Product
from tests.imagegen import make_photo, swapped_red_green_profile
from tests.refusals import refused_untouched

MARK = b"\x5a" * 16
PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)


def marked(view: memoryview) -> memoryview:
    view[: len(MARK)] = MARK
    return view


def test_a_buffer_nothing_holds_is_lent_again() -> None:
    kept = buffers.Kept()
    marked(kept.take(1000)).release()
    again = kept.take(600)
    assert len(again) == 600
    assert again[: len(MARK)] == MARK  # the same bytes, not a fresh (zeroed) buffer


def test_a_buffer_still_held_is_never_lent_twice() -> None:
    kept = buffers.Kept()
    first = marked(kept.take(1000))
    second = kept.take(1000)
    assert second[: len(MARK)] == bytes(len(MARK))  # a fresh buffer
    second[:] = bytes(len(second))
    assert first[: len(MARK)] == MARK  # the first holder's bytes are untouched


def test_a_buffer_libvips_still_reads_is_not_lent() -> None:
    """libvips' image made from the pixels holds them until it is gone (a photobook's page
    not yet encoded while the next page is decoded)."""
    kept = buffers.Kept()
    image = pyvips.Image.new_from_memory(marked(kept.take(300)), 10, 10, 3, "uchar")
    assert kept.take(300)[: len(MARK)] == bytes(len(MARK))
    assert image.crop(0, 0, 5, 1).write_to_memory()[:15] == MARK[:15]
    del image
    # The fresh buffer of the second take is the kept one now, and nothing holds it.
    assert kept.take(300)[: len(MARK)] == bytes(len(MARK))


def test_a_larger_need_gets_a_larger_buffer_kept_from_then_on() -> None:
    kept = buffers.Kept()
    marked(kept.take(100)).release()
    bigger = kept.take(200)
    assert bigger[: len(MARK)] == bytes(len(MARK))
    marked(bigger).release()
    del bigger
    assert kept.take(150)[: len(MARK)] == MARK


def test_a_buffer_larger_than_the_largest_kept_is_given_back() -> None:
    kept = buffers.Kept(largest=100)
    marked(kept.take(101)).release()
    assert kept.take(101)[: len(MARK)] == bytes(len(MARK))


def test_each_thread_has_its_own_buffer() -> None:
    kept = buffers.Kept()
    thread = threading.Thread(target=lambda: marked(kept.take(100)).release())
    thread.start()
    thread.join()
    assert kept.take(100)[: len(MARK)] == bytes(len(MARK))


def test_drop_gives_the_buffer_back() -> None:
    kept = buffers.Kept()
    marked(kept.take(100)).release()
    kept.drop()
    assert kept.take(100)[: len(MARK)] == bytes(len(MARK))


def test_a_file_is_read_exactly_even_into_a_bigger_buffer(tmp_path: Path) -> None:
    kept = buffers.Kept()
    big, small, empty = tmp_path / "big", tmp_path / "small", tmp_path / "empty"
    big.write_bytes(b"B" * 5000)
    small.write_bytes(b"small file")
    empty.touch()
    assert bytes(kept.read(big)) == b"B" * 5000
    assert bytes(kept.read(small)) == b"small file"  # nothing of the bigger file after it
    assert bytes(kept.read(empty)) == b""


def test_a_file_longer_than_its_size_says_is_read_whole() -> None:
    """/proc's files say they are empty: as a file that has grown since its size was read."""
    status = buffers.Kept().read(Path("/proc/self/status"))
    assert b"\nPid:" in bytes(status)


def test_a_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        buffers.Kept().read(tmp_path / "gone.jpg")


@pytest.fixture
def fresh_buffers() -> Iterator[None]:
    """The process's kept buffers as a new worker has them: none."""
    buffers.FILES.drop()
    buffers.PIXELS.drop()
    yield
    buffers.FILES.drop()
    buffers.PIXELS.drop()


@pytest.mark.usefixtures("fresh_buffers")
@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_a_print_made_after_a_bigger_photo_shows_nothing_of_it(
    tmp_path: Path, out_dir: Path, suffix: str
) -> None:
    """Every conversion reads and decodes into the same kept buffers, and zeroes what it
    used when it is over: the second photo's print is the one it makes in a new worker, to
    the byte, and the buffers hold nothing of either photo afterwards."""
    library = {".jpg": turbojpeg, ".webp": webp}[suffix]
    if not library.available():
        pytest.skip(f"{library.LIBRARY} is not installed")
    # 2:1, cropped to 3:2: decoded into more pixels than the 3:2 photo after it.
    big = make_photo(tmp_path / f"big{suffix}", (6000, 3000), marker="bottom-right", noise=8)
    small = make_photo(tmp_path / f"small{suffix}", (3600, 2400), noise=2)
    # Buffers big enough for both photos (the JPEG decoded at 4/8: 3000x1500).
    sizes = {buffers.FILES: big.stat().st_size + 1, buffers.PIXELS: 3 * 3000 * 1500}
    with used_and_wiped(sizes):
        alone = convert_image(PRINT_6X4, small, out_dir / "alone.jpg").output.read_bytes()
        convert_image(PRINT_6X4, big, out_dir / "big.jpg")
        after = convert_image(PRINT_6X4, small, out_dir / "after.jpg").output.read_bytes()
    assert after == alone


def test_wipe_zeroes_what_was_lent_whoever_holds_it() -> None:
    kept = buffers.Kept()
    first = marked(kept.take(3000))
    first[-len(MARK) :] = MARK
    kept.wipe()
    assert first.tobytes() == bytes(3000)


@pytest.mark.usefixtures("fresh_buffers")
def test_a_photo_refused_after_its_decode_leaves_nothing_in_the_buffers(
    tmp_path: Path, out_dir: Path
) -> None:
    """A JPEG with a damaged colour profile: read and decoded into the kept buffers by
    libjpeg-turbo, then refused for its profile; the buffers are zeroed all the same."""
    icc = bytearray(swapped_red_green_profile())
    icc[128:] = bytes(len(icc) - 128)  # the header kept, the tag table zeroed
    src = make_photo(tmp_path / "IMG_0001.jpg", (3600, 2400), icc_profile=bytes(icc))
    sizes = {buffers.FILES: src.stat().st_size + 1, buffers.PIXELS: 3 * 1800 * 1200}
    with used_and_wiped(sizes):
        with refused_untouched(out_dir, src) as caught:
            convert_image(PRINT_6X4, src, out_dir / "0001.jpg")
        assert caught.value.rule == RULE_UNSUPPORTED
        # Its traceback holds the conversion's frames, and the buffers with them, as
        # long as the error is kept (in cycles the collector ends): the daemon's is gone
        # once the job is marked.
        del caught
        gc.collect()


@pytest.mark.usefixtures("fresh_buffers")
@pytest.mark.parametrize("second", ["truncated.jpg", "photo.png"])
def test_a_photo_pillow_decodes_whole_gives_the_kept_buffers_back(
    tmp_path: Path, out_dir: Path, second: str
) -> None:
    """Pillow holds the whole photo (a PNG; a JPEG libjpeg-turbo gave up on, which Pillow
    then judges): the buffers a JPEG left are given back first, not held beside it."""
    first = make_photo(tmp_path / "first.jpg", (3600, 2400))
    convert_image(PRINT_6X4, first, tmp_path / "first-print.jpg")
    with buffers.FILES.take(1) as files, buffers.PIXELS.take(1) as pixels:
        kept = [weakref.ref(files.obj), weakref.ref(pixels.obj)]
    src = make_photo(tmp_path / second, (3600, 2400))
    if second == "truncated.jpg":
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 2])
        with refused_untouched(out_dir, src) as caught:
            convert_image(PRINT_6X4, src, out_dir / "2.jpg")
        assert caught.value.rule == RULE_TRUNCATED
    else:
        convert_image(PRINT_6X4, src, out_dir / "2.jpg")
    assert [ref() for ref in kept] == [None, None]


@contextmanager
def used_and_wiped(sizes: dict[buffers.Kept, int]) -> Iterator[None]:
    """The kept buffers, taken at ``sizes`` before the block, are the same after it (the
    block's conversions took them, nothing held them, they were not replaced), and hold
    nothing but zeros."""
    kept = {}
    for buffer, size in sizes.items():
        with buffer.take(size) as view:
            kept[buffer] = id(view.obj)
    yield
    for buffer, size in sizes.items():
        with buffer.take(size) as view:
            assert id(view.obj) == kept[buffer]
            assert view.tobytes() == bytes(size)


def test_a_forked_process_writes_its_own_copy() -> None:
    """Conversion workers are forked: a buffer kept before the fork is theirs to change,
    not the parent's (anonymous mappings are shared unless made private)."""
    kept = buffers.Kept()
    marked(kept.take(100)).release()
    pid = os.fork()
    if pid == 0:  # the child: overwrite the kept buffer, as its next decode would
        kept.take(100)[:] = bytes(100)
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert kept.take(100)[: len(MARK)] == MARK
