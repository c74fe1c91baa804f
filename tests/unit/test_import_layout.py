"""The daemon's import path stays free of the demo's embedded CUPS.

``labd.demo`` (``labd demo``) and ``labd.demo.embedded`` (the private cupsd and virtual
printers it and the tests start) are test and trial code.  The daemon and the command line
must not load them: each check runs a fresh interpreter, since this one has them loaded
already by the tests' fixtures.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = "labd.demo"

# Imports the modules named in argv, then reports the labd modules loaded and those that
# have an ``EmbeddedPrintServer`` (under whatever module it was moved or re-exported to).
PROBE = """\
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
labd = sorted(m for m in sys.modules if m == "labd" or m.startswith("labd."))
exposing = sorted(m for m in labd if hasattr(sys.modules[m], "EmbeddedPrintServer"))
print(json.dumps({"modules": labd, "exposing": exposing}))
"""


def loaded_after_importing(*names: str) -> tuple[list[str], list[str]]:
    """(labd modules loaded, those exposing EmbeddedPrintServer) in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *names],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return report["modules"], report["exposing"]


@pytest.mark.parametrize(
    "names",
    [("labd.daemon",), ("labd.cli",), ("labd.printing",), ("labd.daemon", "labd.cli")],
    ids="+".join,
)
def test_the_daemon_and_the_cli_do_not_load_the_demo(names: tuple[str, ...]) -> None:
    modules, exposing = loaded_after_importing(*names)
    assert set(names) <= set(modules)  # the probe did import them
    assert [m for m in modules if m == DEMO or m.startswith(f"{DEMO}.")] == []
    assert "labd.printing.embedded" not in modules
    assert exposing == []


def test_the_probe_sees_the_embedded_cups_when_the_demo_is_imported() -> None:
    """The check above can fail: importing the demo loads the embedded CUPS."""
    modules, exposing = loaded_after_importing("labd.demo")
    assert {"labd.demo", "labd.demo.embedded"} <= set(modules)
    assert "labd.demo.embedded" in exposing


def _imports_of_demo(path: Path) -> list[int]:
    """Line numbers of ``import labd.demo...`` and ``from labd.demo... import`` in ``path``,
    lazy imports inside functions included."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(n == DEMO or n.startswith(f"{DEMO}.") for n in names):
            lines.append(node.lineno)
    return lines


def test_only_the_demo_command_imports_the_demo() -> None:
    """Outside labd/demo/, only ``labd demo`` (labd/cli/service.py, lazily) imports it."""
    labd = REPO / "labd"
    allowed = {labd / "cli" / "service.py"}
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in sorted(labd.rglob("*.py"))
        if (labd / "demo") not in path.parents and path not in allowed
        if (lines := _imports_of_demo(path))
    }
    assert offenders == {}
    assert _imports_of_demo(labd / "cli" / "service.py")  # the one place that may
