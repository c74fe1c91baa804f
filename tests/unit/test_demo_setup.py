"""The demo's configuration, made from the file's at start and again at each reload:
every path under the demo's folder, its hot folders made, and a reload that cannot make
them refused with file and key while the demo runs on as it was."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from labd.config import Config, load
from labd.daemon.reload import reread_or_keep
from labd.demo import DemoSetup
from tests.factories import GOOD_CONFIG, write_config

EXTRA = '\n[hotfolders.extra]\nproduct = "p10x15"\nprinter = "minilab"\n'


def test_the_demo_puts_every_path_under_its_folder_and_makes_the_hot_folders(
    tmp_path: Path,
) -> None:
    base = tmp_path / "demo"
    setup = DemoSetup(base, server=None)
    config = setup(load(write_config(tmp_path, GOOD_CONFIG)))
    assert config.state_dir == base / "state"
    hot = base / "hot" / "prints"
    assert config.hotfolders["prints"].path == hot
    assert hot.stat().st_mode & 0o777 == 0o770  # private to the lab: labd watches it
    assert not (tmp_path / "hot").exists()  # the file's own folders are never touched


@dataclass
class Running:
    """A demo running on GOOD_CONFIG under ``base``, as far as a reload is concerned."""

    base: Path
    setup: DemoSetup
    file: Path
    config: Config


@pytest.fixture
def running(tmp_path: Path) -> Running:
    base = tmp_path / "demo"
    setup = DemoSetup(base, server=None)
    file = write_config(tmp_path, GOOD_CONFIG)
    config = setup(load(file))
    (base / "state").mkdir(mode=0o700)
    (base / "spool").mkdir(mode=0o700)
    return Running(base, setup, file, config)


def test_a_reload_rereads_the_file_under_the_demos_folder(running: Running) -> None:
    base, setup = running.base, running.setup
    running.file.write_text(running.file.read_text() + EXTRA)

    new = reread_or_keep(running.config, setup)
    assert new is not None
    assert (new.state_dir, new.spool_dir) == (running.config.state_dir, running.config.spool_dir)
    assert new.hotfolders["extra"].path == base / "hot" / "extra"
    assert (base / "hot" / "extra").is_dir()

    # The same file without the demo's adapting names other folders: refused.
    with capture_logs() as logs:
        assert reread_or_keep(running.config) is None
    assert [e["event"] for e in logs] == ["daemon.reload_rejected"]


def test_a_hot_folder_the_demo_cannot_make_refuses_the_reload_and_loses_nothing(
    running: Running,
) -> None:
    base = running.base
    # A technician's file where the new hot folder would go.
    (base / "hot" / "extra").write_bytes(b"a customer's photo")
    running.file.write_text(running.file.read_text() + EXTRA)

    with capture_logs() as logs:
        assert reread_or_keep(running.config, running.setup) is None
    [refused] = [e for e in logs if e["event"] == "daemon.reload_rejected"]
    assert refused["file"] == str(running.file)
    assert refused["key"] == "hotfolders.extra.path"
    assert str(base / "hot" / "extra") in str(refused["problem"])
    assert (base / "hot" / "extra").read_bytes() == b"a customer's photo"
