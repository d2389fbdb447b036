"""The CLI starts without the heavy modules: they load only in the commands that use them.

Timing is noisy on a shared machine (benchmarks/startup_bench.py measures it); which modules a
fresh process imported is not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.library_fixtures import make_photo_folder

HEAVY = ("onnx", "ml_dtypes", "onnxruntime", "scipy", "hnswlib", "PySide6", "watchdog",
         # not heavy in itself, but ~0.3 s of modules that only `dupes` and the review need
         "photosim.core.duplicates.search")

# Runs the CLI in this process, then prints which heavy modules it imported.
PROBE = f"""
import json, sys
from photosim.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --version and --help exit from argparse
    code = exc.code
print(json.dumps({{"code": code, "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def imported_heavy(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stderr
    return list(result["heavy"])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["dupes", "--help"]])
def test_version_and_help_import_nothing_heavy(args: list[str]) -> None:
    assert imported_heavy(*args) == []


def test_importing_the_cli_imports_nothing_heavy() -> None:
    code = f"import sys, photosim.cli.main; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_status_loads_neither_onnx_nor_the_model(tmp_path: Path,
                                                 tiny_model: tuple[Path, Path]) -> None:
    """`status` reads counts: it needs onnxruntime to name the provider, not onnx (~1 s to
    import), scipy, Qt, the duplicate search or a model session."""
    model, spec = tiny_model
    make_photo_folder(tmp_path / "pics", count=2)
    options = ["--data-dir", str(tmp_path / "data"), "--model", str(model),
               "--model-spec", str(spec)]
    index = subprocess.run([sys.executable, "-m", "photosim", *options, "index",
                            str(tmp_path / "pics")], capture_output=True, text=True, timeout=120)
    assert index.returncode == 0, index.stderr
    heavy = imported_heavy(*options, "status")
    assert not {"onnx", "ml_dtypes", "scipy", "PySide6", "watchdog",
                "photosim.core.duplicates.search"} & set(heavy), heavy
