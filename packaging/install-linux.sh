#!/usr/bin/env bash
# Put photosim on the Linux desktop: launcher entry, icons, AppStream metainfo, and the
# "Find similar photos" right-click action for Dolphin, Nautilus (GNOME Files) and Nemo.
#
#   packaging/install-linux.sh [--prefix DIR] [--bundle DIR] [--exec PATH]
#
#   --prefix DIR  where to install (default ~/.local; /usr/local works with sudo)
#   --bundle DIR  also install a PyInstaller bundle (dist/photosim) to PREFIX/lib/photosim and
#                 link PREFIX/bin/photosim and photosim-cli to it
#   --exec PATH   the photosim command the entries run (default: the bundle's, else the
#                 `photosim` found on PATH, e.g. from `pip install --user photosim`)
#
# Every file written is listed in PREFIX/share/photosim/install-manifest.txt, which
# uninstall-linux.sh reads to remove exactly those.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="$HOME/.local"
BUNDLE=""
EXEC=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --bundle) BUNDLE="$(cd "$2" && pwd)"; shift 2 ;;
    --exec) EXEC="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-linux.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
DATA="$PREFIX/share"
APP_ID="io.github.photosim.Photosim"

# Resources come from the source tree, or from the bundle when installing one without it.
RES="$HERE/../resources"
if [ ! -f "$RES/photosim.desktop" ] && [ -n "$BUNDLE" ]; then
  RES="$BUNDLE/_internal/photosim/resources"
fi
[ -f "$RES/photosim.desktop" ] || { echo "install-linux.sh: no resources in $RES" >&2; exit 1; }

MANIFEST_DIR="$DATA/photosim"
MANIFEST="$MANIFEST_DIR/install-manifest.txt"
mkdir -p "$MANIFEST_DIR"
: > "$MANIFEST"

record() { printf '%s\n' "$1" >> "$MANIFEST"; }

# put SRC DEST [MODE]: install one file and record it.
put() {
  mkdir -p "$(dirname "$2")"
  install -m "${3:-644}" "$1" "$2"
  record "$2"
}

if [ -n "$BUNDLE" ]; then
  [ -x "$BUNDLE/photosim" ] || { echo "install-linux.sh: $BUNDLE/photosim missing" >&2; exit 1; }
  rm -rf "$PREFIX/lib/photosim"
  mkdir -p "$PREFIX/lib" "$PREFIX/bin"
  cp -a "$BUNDLE" "$PREFIX/lib/photosim"
  record "$PREFIX/lib/photosim/"
  for exe in photosim photosim-cli; do
    ln -sfn "../lib/photosim/$exe" "$PREFIX/bin/$exe"
    record "$PREFIX/bin/$exe"
  done
  EXEC="${EXEC:-$PREFIX/bin/photosim}"
fi
if [ -z "$EXEC" ]; then
  EXEC="$(command -v photosim || true)"
  if [ -z "$EXEC" ]; then
    echo "install-linux.sh: warning: no photosim on PATH; the entries will run plain" \
         "'photosim' (install it, or pass --bundle / --exec)" >&2
    EXEC="photosim"
  fi
fi

# Desktop entries run EXEC by absolute path: a launcher's PATH often lacks ~/.local/bin.
# The desktop-entry spec wants a path with spaces quoted.
DESKTOP_EXEC="$EXEC"
case "$EXEC" in *" "*) DESKTOP_EXEC="\"$EXEC\"" ;; esac
SED_EXEC="$(printf '%s' "$DESKTOP_EXEC" | sed 's/[\\&|]/\\&/g')"
SED_SCRIPT_EXEC="$(printf '%s' "$EXEC" | sed 's/[\\&|"]/\\&/g')"

# put_entry SRC DEST [MODE]: install a desktop-style file with Exec pointing at EXEC.
put_entry() {
  local tmp
  tmp="$(mktemp)"
  sed -e "s|^Exec=photosim |Exec=$SED_EXEC |" -e "s|^TryExec=photosim\$|TryExec=$SED_EXEC|" \
      -e "s|^Dependencies=photosim;|Dependencies=$SED_EXEC;|" "$1" > "$tmp"
  put "$tmp" "$2" "${3:-644}"
  rm -f "$tmp"
}

put_entry "$RES/photosim.desktop" "$DATA/applications/$APP_ID.desktop"
put "$RES/$APP_ID.metainfo.xml" "$DATA/metainfo/$APP_ID.metainfo.xml"
for png in "$RES"/icons/hicolor/*/apps/photosim.png; do
  size="$(basename "$(dirname "$(dirname "$png")")")"
  put "$png" "$DATA/icons/hicolor/$size/apps/photosim.png"
done
put "$RES/icons/photosim.svg" "$DATA/icons/hicolor/scalable/apps/photosim.svg"

# File-manager actions. KF6 Dolphin loads a service menu only when it is executable.
put_entry "$RES/dolphin/photosim-find-similar.desktop" \
  "$DATA/kio/servicemenus/photosim-find-similar.desktop" 755
put_entry "$RES/nemo/photosim-find-similar.nemo_action" \
  "$DATA/nemo/actions/photosim-find-similar.nemo_action"
tmp="$(mktemp)"
sed -e "s|^exec photosim |exec \"$SED_SCRIPT_EXEC\" |" "$RES/nautilus/Find similar photos" > "$tmp"
put "$tmp" "$DATA/nautilus/scripts/Find similar photos" 755
rm -f "$tmp"
record "$MANIFEST"

# Refresh the desktop's caches where the tools exist; a missing tool is not an error.
if command -v update-desktop-database > /dev/null; then
  update-desktop-database -q "$DATA/applications" || true
fi
if command -v gtk-update-icon-cache > /dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
  gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
fi
echo "photosim installed under $PREFIX (runs: $EXEC)"
echo "remove it with: $HERE/uninstall-linux.sh --prefix $PREFIX"
