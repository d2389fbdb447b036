#!/usr/bin/env bash
# Set up a virtualenv (.venv) with photosim and launch the desktop app.
# Extra arguments are passed to `photosim` (e.g. a folder to add to the library).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PHOTOSIM_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
HNSWLIB_NO_NATIVE=1 "$VENV/bin/python" -m pip install -q -e .
exec "$VENV/bin/photosim" "$@"
