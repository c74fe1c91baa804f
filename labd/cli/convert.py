"""``labd convert``: the daemon's conversion for one product, without journal or CUPS."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import structlog

from labd.cli.common import Subparsers, config_of
from labd.config import Config
from labd.errors import ConfigError, InputRejected
from labd.model import LowResolution, Product

if TYPE_CHECKING:
    from labd.convert import ConvertedFile

log = structlog.get_logger(__name__)


def cmd_convert(args: argparse.Namespace, out: TextIO) -> int:
    """Convert FILEs for a product into --out; report each bad file; exit 6 if any was bad.

    Good files are converted and kept even when others are bad (a photobook is made only
    when every page is good).  Outputs are named as in the spool (0001.jpg ..., book.pdf);
    each line of output says which input an output was made from.
    """
    # Only `convert` pays for Pillow, pikepdf and img2pdf.
    from labd.convert import (  # noqa: PLC0415
        convert_batch,
        fork_is_safe,
        outputs_for,
        process_pool,
    )

    config = config_of(args)
    product = _product(config, args.product, args.config)
    inputs: list[Path] = args.files
    if args.jobs < 1:
        raise ConfigError(str(args.config), "--jobs", f"{args.jobs}: expected 1 or more")
    args.out.mkdir(parents=True, exist_ok=True)
    progress = _Progress(len(inputs), sys.stderr)
    workers = min(args.jobs, len(inputs))
    try:
        # Forked from this process, which has imported the conversion already, the workers
        # are warm at once; spawned (0.4-0.5 s each), this process converts meanwhile.
        fork = fork_is_safe()
        with process_pool(workers, log_level=args.log_level, fork=fork) as pool:
            result = convert_batch(
                product,
                inputs,
                args.out,
                pool=pool,
                after_each=progress.step,
                help_while_starting=not fork,
            )
    except BaseException:
        # Interrupted or a disk error: page files of a book that will not be bound go.
        for path in outputs_for(product, len(inputs), args.out):
            if path.name.startswith("."):
                path.unlink(missing_ok=True)
        raise
    finally:
        progress.done()
    for converted in result.converted:
        names = ", ".join(str(inputs[i]) for i in converted.sources)
        out.write(f"{converted.output}  <-  {names}\n")
    _warn_low_resolution(product, inputs, result.converted)
    for _, error in result.rejected:
        sys.stderr.write(f"labd: {error.reason}\n")
    log.info(
        "convert.batch_converted",
        product=product.name,
        inputs=len(inputs),
        outputs=len(result.converted),
        rejected=len(result.rejected),
        workers=workers,
        peak_rss_mib=round(result.peak_rss_kib / 1024, 1),
    )
    return InputRejected.exit_code if result.rejected else 0


def _warn_low_resolution(
    product: Product, inputs: list[Path], converted: list[ConvertedFile]
) -> None:
    """On stderr, each input below the product's min_ppi and what the daemon would do."""
    from labd.convert import is_low_resolution, low_resolution_note  # noqa: PLC0415  # see above

    then = {
        LowResolution.WARN: "the daemon prints it and journals a warning",
        LowResolution.HOLD: "the daemon holds its job for a technician (labd retry or cancel)",
        LowResolution.QUARANTINE: "the daemon quarantines its job",
    }[product.low_resolution]
    for c in converted:
        for index, ppi in c.resolutions():
            if is_low_resolution(product, ppi):
                note = low_resolution_note(product, str(inputs[index]), ppi)
                sys.stderr.write(f"labd: warning: {note}; {then}\n")


def _product(config: Config, name: str, file: Path) -> Product:
    product = config.products.get(name)
    if product is None:
        defined = ", ".join(sorted(config.products)) or "none"
        raise ConfigError(str(file), "--product", f"no product {name!r}; defined: {defined}")
    return product


class _Progress:
    """A counter line on a terminal ("converted 12/48"); nothing when stderr is a file."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.count = 0
        self.stream = stream
        self.shown = stream.isatty()

    def step(self) -> None:
        self.count += 1
        if self.shown:
            self.stream.write(f"\rconverted {self.count}/{self.total}")
            self.stream.flush()

    def done(self) -> None:
        if self.shown and self.count:
            self.stream.write("\n")


def register(sub: Subparsers) -> None:
    """Add convert."""
    parser = sub.add_parser(
        "convert",
        help="convert files for a product, as the daemon would, without printing",
        description="Convert FILEs for a product exactly as the daemon does, on all cores, "
        "without journal or CUPS.  Bad files are reported; the others are still converted "
        "(exit status 6 if any file was bad).",
    )
    parser.add_argument("--product", required=True, help="a product of the configuration")
    parser.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of cores, %(default)s here)",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.set_defaults(func=cmd_convert)
