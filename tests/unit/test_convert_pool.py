"""Conversion pools: the daemon's long-lived one, and the new one of each `labd convert`."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from labd.convert import (
    RULE_TRUNCATED,
    SharedPool,
    convert_batch,
    convert_job,
    fork_is_safe,
    jpegdecode,
    process_pool,
)
from labd.model import OutputFormat, Product
from tests.imagegen import make_photo, make_truncated_jpeg, marker_corner

PRINT_6X4 = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)


def test_shared_pool_is_kept_between_jobs_and_replaced_after_reset(tmp_path: Path) -> None:
    shared = SharedPool(2)
    try:
        pool = shared.get()
        assert shared.get() is pool
        inputs = [
            make_photo(tmp_path / "a.jpg", (400, 600), orientation=6, marker="top-right"),
            make_photo(tmp_path / "b.jpg", (600, 400), marker="bottom-left"),
        ]
        for job in ("one", "two"):
            converted = convert_job(PRINT_6X4, inputs, tmp_path / job, pool=shared.get())
            assert [(c.width, c.height) for c in converted] == [(1800, 1200), (1800, 1200)]
            with Image.open(converted[0].output) as img:
                assert marker_corner(img) == "top-right"
        assert shared.get() is pool
        shared.reset()
        assert shared.get() is not pool
    finally:
        shared.shutdown()


def test_shared_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="workers"):
        SharedPool(0)


# --- a new pool (labd convert): forked warm, or helped by this process while it starts ---------


def _wait_for(event: threading.Event, seconds: float) -> bool:
    """Keeps a pool's only worker busy until ``event`` is set (a Manager's, across processes)."""
    return event.wait(seconds)


def test_this_process_converts_while_the_pool_is_busy_starting(tmp_path: Path) -> None:
    inputs = [make_photo(tmp_path / f"{n}.jpg", (600, 400), marker="top-right") for n in range(5)]
    inputs.insert(2, make_truncated_jpeg(tmp_path / "bad.jpg"))
    (tmp_path / "out").mkdir()
    with multiprocessing.Manager() as manager, process_pool(1) as pool:
        released = manager.Event()
        # The one worker is busy as a starting one would be: nothing of the batch is done.
        blocker = pool.submit(_wait_for, released, 30.0)
        calls: list[bool] = []

        def after_each() -> None:
            calls.append(released.is_set())
            released.set()  # proof enough that this process converted one: free the worker

        result = convert_batch(
            PRINT_6X4, inputs, tmp_path / "out", pool=pool, after_each=after_each,
            help_while_starting=True,
        )  # fmt: skip
        assert blocker.result() is True  # released by this process's first file, not by time
    assert calls[0] is False  # that first file was converted here, the worker still busy
    assert len(calls) == len(inputs)
    assert [c.sources for c in result.converted] == [(0,), (1,), (3,), (4,), (5,)]
    assert [i for i, _ in result.rejected] == [2]
    assert result.rejected[0][1].rule == RULE_TRUNCATED
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "0001.jpg", "0002.jpg", "0004.jpg", "0005.jpg", "0006.jpg",
    ]  # fmt: skip
    assert inputs[2].exists()  # the bad file is reported, not lost
    for converted in result.converted:
        with Image.open(converted.output) as img:
            assert marker_corner(img) == "top-right"


def test_fork_is_not_safe_once_libvips_has_run(tmp_path: Path) -> None:
    """libvips' thread pool state would be inherited by a forked worker, which then waits
    for threads it does not have (seen: a worker hung in vips_threadpool_run)."""
    src = make_photo(tmp_path / "big.jpg", (4800, 3200), noise=0)  # takes libvips' path
    (tmp_path / "out").mkdir()
    convert_batch(PRINT_6X4, [src], tmp_path / "out")
    assert jpegdecode.pipeline_run()
    assert not fork_is_safe()


def test_fork_is_safe_only_without_other_threads() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not fork_is_safe()
    finally:
        stop.set()
        thread.join()
    # A fresh process that has imported the conversion (numpy with it) runs one thread, and
    # libvips has not run there.
    fresh = subprocess.run(
        [sys.executable, "-c", "import labd.convert; print(labd.convert.fork_is_safe())"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert fresh.stdout.strip() == "True"
