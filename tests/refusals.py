"""Bad input in tests: refused with a clear error, and nothing lost and nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labd.errors import InputRejected


@contextmanager
def refused_untouched(
    out_dir: Path, *inputs: Path
) -> Iterator[pytest.ExceptionInfo[InputRejected]]:
    """Expect the block to raise InputRejected (what it raised, for the caller to read),
    every one of ``inputs`` to keep its bytes, and ``out_dir`` to stay empty."""
    before = {p: p.read_bytes() for p in inputs}
    with pytest.raises(InputRejected) as caught:
        yield caught
    assert {p: p.read_bytes() for p in inputs} == before  # nothing lost
    assert list(out_dir.iterdir()) == []  # nothing written
