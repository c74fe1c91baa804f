"""Conversion speed: labd against the limit route, plain Pillow and ImageMagick, same inputs.

    .venv/bin/python bench/convert.py [--images 24] [--processes 1,2] [--repeat 3]
        [--grain 4] [--products prints-10x15,prints-13x18,enlargement-20x30] [--pages 50]
        [--parts 1,2,3] [--no-peers] [--verbose]     (--parts 4, 5 and 6 when asked)

Builds 24 MP camera-like JPEGs in a temporary folder (quality 95, 7.8 MB each with the
default grain; sRGB and an Adobe RGB-like profile by pairs, every other one EXIF-turned),
then measures, with the products of config/labd.toml:

1. Throughput, 10x15 product, each route in a pool of N processes (images/s, CPU per
   image, a worker's peak RSS, the median of --repeat interleaved runs):
   - labd: convert_batch in its process pool, what `labd convert` and the daemon run; also
     to a printer's lookup-table profile;
   - the limit: decode at the smallest DCT scale M/8 that keeps the print's pixels
     (libjpeg-turbo, labd.convert.turbojpeg), crop and Lanczos-3 resize (libvips), turn,
     encode (libjpeg-turbo in libvips), no colour work and nothing else;
   - plain Pillow: open, exif_transpose, ImageOps.fit with LANCZOS, profile to sRGB, save;
   - ImageMagick at the settings its documentation gives for speed: `-define jpeg:size=`
     (DCT scaling on load) and `-thumbnail` (resize that drops what a print does not need),
     its own thread count; the colour conversion after the resize.
2. Per product, on one core (best of --repeat per photo; each route in a worker process of
   its own, called in turn): labd's CPU per image against the limit route's, the ratio
   (issue 19's goal: at most 1.15), the stage costs (decode at M/8, resize, colour,
   encode), and the peak resident memory of a conversion worker of its own (issue 19's
   goal: under 100 MB, 95.4 MiB).
3. `labd convert` start-up: the command run on the photos with --jobs N (the largest of
   --processes), against the same conversion in a pool already started; the difference
   is what the command spends starting, and its log tells when the first file began.
4. Colour engines side by side (not run unless asked: --parts 4): the colour conversion
   alone on the same decoded photo, labd's tables (with the processor's vector kernel,
   and in portable C) against littlecms inside libvips (labd's route before them),
   littlecms' 8-bit transform built once, Pillow's LittleCMS and Color3DLUT,
   nanoseconds per pixel.
5. Other formats (not run unless asked: --parts 5): one photo of each, 24 MP (a phone's
   12 MP for HEIF), converted to the 10x15 by labd in a worker of its own and by plain
   Pillow in a process of its own: seconds and the process's peak resident memory, and
   Pillow's memory over labd's.  WebP is decoded at the print's size by libwebp
   (labd.convert.webp); PNG, TIFF and HEIF whole by Pillow on both sides.
6. Buffers kept (not run unless asked: --parts 6): labd's conversion to a printer's
   profile, per product, in two workers called in turn, one keeping the file's and the
   decoder's buffers from photo to photo (labd.convert.buffers), one with fresh buffers
   for each photo: mean and median CPU per image, and what keeping saves.

Timings in 1 and 2 exclude starting the worker processes (CPU per image has the CPU of
starting a pool subtracted).  The machine may be shared: CPU per image moves less than
images/s when other work runs.
"""

from __future__ import annotations

import functools
import io
import json
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pyvips
from PIL import Image, ImageCms, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchargs

from labd.config import load  # after the path set-up above
from labd.convert import (
    buffers,
    clib,
    colour,
    convert_batch,
    convert_image,
    jpegdecode,
    littlecms,
    process_pool,
    tables,
    turbojpeg,
)
from labd.convert import image as labd_image
from labd.convert.job import peak_rss
from labd.convert.pdf import bind_photobook
from labd.model import Fit, Product, RenderingIntent

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = "prints-10x15,prints-13x18,enlargement-20x30"
MAGICK_SETTINGS = "-define jpeg:size=WxW -auto-orient -thumbnail WxH^ -extent, default threads"

# --- plain Pillow, as a careful user without labd would write it -----------------------------

_SRGB = ImageCms.createProfile("sRGB")


def pillow_one(src: Path, out: Path, size: tuple[int, int]) -> int:
    """open, exif_transpose, ImageOps.fit (LANCZOS resize + crop), profile to sRGB, save."""
    if src.suffix == ".heic":
        import pillow_heif  # noqa: PLC0415  (as a user converting phone photos would)

        pillow_heif.register_heif_opener()
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
    return peak_rss()


