"""labd/convert/_tables.c: colour transforms of 8-bit RGB as tables, applied in place."""

from typing_extensions import Buffer

def apply_table(
    pixels: Buffer,
    table: Buffer,
    points: int,
    fraction_bits: int,
    offset: int,
    vector: bool = True,
    /,
) -> None: ...
def vector() -> str | None: ...
def apply_matrix(pixels: Buffer, terms: Buffer, curves_out: Buffer, /) -> None: ...
