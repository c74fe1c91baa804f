"""Media import throughput: ``labd media import``'s copy against a plain ``cp -r``.

    .venv/bin/python bench/media_import.py [--photos 24] [--repeat 3]

Makes camera-sized JPEGs (24 MP, about 8 MB each), puts them on an ext4 image, mounts it
read only (root only: this needs ``mount``), and imports them into a hot folder with
labd's importer (copy, fsync, SHA-256 of the medium's bytes against the copy's, and
conversion's own check of each photo) and, side by side, with ``cp -r`` (copy only).  The
page cache is dropped before every run (``/proc/sys/vm/drop_caches``), so each run reads
the medium as a first read would.  Prints MB/s and the ratios to cp, for the whole import
and for its copy-and-verify part alone (the photo check taken out); the median of
--repeat interleaved runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


import benchargs

from labd.config import DEFAULT_IGNORE
from labd.intake import importing
from labd.intake.importing import import_medium
from labd.model import HotFolder, OutputFormat, Product
from tests.imagegen import camera_jpegs

PRODUCT = Product(name="p", format=OutputFormat.JPEG, width_mm=152.4, height_mm=101.6, dpi=300)


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def run_labd(medium: Path, hot: Path) -> float:
    drop_caches()
    hf = HotFolder(name="bench", path=hot, product="p", printer="q", stability_seconds=5,
                   ignore=DEFAULT_IGNORE)  # fmt: skip
    start = time.perf_counter()
    report = import_medium(medium, hf, PRODUCT, name="order", ticket="")
    took = time.perf_counter() - start
    assert report.complete, report.unreadable
    shutil.rmtree(hot / str(report.folder))
    return took


def run_copy_only(medium: Path, hot: Path) -> float:
    """labd's importer with conversion's photo check taken out: copy, fsync, verify."""
    names = vars(importing)
    check = names["check_input"]
    names["check_input"] = lambda product, src: None
    try:
        return run_labd(medium, hot)
    finally:
        names["check_input"] = check


def run_cp(medium: Path, hot: Path) -> float:
    drop_caches()
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(medium), str(hot / "order")], check=True)
    took = time.perf_counter() - start
    shutil.rmtree(hot / "order")
    return took


def main() -> None:
    parser = benchargs.parser(__doc__)
    parser.add_argument("--photos", type=int, default=24, help="24 MP photos on the medium")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; medians count")
    args = benchargs.parse(parser)
    if os.geteuid() != 0:
        sys.exit("bench/media_import.py mounts an image: run it as root")
    with tempfile.TemporaryDirectory(prefix="labd-bench-import-") as tmp:
        root = Path(tmp)
        content = root / "content" / "DCIM"
        content.mkdir(parents=True)
        photos = camera_jpegs(content, args.photos)
        total_mb = sum(p.stat().st_size for p in photos) / 1024**2
        image = root / "medium.img"
        size_mb = int(total_mb * 1.3) + 64
        subprocess.run(["mkfs.ext4", "-q", "-d", str(root / "content"), str(image),
                        f"{size_mb}M"], check=True)  # fmt: skip
        medium = root / "medium"
        medium.mkdir()
        hot = root / "hot"
        hot.mkdir()
        subprocess.run(["mount", "-o", "loop,ro", str(image), str(medium)], check=True)
        try:
            labd, copy_only, cp = [], [], []
            for _ in range(args.repeat):
                labd.append(run_labd(medium, hot))
                copy_only.append(run_copy_only(medium, hot))
                cp.append(run_cp(medium, hot))
        finally:
            subprocess.run(["umount", str(medium)], check=True)
    t_labd, t_cp = statistics.median(labd), statistics.median(cp)
    t_copy = statistics.median(copy_only)
    print(f"{args.photos} photos, {total_mb:.0f} MB, medians of {args.repeat} cold-cache runs")
    print(f"labd media import (copy, fsync, SHA-256 verify, photo check): "
          f"{t_labd:.2f} s, {total_mb / t_labd:.0f} MB/s")  # fmt: skip
    print(f"  of which copy, fsync and SHA-256 verify alone:               "
          f"{t_copy:.2f} s, {total_mb / t_copy:.0f} MB/s")  # fmt: skip
    print(f"cp -r (copy only):                                           "
          f"{t_cp:.2f} s, {total_mb / t_cp:.0f} MB/s")  # fmt: skip
    print(f"ratio labd / cp: {t_labd / t_cp:.2f}; copy and verify alone / cp: {t_copy / t_cp:.2f}")


if __name__ == "__main__":
    main()
