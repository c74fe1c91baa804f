"""Supply levels from a queue's marker attributes, as pycups hands them over.

The attribute values are those a real query returned (``getPrinterAttributes`` on a queue
of the tests' private CUPS after a job through a printer reporting them, CUPS 2.4.2; see
tests/supplying_printer.py), and the shapes pycups gives the same attributes in: a list,
or a plain value when the printer has one supply.
"""

from __future__ import annotations

from typing import Any

import pytest

from labd.printing.supplies import Supply, supplies_of

# Captured from a real query (see the module's docstring).
CAPTURED: dict[str, Any] = {
    "marker-colors": ["#000000", "#00FFFF", "none"],
    "marker-levels": [82, 7, -1],
    "marker-low-levels": [10, 10, 0],
    "marker-high-levels": [100, 100, 100],
    "marker-names": ["Photo Black", "Cyan", "Glossy paper"],
    "marker-types": ["ink", "ink", "paper"],
}


def test_the_captured_attributes_become_three_supplies() -> None:
    assert supplies_of(CAPTURED) == (
        Supply("Photo Black", "ink", "#000000", 82, low=10),
        Supply("Cyan", "ink", "#00FFFF", 7, low=10),
        Supply("Glossy paper", "paper", "none", None, low=0),
    )
    assert [s.is_low for s in supplies_of(CAPTURED)] == [False, True, False]


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param({}, (), id="none-reported"),
        pytest.param({"printer-state-reasons": ["none"]}, (), id="other-attributes-only"),
        pytest.param(
            {"marker-names": "Black", "marker-levels": 40, "marker-types": "toner"},
            (Supply("Black", "toner", "", 40),),
            id="one-supply-as-plain-values",
        ),
        pytest.param(
            {"marker-names": ["Waste", "Yellow"], "marker-levels": [-3, 130]},
            (Supply("Waste", "", "", None, some_left=True), Supply("Yellow", "", "", 100)),
            id="some-left-and-above-100",
        ),
        pytest.param(
            {"marker-names": ["Magenta", ""], "marker-levels": [55]},
            (Supply("Magenta", "", "", 55), Supply("supply 2", "", "", None)),
            id="fewer-levels-than-names",
        ),
    ],
)
def test_each_shape_pycups_gives(attributes: dict[str, Any], expected: tuple[Supply, ...]) -> None:
    assert supplies_of(attributes) == expected
