"""A job's inputs to its numbered print files: all of them, or none."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from labd.convert.image import RULE_EMPTY, ConvertedFile, check_image, convert_image
from labd.errors import InputRejected
from labd.fsutil import fsync_dir
from labd.model import Product

log = structlog.get_logger(__name__)


def output_name(seq: int) -> str:
    """The print file's name for the ``seq``-th input (from 1): never a customer's name."""
    return f"{seq:04d}.jpg"


def convert_job(product: Product, inputs: Sequence[Path], out_dir: Path) -> list[ConvertedFile]:
    """Convert every input to ``out_dir``/0001.jpg, 0002.jpg ... in input order.

    If any input cannot be printed, no output remains and InputRejected names every bad
    file and why; its rule is the first bad file's.  Other errors (OSError) propagate, also
    with no output left.
    """
    if not inputs:
        raise InputRejected("the job holds no files to print", rule=RULE_EMPTY)
    started = time.perf_counter()
    out_dir.mkdir(mode=0o700, exist_ok=True)
    outputs = [out_dir / output_name(seq) for seq in range(1, len(inputs) + 1)]
    converted: list[ConvertedFile] = []
    rejected: list[InputRejected] = []
    try:
        for src, out in zip(inputs, outputs, strict=True):
            try:
                if rejected:
                    # The job is lost already: only find out whether this file is bad too.
                    check_image(product, src)
                else:
                    converted.append(convert_image(product, src, out))
            except InputRejected as e:
                rejected.append(e)
    except BaseException:
        # Best effort: the error that stopped the job matters more than a failed clean-up.
        with contextlib.suppress(OSError):
            _remove(outputs)
        raise
    if rejected:
        _remove(outputs)
        raise InputRejected(_summary(len(inputs), rejected), rule=rejected[0].rule) from (
            rejected[0]
        )
    log.debug(
        "convert.job_converted",
        files=len(converted),
        seconds=round(time.perf_counter() - started, 3),
    )
    return converted


def _remove(outputs: Sequence[Path]) -> None:
    """Remove every output this job may have written, also by an earlier, interrupted try."""
    for out in outputs:
        out.unlink(missing_ok=True)
    fsync_dir(outputs[0].parent)


def _summary(total: int, rejected: Sequence[InputRejected]) -> str:
    files = "file" if total == 1 else "files"
    reasons = "; ".join(e.reason for e in rejected)
    return f"{len(rejected)} of {total} {files} cannot be printed: {reasons}"