def magick_one(tool: str, src: Path, out: Path, size: tuple[int, int], srgb: Path) -> int:
    """ImageMagick at its documented fast settings (MAGICK_SETTINGS); returns its peak RSS.

    `-define jpeg:size` lets libjpeg decode at the smallest 1/N scale that keeps that size
    (the long side both ways: the photo may be turned); `-thumbnail` is `-resize` made for
    shrinking a lot.  The colour conversion comes after the resize, on the print-sized
    image, as a careful user would order it.
    """
    w, h = size
    subprocess.run(
        [
            tool,
            "-define",
            f"jpeg:size={w}x{w}",
            str(src),
            "-auto-orient",
            "-thumbnail",
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
    )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


# --- the limit: decode at M/8, crop and resize, turn, encode; no colour work ------------------

_ORIENTATION = 0x0112
_ROTATE = {3: "d180", 6: "d90", 8: "d270"}  # EXIF orientation -> libvips' turn to upright


@dataclass
class Stages:
    """CPU seconds of one limit-route conversion, step by step."""

    decode: float = 0.0
    resize: float = 0.0
    encode: float = 0.0

    @property
    def total(self) -> float:
        return self.decode + self.resize + self.encode


def limit_one(src: Path, out: Path, product: Product) -> int:
    """The limit route for one photo (see the module docstring); returns the peak RSS."""
    limit_route(src, out, product, Stages())
    return peak_rss()


def _scaled_decode(
    data: bytes | memoryview, product: Product, *, kept: bool = False
) -> tuple[clib.Writable, int, int, Geometry]:
    """``data`` decoded at the smallest M/8 that keeps the print's pixels (into labd's kept
    buffer if ``kept``), and the print's geometry in the stored orientation."""
    # The header only: size and EXIF orientation (the EXIF segment is at most 64 KiB).
    with Image.open(io.BytesIO(bytes(data[:_HEADER]))) as img:
        orientation = img.getexif().get(_ORIENTATION, 1)
        width, height = img.size
    turned = orientation in (5, 6, 7, 8)
    shown = (height, width) if turned else (width, height)
    area = product.pixel_size(landscape=shown[0] >= shown[1])
    inner = (area[0] - 2 * product.border_pixels, area[1] - 2 * product.border_pixels)
    tw, th = (inner[1], inner[0]) if turned else inner  # in the stored orientation
    cover = product.fit is Fit.FILL
    scale = max(tw / width, th / height) if cover else min(tw / width, th / height)
    need = (math.ceil(width * scale - 1e-9), math.ceil(height * scale - 1e-9))
    eighths = jpegdecode.scale_for((width, height), need)
    into = buffers.PIXELS.take if kept else bytearray
    pixels, dw, dh = turbojpeg.decode(data, "RGB", eighths, into=into)
    return pixels, dw, dh, Geometry(orientation, area, (tw, th), cover)


_HEADER = 256 << 10


@dataclass(frozen=True)
class Geometry:
    """Where the decoded photo goes: its EXIF orientation, the print's size, the picture's
    size in the stored orientation, and whether it fills the picture (else fits)."""

    orientation: int
    area: tuple[int, int]
    target: tuple[int, int]
    cover: bool


def limit_route(
    src: Path, out: Path, product: Product, stages: Stages, *, kept: bool = False
) -> None:
    """Decode at the smallest M/8 that keeps the print's pixels, resize, turn, encode.
    ``kept``: read and decode into the buffers labd keeps from one photo to the next
    (labd.convert.buffers), not fresh ones as a plain program would."""
    t0 = time.process_time()
    data = buffers.FILES.read(src) if kept else src.read_bytes()
    pixels, dw, dh, geometry = _scaled_decode(data, product, kept=kept)
    orientation, area, cover = geometry.orientation, geometry.area, geometry.cover
    tw, th = geometry.target
    t1 = time.process_time()
    image = pyvips.Image.new_from_memory(pixels, dw, dh, 3, "uchar")
    if cover:  # the centre of the aspect ratio of the print, then exactly the print's size
        s = max(tw / dw, th / dh)
        cw, ch = min(dw, round(tw / s)), min(dh, round(th / s))
        image = image.crop((dw - cw) // 2, (dh - ch) // 2, cw, ch)
    else:
        s = min(tw / dw, th / dh)
        tw, th = min(tw, round(dw * s)), min(th, round(dh * s))
    image = image.resize(tw / image.width, vscale=th / image.height, kernel="lanczos3")
    if (image.width, image.height) != (tw, th):
        image = image.gravity("centre", tw, th, extend="copy")
    if orientation in _ROTATE:
        image = image.rot(_ROTATE[orientation])
    if product.border_pixels or not cover:
        image = image.gravity("centre", area[0], area[1], extend="white")
    resized = image.copy_memory()  # the pipeline runs here, so that encoding is timed alone
    t2 = time.process_time()
    out.write_bytes(resized.jpegsave_buffer(Q=product.jpeg_quality, subsample_mode="on"))
    t3 = time.process_time()
    stages.decode += t1 - t0
    stages.resize += t2 - t1
    stages.encode += t3 - t2


# --- pools ---------------------------------------------------------------------------------


def warm(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker before the clock starts (spawning costs about 0.3 s each)."""
    list(pool.map(time.sleep, [0.3] * workers))


@contextmanager
def own_worker(
    initializer: Callable[[], None] = benchargs.quiet,
) -> Iterator[ProcessPoolExecutor]:
    """One worker process of its own, spawned (nothing of this process's memory in it), its
    log quiet (or set up by ``initializer``), started before the clock starts."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn, initializer=initializer) as pool:
        warm(pool, 1)
        yield pool


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


@dataclass(frozen=True)
class Setup:
    """What every run shares: the inputs, the products, ImageMagick and the sRGB file."""

    inputs: list[Path]
    product: Product
    printer: Product
    magick: str | None
    srgb: Path


LABD = "labd, sRGB"
LABD_LUT = "labd, LUT printer profile"
LIMIT = "limit (M/8, no colour)"
PILLOW = "plain Pillow"
MAGICK = "ImageMagick"


def run_once(name: str, workers: int, setup: Setup, out: Path) -> tuple[float, int]:
    """One timed run of ``name`` over the inputs: seconds and a worker's peak RSS (KiB)."""
    size = setup.product.pixel_size(landscape=True)
    outs = [out / f"{i:04d}.jpg" for i in range(len(setup.inputs))]
    if name == LABD:
        return bench_labd(setup.product, setup.inputs, out, workers)
    if name == LABD_LUT:
        return bench_labd(setup.printer, setup.inputs, out, workers)
    jobs: list[tuple[object, ...]]
    if name == LIMIT:
        jobs = [(s, o, setup.product) for s, o in zip(setup.inputs, outs, strict=True)]
        return bench_pool(workers, limit_one, jobs)
    if name == PILLOW:
        jobs = [(s, o, size) for s, o in zip(setup.inputs, outs, strict=True)]
        return bench_pool(workers, pillow_one, jobs)
    return bench_pool(
        workers,
        magick_one,
        [(setup.magick, s, o, size, setup.srgb) for s, o in zip(setup.inputs, outs, strict=True)],
    )


def _children_cpu() -> float:
    """CPU seconds of ended child processes (pool workers, and ImageMagick under them).

    Unlike images/s it hardly moves when other work shares the machine; it includes
    starting the workers (see _starting_cpu).
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _starting_cpu(workers: int) -> float:
    """CPU seconds of starting and stopping a pool of ``workers`` that converts nothing."""
    seen = []
    for _ in range(3):
        before = _children_cpu()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            warm(pool, workers)
        seen.append(_children_cpu() - before)
    return statistics.median(seen)


def throughput(setup: Setup, counts: list[int], repeat: int, folder: Path, *, peers: bool) -> None:
    """Part 1: every route in pools of each of ``counts`` processes; lines and ratios."""
    runs = [LABD, LABD_LUT, LIMIT]
    if peers:
        runs += [PILLOW, MAGICK] if setup.magick else [PILLOW]
    print(f"\n1. throughput, {setup.product.name}, pools of {'/'.join(map(str, counts))}")
    if peers:
        print(f"   ImageMagick: {setup.magick or 'not installed, skipped'} ({MAGICK_SETTINGS})")
    for workers in counts:
        rate: dict[str, float] = {}
        cpu: dict[str, float] = {}
        seen: dict[str, list[tuple[float, int, float]]] = {name: [] for name in runs}
        starting = _starting_cpu(workers)
        for _ in range(repeat):
            for name in runs:
                out = folder / f"out-{runs.index(name)}-{workers}"
                out.mkdir(exist_ok=True)
                before = _children_cpu()
                seconds, peak = run_once(name, workers, setup, out)
                per_image = (_children_cpu() - before - starting) / len(setup.inputs)
                seen[name].append((len(setup.inputs) / seconds, peak, per_image))
        for name in runs:
            rate[name] = statistics.median(r for r, _, _ in seen[name])
            cpu[name] = statistics.median(c for _, _, c in seen[name])
            peak = max(p for _, p, _ in seen[name])
            low, high = min(r for r, _, _ in seen[name]), max(r for r, _, _ in seen[name])
            print(
                f"   {name:26} {workers} proc: {rate[name]:6.2f} images/s ({low:.2f}-{high:.2f})"
                f"  CPU {1000 * cpu[name]:4.0f} ms/image  peak RSS/worker {peak / 1024:5.1f} MiB"
            )
        faster = ", ".join(
            f"{rate[LABD] / rate[n]:.2f}x {n}" for n in (PILLOW, MAGICK) if n in rate
        )
        if faster:
            print(f"   {workers} proc: labd is {faster}")
        print(
            f"   {workers} proc: labd's CPU per image / the limit's: "
            f"{cpu[LABD] / cpu[LIMIT]:.2f} (sRGB), {cpu[LABD_LUT] / cpu[LIMIT]:.2f} (LUT printer)"
        )


# --- part 2: per product, stage costs ----------------------------------------------------------


def per_product(setup: Setup, names: list[str], repeat: int, folder: Path) -> None:
    """Part 2: labd against the limit, one core, per product; stage costs of the limit.

    Each route runs in a process of its own, one call of each in turn: in one process,
    each would find the memory the other has just freed, and the order would decide who
    pays for fresh pages."""
    config = load(ROOT / "config" / "labd.toml")
    distinct = setup.inputs[:4]  # camera_jpegs: the rest are copies
    print(f"\n2. one core, CPU ms per image (best of {repeat} per photo, mean over 4 photos)")
    print(
        "   (limit: the limit route as a plain program runs it, fresh buffers for each photo;"
        "\n   kept: the same, reading and decoding into the buffers labd keeps for the next)"
    )
    print("   (labd/limit: best runs' ratio, and in brackets the median runs')")
    print(
        f"   {'product':20} {'photo':10} {'decode':>6} {'resize':>6} {'colour':>6} "
        f"{'encode':>6} {'limit':>6} {'kept':>6} {'labd':>6} {'labd/limit':>13} "
        f"{'labd/kept':>9} {'peak MiB':>8}"
    )
    with own_worker() as limit_pool, own_worker() as kept_pool, own_worker() as labd_pool:
        pools = (limit_pool, kept_pool, labd_pool)
        for name in names:
            for variant in ("sRGB", "LUT"):
                product = config.products[name]
                if variant == "LUT":
                    product = replace(product, output_icc=setup.printer.output_icc)
                for kind, photos in (("sRGB", distinct[2:]), ("Adobe RGB", distinct[:2])):
                    _product_line(
                        product, variant, kind, photos, pools=pools, repeat=repeat, folder=folder
                    )


def limit_timed(src: Path, out: Path, product: Product, *, kept: bool = False) -> Stages:
    """The limit route for one photo, its CPU seconds by stage (in a worker of its own)."""
    stages = Stages()
    limit_route(src, out, product, stages, kept=kept)
    return stages


def labd_timed(product: Product, src: Path, out: Path) -> float:
    """labd's conversion of one photo, its CPU seconds (in a worker of its own)."""
    started = time.process_time()
    convert_image(product, src, out)
    return time.process_time() - started


def _product_line(
    product: Product,
    variant: str,
    kind: str,
    photos: list[Path],
    *,
    pools: tuple[ProcessPoolExecutor, ...],
    repeat: int,
    folder: Path,
) -> None:
    limit_pool, kept_pool, labd_pool = pools
    stages: list[Stages] = []
    limits: list[float] = []
    kept: list[float] = []
    colours: list[float] = []
    labd: list[float] = []
    medians: list[tuple[float, float]] = []  # the limit's and labd's median run
    for photo in photos:
        runs: list[Stages] = []
        kept_runs: list[float] = []
        labd_runs: list[float] = []
        for _ in range(repeat):
            out = folder / "limit.jpg"
            runs.append(limit_pool.submit(limit_timed, photo, out, product).result())
            kept_runs.append(
                kept_pool.submit(limit_timed, photo, out, product, kept=True).result().total
            )
            labd_runs.append(
                labd_pool.submit(labd_timed, product, photo, folder / "labd.jpg").result()
            )
        # Apart: it decodes the photo three times, and would disturb the routes measured above.
        colour_runs = [
            labd_pool.submit(_colour_seconds, product, photo).result() for _ in range(repeat)
        ]
        best = Stages(*(min(getattr(r, f) for r in runs) for f in ("decode", "resize", "encode")))
        stages.append(best)
        # The best run of each route, whole: the same statistic on both sides (the sum of
        # the stages' bests, which no run need reach, would favour the limit).
        limits.append(min(r.total for r in runs))
        kept.append(min(kept_runs))
        colours.append(min(colour_runs))
        labd.append(min(labd_runs))
        medians.append((statistics.median(r.total for r in runs), statistics.median(labd_runs)))
    limit, kept_limit, labd_mean = (statistics.mean(v) for v in (limits, kept, labd))
    median_ratio = statistics.mean(m[1] for m in medians) / statistics.mean(m[0] for m in medians)
    ms = {f: 1000 * statistics.mean(getattr(s, f) for s in stages) for f in ("decode", "resize")}
    encode = 1000 * statistics.mean(s.encode for s in stages)
    label = product.name if variant == "sRGB" else f"{product.name}, LUT"
    # A worker of its own, as the daemon's: its peak resident memory over these photos.
    peak_dir = folder / "peak"
    peak_dir.mkdir(exist_ok=True)
    peak = bench_labd(product, photos, peak_dir, 1)[1] / 1024
    print(
        f"   {label:20} {kind:10} {ms['decode']:6.0f} {ms['resize']:6.0f} "
        f"{1000 * statistics.mean(colours):6.0f} {encode:6.0f} {1000 * limit:6.0f} "
        f"{1000 * kept_limit:6.0f} {1000 * labd_mean:6.0f} "
        f"{labd_mean / limit:6.2f} ({median_ratio:4.2f}) "
        f"{labd_mean / kept_limit:9.2f} {peak:8.1f}"
    )


def _colour_seconds(product: Product, photo: Path) -> float:
    """CPU seconds of labd's colour step for ``photo`` (0: skipped), as labd does it for a
    camera JPEG (jpegdecode.to_rgb: its tables on the print once made, or on the decoded
    photo for a 20x30, the tables built beforehand, as a warm worker has them), measured as
    labd's picture made with it less the same picture made without."""
    with Image.open(photo) as img:
        icc = img.info.get("icc_profile")
        if colour.transform_for(icc, "RGB", product) is None:
            return 0.0

        def scaled() -> jpegdecode.Scaled:
            """The photo decoded afresh: the tables convert in place, and a second pass over
            converted colours does not cost what the first does."""
            decoded = labd_image._decode(product, photo, img).image
            assert isinstance(decoded, jpegdecode.Scaled)  # a camera JPEG: libvips' route
            return decoded

        jpegdecode.to_rgb(scaled(), icc, product).image.copy_memory()  # builds the tables
        without = scaled()
        started = time.process_time()
        without.image.copy_memory()
        plain = time.process_time() - started
        with_colour = scaled()
        started = time.process_time()
        jpegdecode.to_rgb(with_colour, icc, product).image.copy_memory()
        return max(0.0, time.process_time() - started - plain)


# --- part 4: colour engines side by side -----------------------------------------------------


def colour_engines(setup: Setup, repeat: int) -> None:
    """Part 4: the colour conversion alone, on a photo decoded at 5/8 as for a 20x30 (9.4
    MP), each engine given the same pixels: labd's tables (built beforehand, as a warm
    worker has them; the 3D table with AVX-512 where the processor has it, and in portable
    C), littlecms inside libvips (labd's route before the tables, the
    transform built per picture), littlecms' own 8-bit transform built once (the system's
    library, as labd's tables take it), Pillow's LittleCMS and Color3DLUT."""
    printer = setup.printer.output_icc
    assert printer is not None  # Setup.printer has a printer's profile
    # The first photo with a colour conversion to do for an sRGB print: the Adobe RGB one.
    adobe, icc = next(
        (p, icc)
        for p in setup.inputs
        if (icc := _embedded(p)) and colour.transform_for(icc, "RGB", setup.product)
    )
    pixels, width, height = turbojpeg.decode(adobe.read_bytes(), "RGB", 5)
    count = width * height
    print(f"\n4. colour engines, one core, ns per pixel (best of {repeat}), {width}x{height}")
    print(f"   {'engine':58} {'Adobe RGB->sRGB':>15} {'sRGB->printer':>14}")
    pairs = ((icc, colour.SRGB_ICC), (colour.SRGB_ICC, printer))
    rows: list[tuple[str, list[float]]] = []
    for name, engine in _ENGINES.items():
        costs = []
        for source, target in pairs:
            run = engine(source, target)
            costs.append(min(_seconds(run, pixels) for _ in range(repeat)) * 1e9 / count)
        rows.append((name, costs))
    before = dict(rows)[LIBVIPS_LCMS]
    for name, costs in rows:
        figures = [f"{c:6.1f} ({b / c:4.1f}x)" for c, b in zip(costs, before, strict=True)]
        print(f"   {name:58} {figures[0]:>15} {figures[1]:>14}")
    print("   (Nx: how much faster than littlecms inside libvips, labd's route before)")


def _embedded(photo: Path) -> bytes | None:
    with Image.open(photo) as img:
        icc = img.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc else None


def _seconds(run: Callable[[bytearray], object], pixels: clib.Writable) -> float:
    work = bytearray(pixels)
    started = time.process_time()
    run(work)
    return time.process_time() - started


def _by_tables(
    source: bytes, target: bytes, *, vector: bool = True
) -> Callable[[bytearray], object]:
    converter = tables.for_profiles(source, target, "perceptual", black_point_compensation=True)
    assert converter is not None  # both pairs are as faithful as littlecms
    return functools.partial(tables.apply, converter, vector=vector)


def _by_libvips(source: bytes, target: bytes) -> Callable[[bytearray], object]:
    def run(pixels: bytearray) -> object:
        image = pyvips.Image.new_from_memory(pixels, len(pixels) // 3, 1, 3, "uchar")
        image = image.copy(interpretation="srgb")
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", source)
        return image.icc_transform(
            jpegdecode._profile_file(target), embedded=True, intent="perceptual"
        ).write_to_memory()

    return run


def _by_littlecms(source: bytes, target: bytes) -> Callable[[bytearray], object]:
    built = littlecms.Transform(
        source,
        target,
        RenderingIntent.PERCEPTUAL,
        black_point_compensation=True,
        floats_in=False,
        floats_out=False,
    )
    return lambda pixels: built.to_bytes(bytes(pixels))


def _pillow_transform(source: bytes, target: bytes) -> ImageCms.ImageCmsTransform:
    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(source)),
        ImageCms.ImageCmsProfile(io.BytesIO(target)),
        "RGB",
        "RGB",
        flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
    )


def _as_pillow(pixels: bytearray) -> Image.Image:
    return Image.frombuffer("RGB", (len(pixels) // 3, 1), pixels, "raw", "RGB", 0, 1)


def _by_pillow_lcms(source: bytes, target: bytes) -> Callable[[bytearray], object]:
    built = _pillow_transform(source, target)
    return lambda pixels: built.apply(_as_pillow(pixels))


def _by_color3dlut(source: bytes, target: bytes) -> Callable[[bytearray], object]:
    lut = colour.LutTransform(_pillow_transform(source, target))
    lut.apply(Image.new("RGB", (1, 1)))  # samples the table
    return lambda pixels: lut.apply(_as_pillow(pixels))


LIBVIPS_LCMS = "littlecms inside libvips, transform built per picture"
_ENGINES: dict[str, Callable[[bytes, bytes], Callable[[bytearray], object]]] = {
    f"labd's tables (curves and matrix; 3D table, {tables.vector() or 'portable C'})": _by_tables,
    "labd's tables, the 3D table in portable C": functools.partial(_by_tables, vector=False),
    LIBVIPS_LCMS: _by_libvips,
    "littlecms 8-bit transform, built once (system library)": _by_littlecms,
    "Pillow's LittleCMS, built once": _by_pillow_lcms,
    "Pillow's Color3DLUT, 33-point table sampled once": _by_color3dlut,
}


# --- part 6: the buffers labd keeps, against fresh ones -------------------------------------


def _fresh_buffers() -> None:
    """A worker's initializer: labd's conversion with nothing kept (every photo read and
    decoded into fresh buffers, as before labd.convert.buffers)."""
    benchargs.quiet()
    buffers.FILES.largest = buffers.PIXELS.largest = 0


def kept_buffers(setup: Setup, names: list[str], repeat: int, folder: Path) -> None:
    """Part 6: labd in two workers of their own, called in turn on the same photos, one
    keeping its buffers from photo to photo (as shipped), one with fresh buffers."""
    config = load(ROOT / "config" / "labd.toml")
    distinct = setup.inputs[:4]
    runs = repeat * 3  # the difference is small beside the noise: more runs than elsewhere
    print(
        f"\n6. buffers kept from photo to photo against fresh ones, CPU ms per image ({runs} runs"
    )
    print("   of each of 4 photos, in turn; mean, median, and the paired difference's median)")
    print(f"   {'product':24} {'fresh':>14} {'kept':>14} {'saved':>6} {'kept/fresh':>10}")
    with own_worker(_fresh_buffers) as fresh_pool, own_worker() as kept_pool:
        for name in names:
            product = replace(config.products[name], output_icc=setup.printer.output_icc)
            seconds: dict[str, list[float]] = {"fresh": [], "kept": []}
            for run in range(runs):
                for photo in distinct:
                    order = [("fresh", fresh_pool), ("kept", kept_pool)]
                    for key, pool in order[:: 1 if run % 2 else -1]:
                        out = folder / f"{key}.jpg"
                        seconds[key].append(pool.submit(labd_timed, product, photo, out).result())
            fresh, kept = (
                (1000 * statistics.mean(seconds[k]), 1000 * statistics.median(seconds[k]))
                for k in ("fresh", "kept")
            )
            saved = 1000 * statistics.median(
                a - b for a, b in zip(seconds["fresh"], seconds["kept"], strict=True)
            )
            print(
                f"   {name + ', LUT':24} {fresh[0]:6.0f} / {fresh[1]:5.0f} {kept[0]:6.0f} / "
                f"{kept[1]:5.0f} {saved:6.1f} {kept[0] / fresh[0]:10.2f}"
            )


# --- part 5: other formats ----------------------------------------------------------------

# Format, suffix, Pillow's saving options, the share of the 24 MP photo's pixels.
_FORMATS: tuple[tuple[str, str, dict[str, int], float], ...] = (
    ("WebP", ".webp", {"quality": 90}, 1.0),
    ("PNG", ".png", {"compress_level": 1}, 1.0),
    ("TIFF", ".tiff", {}, 1.0),
    ("HEIF", ".heic", {"quality": 80}, 0.5),  # a phone's 12 MP
)


def other_formats(setup: Setup, repeat: int, folder: Path) -> None:
    """Part 5: a photo in each format, labd (a worker of its own) against plain Pillow."""
    import pillow_heif  # noqa: PLC0415  (for saving HEIF; labd registers it as it needs)

    pillow_heif.register_heif_opener()
    size = setup.product.pixel_size(landscape=True)
    with Image.open(setup.inputs[2]) as camera:  # an sRGB photo, stored upright
        picture = camera.convert("RGB")
    print(f"\n5. other formats, {setup.product.name}: one photo, best of {repeat}")
    print(
        f"   {'format':6} {'photo':>12} {'labd s':>7} {'labd MiB':>8} {'Pillow s':>8} "
        f"{'Pillow MiB':>10} {'memory Pillow/labd':>18}"
    )
    for name, suffix, options, share in _FORMATS:
        side = math.sqrt(share)
        shown = picture.resize((round(picture.width * side), round(picture.height * side)))
        photo = folder / f"format{suffix}"
        shown.save(photo, None, **options)
        labd, pillow = [], []
        for n in range(repeat):
            out = folder / f"format-{name}-{n}"
            out.mkdir()
            labd.append(bench_labd(setup.product, [photo], out, 1))
            pillow.append(bench_pool(1, pillow_one, [(photo, out / "pillow.jpg", size)]))
        ls, ps = min(s for s, _ in labd), min(s for s, _ in pillow)
        lm, pm = min(k for _, k in labd) / 1024, min(k for _, k in pillow) / 1024
        megapixels = shown.width * shown.height / 1e6
        print(
            f"   {name:6} {megapixels:5.1f} MP {photo.stat().st_size / 1e6:3.0f} MB {ls:7.2f} "
            f"{lm:8.1f} {ps:8.2f} {pm:10.1f} {pm / lm:18.1f}"
        )


# --- part 3: the command's start-up ----------------------------------------------------------


def startup(setup: Setup, workers: int, repeat: int, folder: Path) -> None:
    """Part 3: `labd convert` against a warm pool on the same photos; when the first began.

    The command runs byte-compiled, as an installed labd does (`pip install .` compiles
    every module): into a bytecode cache of this run's, filled by a first run not timed.
    Else, in a tree without __pycache__ run with PYTHONDONTWRITEBYTECODE (this project's
    sandboxes), Python would compile labd's sources at every start; the last line shows
    what the bytecode settings of this bench's own environment give.
    """
    labd = Path(sys.executable).parent / "labd"
    config = ROOT / "config" / "labd.toml"
    compiled = {**os.environ, "PYTHONPYCACHEPREFIX": str(folder / "pyc")}
    compiled.pop("PYTHONDONTWRITEBYTECODE", None)

    def run(inputs: list[Path], out: Path, env: dict[str, str]) -> tuple[float, float]:
        """(whole run, start to first conversion) in seconds."""
        command = [str(labd), "--config", str(config), "convert", "--product",
                   setup.product.name, "--jobs", str(workers), "--out", str(out),
                   *map(str, inputs)]  # fmt: skip
        began = time.time()
        done = subprocess.run(
            command,
            check=True,
            capture_output=True,
            text=True,
            env={**env, "LABD_LOG_LEVEL": "DEBUG"},  # to see when each file began
        )
        return time.time() - began, _first_start(done.stdout + done.stderr) - began

    print(f"\n3. `labd convert --jobs {workers}` on {len(setup.inputs)} photos, {repeat} runs")
    run(setup.inputs[:1], folder / "cli-compiling", compiled)
    walls, warms, firsts = [], [], []
    for n in range(repeat):
        wall, first = run(setup.inputs, folder / f"cli-{n}", compiled)
        walls.append(wall)
        firsts.append(first)
        warm_out = folder / f"warm-{n}"
        warm_out.mkdir()
        warms.append(bench_labd(setup.product, setup.inputs, warm_out, workers)[0])
    wall, warm_pool = statistics.median(walls), statistics.median(warms)
    print(f"   labd convert, whole run:              {wall:5.2f} s (median)")
    print(f"   the same in a pool already started:   {warm_pool:5.2f} s")
    print(f"   spent starting (the difference):      {wall - warm_pool:5.2f} s (goal: under 0.2)")
    print(f"   from the command's start to its first conversion: {statistics.median(firsts):.2f} s")
    bare = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run([str(labd), "--version"], check=True, capture_output=True, env=compiled)
        bare.append(time.perf_counter() - began)
    print(f"   `labd --version` (Python and labd's command line alone): {min(bare):.2f} s")
    mine = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    uncached = [
        run(setup.inputs[:1], folder / f"cli-own-{n}", dict(os.environ))[1] for n in range(repeat)
    ]
    print(
        f"   first conversion with this bench's bytecode settings "
        f"(PYTHONDONTWRITEBYTECODE={mine!r}, no cache): {statistics.median(uncached):.2f} s"
    )


def _first_start(log: str) -> float:
    """When the first conversion of a run began (epoch seconds), from labd's JSON log."""
    starts = []
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == "convert.file_converted":
            ended = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
            starts.append(ended.timestamp() - float(entry["seconds"]))
    return min(starts)


def find_magick() -> str | None:
    # The real binary: a wrapper script in front of it would add its own start-up time.
    for name in ("magick", "convert-im6.q16", "convert"):
        if found := shutil.which(name):
            return found
    return None


def main() -> None:
    # Here, not at the top: spawned workers import this module again, and the test helpers
    # (pikepdf among them) would add to every worker's peak memory.
    from tests.imagegen import (  # noqa: PLC0415
        CAMERA_GRAIN,
        CAMERA_SIZE,
        adobe_rgb_like_profile,
        camera_jpegs,
        camera_srgb_profile,
        rgb_lut_profile,
    )

    parser = benchargs.parser(
        __doc__, epilog="The module's docstring (bench/convert.py) says what each route does."
    )
    parser.add_argument("--images", type=int, default=24, help="photos converted per run")
    parser.add_argument("--processes", default="1,2", help="pool sizes for part 1, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    parser.add_argument(
        "--grain", type=int, default=CAMERA_GRAIN, help="grain of the photos (more: bigger files)"
    )
    parser.add_argument("--products", default=PRODUCTS, help="products for part 2 ('' skips it)")
    parser.add_argument("--pages", type=int, default=50, help="photobook pages bound at the end")
    parser.add_argument("--parts", default="1,2,3", help="parts to run (see the docstring)")
    parser.add_argument(
        "--no-peers", action="store_true", help="leave out plain Pillow and ImageMagick"
    )
    args = benchargs.parse(parser)
    counts = [int(n) for n in args.processes.split(",") if n]
    product = load(ROOT / "config" / "labd.toml").products["prints-10x15"]
    width, height = CAMERA_SIZE
    print(f"{os.cpu_count()} cores; {args.images} photos of {width}x{height}")
    with tempfile.TemporaryDirectory(prefix="labd-bench-") as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        started = time.perf_counter()
        # In a worker of its own: Linux carries a process's peak RSS over fork and exec, so
        # big images made here would show up as every worker's peak.
        ctx = multiprocessing.get_context("spawn")
        profiles = (adobe_rgb_like_profile(), camera_srgb_profile())
        with ProcessPoolExecutor(1, mp_context=ctx) as maker:
            inputs = maker.submit(
                camera_jpegs, folder / "in", max(args.images, 4), args.grain, profiles=profiles
            ).result()
        megabytes = statistics.mean(p.stat().st_size for p in inputs) / 1e6
        print(
            f"inputs made in {time.perf_counter() - started:.1f} s: {megabytes:.1f} MB per "
            f"photo (grain {args.grain}), half sRGB, half Adobe RGB-like, half EXIF-turned"
        )
        srgb = folder / "srgb.icc"
        srgb.write_bytes(colour.SRGB_ICC)
        setup = Setup(
            inputs=inputs[: max(args.images, 1)],
            product=product,
            printer=replace(product, output_icc=rgb_lut_profile("LUT printer")),
            magick=find_magick(),
            srgb=srgb,
        )
        parts = set(args.parts.split(","))
        if counts and "1" in parts:
            throughput(setup, counts, args.repeat, folder, peers=not args.no_peers)
        if args.products and "2" in parts:
            every = replace(setup, inputs=inputs)
            per_product(every, args.products.split(","), args.repeat, folder)
        if counts and "3" in parts:
            startup(setup, max(counts), args.repeat, folder)
        if "4" in parts:
            colour_engines(setup, args.repeat)
        if "5" in parts:
            other_formats(setup, args.repeat, folder)
        if args.products and "6" in parts:
            kept_buffers(setup, args.products.split(","), args.repeat, folder)
        pages = sorted((folder / f"out-0-{counts[-1]}").glob("*.jpg")) if counts else []
        if args.pages and pages:
            book = [pages[n % len(pages)] for n in range(args.pages)]
            best = min(_bind_seconds(product, book, folder / "book.pdf") for _ in range(3))
            print(f"\nphotobook: {args.pages} pages bound at {args.pages / best:.0f} pages/s")


def _bind_seconds(product: Product, pages: list[Path], out: Path) -> float:
    started = time.perf_counter()
    bind_photobook(product, pages, out)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
