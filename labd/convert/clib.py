"""What labd's ctypes bindings to system libraries share (labd.convert.turbojpeg,
labd.convert.littlecms, labd.convert.webp): typing a function, and loading a library that
may be missing, once per process."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

Bound = TypeVar("Bound")
# A buffer a library writes into, and what gives one of a size (bytearray: a fresh one;
# labd.convert.buffers: one kept from the last photo).
Writable: TypeAlias = bytearray | memoryview
Allocate: TypeAlias = Callable[[int], Writable]


def typed(function: Any, restype: Any, *argtypes: Any) -> Any:
    """``function`` of a library with its C signature (ctypes checks the arguments)."""
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


def chars(data: bytes | Writable) -> bytes | ctypes.Array[ctypes.c_char]:
    """``data`` as a ``c_char_p`` argument takes it: bytes as they are, a writable buffer
    without a copy (the array holds the buffer until it is dropped)."""
    if isinstance(data, bytes):
        return data
    return (ctypes.c_char * len(data)).from_buffer(data)


def load(library: str, bind: Callable[[ctypes.CDLL], Bound]) -> Bound | None:
    """``bind`` applied to the shared ``library``; None where it is not installed, or too
    old to have the functions ``bind`` types."""
    try:
        return bind(ctypes.CDLL(library))
    except (OSError, AttributeError):
        return None


def loader(library: str, bind: Callable[[ctypes.CDLL], Bound]) -> Callable[[], Bound | None]:
    """A function that loads ``library`` with ``bind`` (as :func:`load`) the first time it
    is called, and answers the same thereafter."""
    return functools.cache(lambda: load(library, bind))
