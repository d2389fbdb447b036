#!/usr/bin/env bash
# Remove what install-linux.sh put under PREFIX (default ~/.local), as listed in its manifest.
# The user's library (catalog, index, thumbnails, models in ~/.local/share/photosim/ or
# $PHOTOSIM_DATA_DIR) is left alone: it is data, not the program.
#
#   packaging/uninstall-linux.sh [--prefix DIR]
set -euo pipefail
PREFIX="$HOME/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall-linux.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
DATA="$PREFIX/share"
MANIFEST="$DATA/photosim/install-manifest.txt"
if [ ! -f "$MANIFEST" ]; then
  echo "uninstall-linux.sh: nothing to do, no $MANIFEST" >&2
  exit 0
fi

while IFS= read -r path; do
  case "$path" in
    "$PREFIX"/lib/photosim/)
      # A bundle folder: removed whole, but only if it still looks like ours.
      if [ -e "${path}photosim" ] && [ -d "${path}_internal" ]; then rm -rf "$path"; fi ;;
    "$PREFIX"/*) rm -f "$path" ;;
    *) echo "uninstall-linux.sh: skipping $path, outside $PREFIX" >&2 ;;
  esac
done < "$MANIFEST"
rm -f "$MANIFEST"
rmdir "$DATA/photosim" 2> /dev/null || true  # kept when it also holds the user's library

if command -v update-desktop-database > /dev/null && [ -d "$DATA/applications" ]; then
  update-desktop-database -q "$DATA/applications" || true
fi
if command -v gtk-update-icon-cache > /dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
  gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
fi
echo "photosim removed from $PREFIX"
