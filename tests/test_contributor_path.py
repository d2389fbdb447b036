"""A fresh checkout works with a plain `pytest`, CI fails what it would skip, the docs hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROBE_ENV = "PHOTOSIM_CONFTEST_PROBE"


def test_probe_sees_the_conftest_defaults() -> None:
    """Run by the test below, in a pytest whose environment lacks both variables."""
    if not os.environ.get(PROBE_ENV):
        pytest.skip("only meaningful inside test_plain_pytest_gets_offscreen_qt_and_the_model")
    assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    shared = REPO.parent / "shared" / "models"
    if shared.is_dir():
        assert Path(os.environ["PHOTOSIM_TEST_MODEL_DIR"]) == shared


def test_plain_pytest_gets_offscreen_qt_and_the_model() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "PHOTOSIM_TEST_MODEL_DIR")}
    env[PROBE_ENV] = "1"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"{Path(__file__).name}::test_probe_sees_the_conftest_defaults"],
                          cwd=REPO / "tests", env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


def test_ci_entry_point_sets_ci() -> None:
    assert "\nexport CI=1\n" in (REPO / ".ci" / "run").read_text()


def test_readme_apt_line_has_the_validators() -> None:
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "apt-get install python3-venv build-essential desktop-file-utils appstream" in readme


def test_licence_and_contributing_are_there() -> None:
    licence = (REPO / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3, 29 June 2007" in licence
    assert len(licence) > 30_000  # the whole text, not a pointer to it
    contributing = (REPO / "CONTRIBUTING.md").read_text()
    for topic in ("pytest", "Markers", "screenshots.py", "run_all.py", "72 characters"):
        assert topic in contributing, topic
