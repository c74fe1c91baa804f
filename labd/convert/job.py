"""A job's inputs to its numbered print files: all of them, or none."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from labd.convert.image import RULE_EMPTY, ConvertedFile, check_image, convert_image
from labd.errors import InputRejected
from labd.fsutil import fsync_dir
from labd.model import Product


def output_name(seq: int) -> str:
    """The print file's name for the ``seq``-th input (from 1): never a customer's name."""
    return f"{seq:04d}.jpg"


def convert_job(
    product: Product,
    inputs: Sequence[Path],
    out_dir: Path,
    *,
    after_each: Callable[[], None] | None = None,
) -> list[ConvertedFile]:
    """Convert every input to ``out_dir``/0001.jpg, 0002.jpg ... in input order.

    If any input cannot be printed, no output remains and InputRejected names every bad
    file and why; its rule is the first bad file's.  Other errors (OSError) propagate, also
    with no output left.  ``after_each`` runs after every file: the daemon reports progress
    there, and may raise to abandon the job (on SIGTERM), which also leaves no output.
    """
    if not inputs:
        raise InputRejected("the job holds no files to print", rule=RULE_EMPTY)
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
            if after_each is not None:
                after_each()
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
