"""labd: the print-production daemon of a professional photo lab."""

__version__ = "0.1.0"
