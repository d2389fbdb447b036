#!/usr/bin/env bash
# Build the photosim wheel and the one-folder PyInstaller bundle, in a clean virtualenv.
#
#   packaging/build.sh            → dist/photosim-<version>-py3-none-any.whl, dist/photosim/
#
# Environment: PYTHON (default python3, ≥ 3.11), PHOTOSIM_BUILD_VENV (default
# build/bundle-venv; reused between runs). Works the same in Git Bash on Windows and on macOS.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
PYTHON="${PYTHON:-python3}"
VENV="${PHOTOSIM_BUILD_VENV:-build/bundle-venv}"

if [ -x "$VENV/bin/python" ]; then VPY="$VENV/bin/python"
elif [ -x "$VENV/Scripts/python.exe" ]; then VPY="$VENV/Scripts/python.exe"
else
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
  if [ -x "$VENV/bin/python" ]; then VPY="$VENV/bin/python"; else VPY="$VENV/Scripts/python.exe"; fi
fi
PIP=("$VPY" -m pip --disable-pip-version-check)

# hnswlib is published on PyPI only as source, and its setup.py compiles with -march=native:
# the binary then uses every instruction of the build machine (AVX-512, say), and the bundle
# dies with "illegal instruction" on an older CPU. HNSWLIB_NO_NATIVE=1 drops that flag, so it
# targets the baseline of the platform (x86-64 SSE2 / arm64). It costs a little speed in
# distance computations, which the CNN dwarfs anyway. --no-cache-dir because pip would
# otherwise reuse a wheel it once built natively for another environment. The marker file
# records that this venv's hnswlib was built this way, so later runs skip the rebuild.
MARKER="$VENV/.hnswlib-portable"
if [ ! -f "$MARKER" ]; then
  echo "== hnswlib, compiled portably (HNSWLIB_NO_NATIVE=1)"
  HNSWLIB_NO_NATIVE=1 "${PIP[@]}" install -q --no-cache-dir --no-binary hnswlib \
    --force-reinstall --no-deps "hnswlib>=0.8"
  "${PIP[@]}" install -q "numpy>=1.26"
  touch "$MARKER"
fi

echo "== wheel"
rm -f dist/photosim-*.whl
"${PIP[@]}" wheel -q --no-deps -w dist .
WHEEL=$(ls dist/photosim-*.whl)
echo "$WHEEL"

echo "== installing the wheel and PyInstaller into $VENV"
HNSWLIB_NO_NATIVE=1 "${PIP[@]}" install -q "$WHEEL" "pyinstaller>=6.5"
"${PIP[@]}" install -q --force-reinstall --no-deps "$WHEEL"

echo "== PyInstaller bundle"
# From inside build/: run from the repo root, the source tree's photosim/ would shadow the
# installed wheel, which alone holds the data packages (model specs, resources) at their places.
mkdir -p build
VPY_ABS="$(cd "$(dirname "$VPY")" && pwd)/$(basename "$VPY")"
(cd build && "$VPY_ABS" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath ../dist --workpath pyinstaller ../packaging/photosim.spec)

BUNDLE=dist/photosim
echo "== done in $(( $(date +%s) - START )) s"
echo "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1), $(find "$BUNDLE" -type f | wc -l) files)"
echo "run it: $BUNDLE/photosim    smoke test: packaging/smoke_bundle.sh"
