"""Leaving out of the bundle what photosim never loads, and the symbol tables of what it does.

Used by photosim.spec (PyInstaller entries are (destination, source, kind) tuples); kept apart
so that the tests can run it on real libraries. See packaging/README.md for what it saves.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

Entry = tuple[str, str, str]  # PyInstaller's (destination in the bundle, source file, kind)
Imports = Callable[[str], Iterable[str]]  # a library's link-time dependencies, by file name

# Qt's translations: photosim installs no QTranslator. Qt's network-information and TLS back
# ends (downloads go through Python, not Qt), the EGL-without-display platform nobody starts
# photosim on, and the GTK3 theme, which would bring the build machine's cairo, pango and
# gdk-pixbuf to sit beside the user's GTK; Qt then uses the XDG portal's dialogs or its own.
# Kept: every platform photosim.__main__ accepts (xcb, wayland, offscreen, minimal, and for
# remote viewers and kiosks vnc, eglfs, linuxfb, vkkhrdisplay with their input plugins).
UNUSED_QT = (
    "PySide6/Qt/translations/",
    "PySide6/Qt/plugins/networkinformation/",
    "PySide6/Qt/plugins/tls/",
    "PySide6/Qt/plugins/platformthemes/libqgtk3",
    "PySide6/Qt/plugins/platforms/libqminimalegl",
)
# onnxruntime's C-API library: on Linux the Python module (onnxruntime_pybind11_state) holds the
# whole runtime and does not link it (readelf -d). Execution provider libraries (CUDA, TensorRT)
# link libonnxruntime_providers_shared instead, which stays, so they remain selectable.
UNUSED_ON_LINUX = ("onnxruntime/capi/libonnxruntime.so",)


def is_unused(dest: str, platform: str = sys.platform) -> bool:
    dest = dest.replace("\\", "/")
    return dest.startswith(UNUSED_QT) or (platform.startswith("linux")
                                          and dest.startswith(UNUSED_ON_LINUX))


def without_unused(entries: list[Entry], imports: Imports,
                   platform: str = sys.platform) -> list[Entry]:
    """The entries less the unused ones, and less the libraries that only those needed."""
    dropped = [e for e in entries if is_unused(e[0], platform)]
    kept = [e for e in entries if not is_unused(e[0], platform)]
    by_name = {Path(dest).name: src for dest, src, _ in entries}
    removable = _needed(dropped, by_name, imports)
    while True:  # shrink to a fixed point: what no library that stays needs
        staying = [e for e in kept if Path(e[0]).name not in removable]
        still = removable - _needed(staying, by_name, imports)
        if still == removable:
            break
        removable = still
    return [e for e in kept if Path(e[0]).name not in removable]


def _needed(entries: list[Entry], by_name: dict[str, str], imports: Imports) -> set[str]:
    """The file names of every library the entries reach through link-time dependencies."""
    seen: set[str] = set()
    todo = [src for _, src, _ in entries]
    while todo:
        for name in imports(todo.pop()):
            if name not in seen:
                seen.add(name)
                if name in by_name:
                    todo.append(by_name[name])
    return seen


def has_symbol_table(path: str | Path) -> bool:
    """Whether a 64-bit little-endian ELF file still carries a symbol table (SHT_SYMTAB)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return False
        (section_headers,) = struct.unpack_from("<Q", head, 0x28)
        entry_size, count = struct.unpack_from("<HH", head, 0x3A)
        for i in range(count):
            f.seek(section_headers + i * entry_size + 4)  # sh_type follows sh_name
            if struct.unpack("<I", f.read(4))[0] == 2:
                return True
    return False


def stripped(entries: list[Entry], out_dir: Path, platform: str = sys.platform) -> list[Entry]:
    """On Linux, entries whose library still has its symbol table (libpython, the hnswlib built
    here, PyAV's and pillow-heif's modules, ...) point to a stripped copy under ``out_dir``.
    ``strip --strip-unneeded`` keeps the dynamic symbols, so loading and linking are unchanged;
    a copy whose segments came out misaligned is not used. Libraries already stripped are left
    as they are (PyInstaller's strip=True would rewrite every one)."""
    strip = shutil.which("strip")
    if not platform.startswith("linux") or strip is None:
        return entries
    result = []
    for dest, src, kind in entries:
        if Path(src).is_file() and has_symbol_table(src):
            copy = out_dir / dest
            if not copy.exists() or copy.stat().st_mtime < Path(src).stat().st_mtime:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, copy)
                subprocess.run([strip, "--strip-unneeded", str(copy)], check=True)
            if segments_aligned(copy):
                src = str(copy)
        result.append((dest, src, kind))
    return result


def segments_aligned(path: str | Path) -> bool:
    """Whether every loadable segment's file offset and address agree modulo the page size, as
    the dynamic loader demands. Stripping a library that patchelf rewrote (numpy's and scipy's
    OpenBLAS) can empty the segments patchelf added and leave them misaligned: the loader then
    refuses it ("ELF load command address/offset not page-aligned"), so it stays unstripped."""
    with open(path, "rb") as f:
        head = f.read(64)
        (program_headers,) = struct.unpack_from("<Q", head, 0x20)
        entry_size, count = struct.unpack_from("<HH", head, 0x36)
        for i in range(count):
            f.seek(program_headers + i * entry_size)
            kind, _, offset, address, _, _, _, align = struct.unpack("<IIQQQQQQ", f.read(56))
            if kind == 1 and (address - offset) % max(align, 4096):  # PT_LOAD
                return False
    return True
