"""Conversion throughput: labd against plain Pillow and ImageMagick, on the same inputs.

    .venv/bin/python bench/convert.py [--images 12] [--processes 1,2] [--pages 50] [--repeat 1]
                                      [--grain 4]

Builds 24 MP camera-like JPEGs (quality 95, an Adobe RGB-like profile, every other one
EXIF-rotated, 7.8 MB each with the default grain) in a temporary folder, converts them to
the 10x15 product of config/labd.toml with labd (convert_batch in a process pool: what
`labd convert` runs), with plain Pillow and with ImageMagick, and prints images/s, the
peak RSS of a worker and the ratios.  Then binds a 50-page photobook from print-ready
JPEGs.  Timings exclude starting the worker processes.  With --repeat N every run is made
N times, interleaved, and the median is printed (the machine may be shared); the CPU time
per image, which other work on the machine hardly changes, is printed too.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labd.config import load  # after the path set-up above
from labd.convert import colour, convert_batch, process_pool
from labd.convert.pdf import bind_photobook
from labd.logging import configure as configure_logging
from labd.model import Product
from tests.imagegen import CAMERA_GRAIN, CAMERA_SIZE, rgb_lut_profile
from tests.imagegen import camera_jpegs as make_inputs

ROOT = Path(__file__).resolve().parent.parent
# --- plain Pillow, as a careful user without labd would write it -----------------------------

_SRGB = ImageCms.createProfile("sRGB")


def pillow_one(src: Path, out: Path, size: tuple[int, int]) -> int:
    """open, exif_transpose, ImageOps.fit (LANCZOS resize + crop), profile to sRGB, save."""
    with Image.open(src) as img:
        upright = ImageOps.exif_transpose(img)
        target = size if upright.width >= upright.height else (size[1], size[0])
        printed = ImageOps.fit(upright, target, Image.Resampling.LANCZOS)
        icc = img.info.get("icc_profile")
        if icc:
            converted = ImageCms.profileToProfile(
                printed, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, outputMode="RGB"
            )
            assert converted is not None  # None only with inPlace=True
            printed = converted
        printed.save(
            out,
            quality=92,
            dpi=(300, 300),
            icc_profile=ImageCms.ImageCmsProfile(_SRGB).tobytes(),
        )
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def magick_one(tool: str, src: Path, out: Path, size: tuple[int, int], srgb: Path) -> int:
    """ImageMagick with the -define jpeg:size= hint (DCT scaling); returns its peak RSS.

    The colour conversion comes after the resize, on the print-sized image, as a careful
    user would order it (before the resize it costs ImageMagick about 1.3 s more here).
    """
    w, h = size
    subprocess.run(
        [
            tool,
            "-define",
            f"jpeg:size={w}x{w}",  # decode at the smallest DCT scale that covers the print
            str(src),
            "-auto-orient",
            "-resize",
            f"{w}x{h}^",
            "-gravity",
            "center",
            "-extent",
            f"{w}x{h}",
            "-profile",
            str(srgb),  # embedded profile -> sRGB
            "-strip",
            "-profile",
            str(srgb),
            "-density",
            "300",
            "-quality",
            "92",
            str(out),
        ],
        check=True,
        env={**os.environ, "MAGICK_THREAD_LIMIT": "1"},  # one core per process, as the others
    )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def warm(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker before the clock starts (spawning costs about 0.3 s each)."""
    list(pool.map(time.sleep, [0.3] * workers))


def bench_labd(product: Product, inputs: list[Path], out: Path, workers: int) -> tuple[float, int]:
    with process_pool(workers) as pool:
        warm(pool, workers)
        started = time.perf_counter()
        result = convert_batch(product, inputs, out, pool=pool)
        seconds = time.perf_counter() - started
    assert not result.rejected, result.rejected
    return seconds, result.peak_rss_kib


def bench_pool(
    workers: int, fn: Callable[..., int], jobs: Sequence[tuple[object, ...]]
) -> tuple[float, int]:
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        warm(pool, workers)
        started = time.perf_counter()
        peaks = [f.result() for f in [pool.submit(fn, *job) for job in jobs]]
        return time.perf_counter() - started, max(peaks)


def run_once(
    name: str,
    workers: int,
    product: Product,
    inputs: list[Path],
    out: Path,
    *,
    magick: str | None,
    srgb: Path,
) -> tuple[float, int]:
    """One timed run of ``name`` over ``inputs``: seconds and a worker's peak RSS (KiB)."""
    size = product.pixel_size(landscape=True)
    if name.startswith("labd"):
        return bench_labd(product, inputs, out, workers)
    if name == "plain Pillow":
        jobs: list[tuple[object, ...]] = [
            (s, out / f"{i:04d}.jpg", size) for i, s in enumerate(inputs)
        ]
        return bench_pool(workers, pillow_one, jobs)
    jobs = [(magick, s, out / f"{i:04d}.jpg", size, srgb) for i, s in enumerate(inputs)]
    return bench_pool(workers, magick_one, jobs)


