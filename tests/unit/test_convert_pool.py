"""The daemon's long-lived conversion pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from labd.convert import SharedPool, convert_job
from labd.model import OutputFormat, Product
from tests.imagegen import make_photo, marker_corner

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
