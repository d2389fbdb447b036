#!/usr/bin/env bash
# Set up a virtualenv (.venv) with photosim and its dev tools, then run every check:
# ruff, mypy (strict on photosim/core), import-linter, and the pytest suite (Qt offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PHOTOSIM_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# hnswlib builds from source; without this it compiles with -march=native.
HNSWLIB_NO_NATIVE=1 "$VENV/bin/python" -m pip install -q -e '.[dev]'

export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
# The real (small) ImageNet model for quality tests; CI sets this explicitly.
if [ -z "${PHOTOSIM_TEST_MODEL_DIR:-}" ] && [ -d ../shared/models ]; then
  export PHOTOSIM_TEST_MODEL_DIR="$(cd ../shared/models && pwd)"
fi

echo "== ruff";          "$VENV/bin/ruff" check photosim tests benchmarks models packaging
echo "== mypy";          "$VENV/bin/mypy"
echo "== import-linter"; "$VENV/bin/lint-imports"
echo "== pytest";        "$VENV/bin/python" -m pytest "$@"
