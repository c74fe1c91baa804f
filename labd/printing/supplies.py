"""A queue's supply levels (ink, toner, paper, waste) as CUPS keeps them for a printer.

CUPS holds what a printer last reported in four parallel queue attributes, ``marker-names``,
``marker-levels``, ``marker-colors`` and ``marker-types`` (CUPS' IPP extensions); its
backends fill them in while they print (the ipp backend copies the printer's own marker
attributes, the SNMP-capable ones read the Printer MIB).  A queue whose printer never
reported any, or has not printed since CUPS started, has none: "not reported", never 0 %.
Plain values here, so the console and tests read them without pycups (only
:mod:`labd.printing.cups` imports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MARKER_ATTRIBUTES", "Supply", "supplies_of"]

# The queue attributes the levels come in, asked for with the queue's state.
MARKER_ATTRIBUTES: Final = (
    "marker-names",
    "marker-levels",
    "marker-colors",
    "marker-types",
    "marker-low-levels",
)
# marker-levels below 0 (CUPS Implementation of IPP): -1 unavailable, -2 unknown, -3 some
# left but how much unknown.
_SOME_LEFT: Final = -3


@dataclass(frozen=True)
class Supply:
    """One supply of a printer as CUPS last heard of it."""

    name: str  # marker-names: "Cyan Ink", "Glossy paper"
    kind: str  # marker-types: ink, toner, paper, waste-ink, ...; "" when not said
    colour: str  # marker-colors: "#00FFFF", "none"; "" when not said
    level: int | None  # percent, 0 to 100; None: the printer cannot tell
    low: int | None = None  # marker-low-levels: at or below this it is low
    some_left: bool = False  # the printer knows there is some, not how much

    @property
    def is_low(self) -> bool:
        """At or below the printer's own low mark (a technician should fetch a new one)."""
        return self.level is not None and self.low is not None and self.level <= self.low


def supplies_of(attributes: Mapping[str, Any]) -> tuple[Supply, ...]:
    """The supplies in a queue's attributes as pycups returns them (a list, or a plain
    value for a 1setOf of one); () when the printer reported none."""
    names = _values(attributes.get("marker-names"))
    levels = _values(attributes.get("marker-levels"))
    colours = _values(attributes.get("marker-colors"))
    kinds = _values(attributes.get("marker-types"))
    lows = _values(attributes.get("marker-low-levels"))
    found = []
    for i, name in enumerate(names):
        level = _integer(levels[i]) if i < len(levels) else None
        low = _integer(lows[i]) if i < len(lows) else None
        found.append(
            Supply(
                name=str(name).strip() or f"supply {i + 1}",
                kind=str(kinds[i]) if i < len(kinds) else "",
                colour=str(colours[i]) if i < len(colours) else "",
                level=min(level, 100) if level is not None and level >= 0 else None,
                low=low if low is not None and low >= 0 else None,
                some_left=level == _SOME_LEFT,
            )
        )
    return tuple(found)


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdecimal() else None
