"""Conversion: a product and input files to print-ready files.

No journal, no CUPS: a function of its inputs, writing only into the output folder.
"""

from labd.convert.image import (
    ALLOWED_FORMATS,
    RULE_EMPTY,
    RULE_NOT_AN_IMAGE,
    RULE_TOO_MANY_PIXELS,
    RULE_TRUNCATED,
    RULE_UNSUPPORTED,
    ConvertedFile,
    check_image,
    convert_image,
)
from labd.convert.job import convert_job, output_name

__all__ = [
    "ALLOWED_FORMATS",
    "RULE_EMPTY",
    "RULE_NOT_AN_IMAGE",
    "RULE_TOO_MANY_PIXELS",
    "RULE_TRUNCATED",
    "RULE_UNSUPPORTED",
    "ConvertedFile",
    "check_image",
    "convert_image",
    "convert_job",
    "output_name",
]
