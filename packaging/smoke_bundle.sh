#!/usr/bin/env bash
# Smoke-test a built bundle the way a user without Python would run it: a clean environment,
# a fresh data dir, a small generated photo library. It checks that
#   1. both executables start and report the version,
#   2. `photosim-cli index DIR` indexes the library (JPEGs, a HEIC, a video) with a real model,
#      and `photosim-cli status` counts it,
#   3. `photosim-cli similar FILE --json` ranks the copies of a photo above the other photos,
#   4. the desktop app starts offscreen on the similar photos of a file and stays up, and a
#      second launch (`photosim similar --gui FILE`) hands its file over to it and exits.
#
#   packaging/smoke_bundle.sh [BUNDLE_DIR]       (default dist/photosim)
#
# The test photos (and, without the shared EfficientNet-Lite0 model, a tiny generated model)
# are made with a Python that has numpy, Pillow and onnx: $PYTHON, else the build venv's.
# PHOTOSIM_SMOKE_MODEL_DIR (default ../shared/models, like the tests) holds the real model.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
BUNDLE="$(cd "${1:-dist/photosim}" && pwd)"
PYTHON="${PYTHON:-${PHOTOSIM_BUILD_VENV:-build/bundle-venv}/bin/python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "SMOKE FAIL: $*" >&2; exit 1; }

# The bundle runs with nothing from this shell: no venv, no PYTHONPATH, a throwaway HOME.
run_bundled() {
  env -i HOME="$WORK/home" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
    PHOTOSIM_DATA_DIR="$WORK/data" XDG_RUNTIME_DIR="$WORK/runtime" "$@"
}
mkdir -p "$WORK/home" "$WORK/runtime" && chmod 700 "$WORK/runtime"

echo "== photos"
"$PYTHON" - "$WORK" <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, ".")
from tests.imagegen import save, scene  # noqa: E402

work = Path(sys.argv[1])
for seed in range(8):
    save(scene(seed), work / "library" / f"scene{seed}.jpg", quality=90)
original = scene(3)
# A smaller re-encoded copy in the library, and a cropped one outside it as the query.
save(original.resize((320, 240)), work / "library" / "scene3_small.jpg", quality=75)
save(original.crop((16, 12, 624, 468)), work / "query" / "scene3_crop.jpg", quality=85)
# A HEIC photo: the bundle's libheif (and its codecs' libraries) must load and decode.
import pillow_heif  # noqa: E402

pillow_heif.register_heif_opener()
scene(9).save(work / "library" / "scene9.heic", quality=80)
# A video: the bundle's PyAV and FFmpeg libraries must load and decode its frames.
from tests.videogen import encode  # noqa: E402

encode(work / "library" / "clip.mp4", [(scene(10), 2.0), (scene(11), 2.0)])
EOF

MODEL_DIR="${PHOTOSIM_SMOKE_MODEL_DIR:-$REPO/../shared/models}"
if [ -f "$MODEL_DIR/efficientnet_lite0_embed.onnx" ]; then
  MODEL=(--model "$MODEL_DIR/efficientnet_lite0_embed.onnx" --model-spec efficientnet-lite0)
  echo "== model: EfficientNet-Lite0 from $MODEL_DIR"
else
  "$PYTHON" -c "import sys; sys.path.insert(0, '.'); from pathlib import Path; \
from tests.modelgen import write_tiny_model_with_spec as w; w(Path('$WORK'), classifier=False)"
  MODEL=(--model "$WORK/tiny_embedder.onnx" --model-spec "$WORK/tiny_embedder.json")
  echo "== model: tiny generated model (the shared real model is missing)"
fi

echo "== version"
run_bundled "$BUNDLE/photosim" --version | tee "$WORK/version.txt"
run_bundled "$BUNDLE/photosim-cli" --version
grep -q "^photosim [0-9]" "$WORK/version.txt" || fail "photosim --version printed no version"

echo "== index"
SECONDS=0
run_bundled "$BUNDLE/photosim-cli" "${MODEL[@]}" --json index "$WORK/library" > "$WORK/index.json"
cat "$WORK/index.json"
echo "indexed in ${SECONDS} s"

echo "== similar"
run_bundled "$BUNDLE/photosim-cli" "${MODEL[@]}" --json similar "$WORK/query/scene3_crop.jpg" \
  -k 3 > "$WORK/similar.json"
cat "$WORK/similar.json"
"$PYTHON" - "$WORK" <<'EOF' || fail "similar did not rank the copies of scene3 first"
import json
import sys
from pathlib import Path

work = Path(sys.argv[1])
report = json.loads((work / "index.json").read_text())
assert report["embedded"] == 11 and report["failed"] == 0, f"expected 11 embedded: {report}"
top = [Path(r["path"]).name for r in json.loads((work / "similar.json").read_text())["results"]]
assert sorted(top[:2]) == ["scene3.jpg", "scene3_small.jpg"], top
print("similar OK:", top)
EOF

echo "== status"
run_bundled "$BUNDLE/photosim-cli" "${MODEL[@]}" status | tee "$WORK/status.txt"
grep -q "^photos: 11 (11 embedded, 0 unreadable)" "$WORK/status.txt" \
  || fail "status did not count the 10 photos and the video"

echo "== desktop app, offscreen"
# The app opens on the photos similar to the query; a second launch, as a file manager's
# "Find similar photos" runs it, must hand its file to this instance and exit at once.
# In its own process group: the bootloader runs the app in a child process, and stopping the
# group stops both.
setsid env -i HOME="$WORK/home" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
  PHOTOSIM_DATA_DIR="$WORK/data" XDG_RUNTIME_DIR="$WORK/runtime" \
  "$BUNDLE/photosim" "${MODEL[@]}" --similar "$WORK/query/scene3_crop.jpg" \
  > "$WORK/gui.log" 2>&1 &
GUI_PID=$!
stop_gui() { kill -- "-$GUI_PID" 2> /dev/null || true; }
trap 'stop_gui; rm -rf "$WORK"' EXIT
sleep 10
kill -0 "$GUI_PID" 2> /dev/null || { cat "$WORK/gui.log"; fail "the app exited within 10 s"; }
SECONDS=0
run_bundled timeout 30 "$BUNDLE/photosim" similar --gui "$WORK/library/scene5.jpg" \
  > "$WORK/second.log" 2>&1 || { cat "$WORK/second.log"; fail "the second launch failed"; }
echo "second launch handed over and exited in ${SECONDS} s"
sleep 2
kill -0 "$GUI_PID" 2> /dev/null || { cat "$WORK/gui.log"; fail "the app died after the hand-over"; }
stop_gui
wait "$GUI_PID" 2> /dev/null || true
cat "$WORK/gui.log"
if grep -qE "Traceback|could not load the Qt platform plugin" "$WORK/gui.log"; then
  fail "the app reported an error"
fi
echo "SMOKE OK: $(du -sh "$BUNDLE" | cut -f1) bundle at $BUNDLE"