def report(name: str, workers: int, seen: list[tuple[float, int]], cpu: list[float]) -> float:
    """Print one line for ``name``'s runs; return the median rate."""
    rate = statistics.median(r for r, _ in seen)
    peak = max(p for _, p in seen)
    spread = ""
    if len(seen) > 1:
        low, high = min(r for r, _ in seen), max(r for r, _ in seen)
        spread = f"  (median of {len(seen)}: {low:.2f}-{high:.2f})"
    ms = 1000 * statistics.median(cpu)
    print(
        f"{name:26} {workers} proc: {rate:6.2f} images/s  "
        f"peak RSS/worker {peak / 1024:6.1f} MiB  CPU {ms:4.0f} ms/image{spread}"
    )
    return rate


def _children_cpu() -> float:
    """CPU seconds of ended child processes (pool workers, and ImageMagick under them).

    Unlike images/s it hardly moves when other work shares the machine; it includes
    starting the workers (about 0.3 s each).
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def find_magick() -> str | None:
    # The real binary: a wrapper script in front of it would add its own start-up time.
    for name in ("magick", "convert-im6.q16", "convert"):
        if found := shutil.which(name):
            return found
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median counts")
    parser.add_argument(
        "--grain",
        type=int,
        default=CAMERA_GRAIN,
        help=f"grain of the photos (standard deviation, default {CAMERA_GRAIN}; more: bigger)",
    )
    args = parser.parse_args()
    configure_logging(level="WARNING")
    counts = [int(n) for n in args.processes.split(",")]
    product = load(ROOT / "config" / "labd.toml").products["prints-10x15"]
    size = product.pixel_size(landscape=True)
    width, height = CAMERA_SIZE
    print(f"{os.cpu_count()} cores; {args.images} images of {width}x{height} -> {size}")
    with tempfile.TemporaryDirectory(prefix="labd-bench-") as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        started = time.perf_counter()
        # In a worker of its own: Linux carries a process's peak RSS over fork and exec, so
        # big images made here would show up as every worker's peak.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=ctx) as maker:
            inputs = maker.submit(make_inputs, folder / "in", args.images, args.grain).result()
        megabytes = statistics.mean(p.stat().st_size for p in inputs) / 1e6
        print(
            f"inputs made in {time.perf_counter() - started:.1f} s: "
            f"{megabytes:.1f} MB per photo (grain {args.grain})"
        )
        srgb = folder / "srgb.icc"
        srgb.write_bytes(colour.SRGB_ICC)
        printer = replace(product, output_icc=rgb_lut_profile("LUT printer"))
        magick = find_magick()
        rates: dict[tuple[str, int], float] = {}
        for workers in counts:
            runs = ["labd", "labd LUT printer profile", "plain Pillow"]
            if magick:
                runs.append("ImageMagick")
            seen: dict[str, list[tuple[float, int]]] = {name: [] for name in runs}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.repeat):
                for name in runs:
                    out = folder / f"out-{name.split()[0]}-{workers}"
                    out.mkdir(exist_ok=True)
                    product_for = printer if name.startswith("labd LUT") else product
                    before = _children_cpu()
                    seconds, peak = run_once(
                        name, workers, product_for, inputs, out, magick=magick, srgb=srgb
                    )
                    seen[name].append((len(inputs) / seconds, peak))
                    cpu[name].append((_children_cpu() - before) / len(inputs))
            for name in runs:
                rates[(name, workers)] = report(name, workers, seen[name], cpu[name])
        if not magick:
            print("ImageMagick: not installed, skipped")
        print_ratios(rates, counts)
        pages_dir = folder / f"out-labd-{counts[-1]}"
        pages = sorted(pages_dir.glob("*.jpg"))
        book = [pages[n % len(pages)] for n in range(args.pages)]
        best = min(_bind_seconds(product, book, folder / "book.pdf") for _ in range(3))
        print(f"photobook: {args.pages} pages bound at {args.pages / best:.0f} pages/s")


def print_ratios(rates: dict[tuple[str, int], float], counts: list[int]) -> None:
    """labd's rate over the others', per number of processes."""
    for workers in counts:
        labd = rates[("labd", workers)]
        others = [n for n in ("plain Pillow", "ImageMagick") if (n, workers) in rates]
        ratios = ", ".join(f"{labd / rates[(n, workers)]:.2f}x {n}" for n in others)
        lut = rates[("labd LUT printer profile", workers)] / labd
        print(f"{workers} proc: labd is {ratios}; with a LUT printer profile {lut:.2f}x")


def _bind_seconds(product: Product, pages: list[Path], out: Path) -> float:
    started = time.perf_counter()
    bind_photobook(product, pages, out)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
