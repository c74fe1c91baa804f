"""Conversion: a product and input files to print-ready files.

No journal, no CUPS: a function of its inputs, writing only into the output folder.
"""

from labd.convert.image import (
    ALLOWED_FORMATS,
    RULE_EMPTY,
    RULE_LARGER_THAN_PRINT,
    RULE_LOW_RESOLUTION,
    RULE_NOT_AN_IMAGE,
    RULE_TOO_MANY_PIXELS,
    RULE_TRUNCATED,
    RULE_UNSUPPORTED,
    ConvertedFile,
    check_image,
    convert_image,
    effective_ppi,
    is_low_resolution,
    low_resolution_note,
)
from labd.convert.job import (
    BOOK_NAME,
    BatchResult,
    SharedPool,
    convert_batch,
    convert_job,
    fork_is_safe,
    join_reasons,
    output_name,
    outputs_for,
    process_pool,
)
from labd.convert.pdf import (
    RULE_DAMAGED_PDF,
    RULE_ENCRYPTED_PDF,
    RULE_NOT_A_PDF,
    RULE_PAGE_SIZE,
    check_pdf,
)
from labd.names import natural_key

__all__ = [
    "ALLOWED_FORMATS",
    "BOOK_NAME",
    "RULE_DAMAGED_PDF",
    "RULE_EMPTY",
    "RULE_ENCRYPTED_PDF",
    "RULE_LARGER_THAN_PRINT",
    "RULE_LOW_RESOLUTION",
    "RULE_NOT_AN_IMAGE",
    "RULE_NOT_A_PDF",
    "RULE_PAGE_SIZE",
    "RULE_TOO_MANY_PIXELS",
    "RULE_TRUNCATED",
    "RULE_UNSUPPORTED",
    "BatchResult",
    "ConvertedFile",
    "SharedPool",
    "check_image",
    "check_pdf",
    "convert_batch",
    "convert_image",
    "convert_job",
    "effective_ppi",
    "fork_is_safe",
    "is_low_resolution",
    "join_reasons",
    "low_resolution_note",
    "natural_key",
    "output_name",
    "outputs_for",
    "process_pool",
]
