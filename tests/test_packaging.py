"""Desktop integration and packaging: validators, icons, the wheel, install/uninstall, --version."""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "resources"
PACKAGING = REPO / "packaging"
APP_ID = "io.github.photosim.Photosim"
DESKTOP = RESOURCES / "photosim.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"
NAUTILUS_SCRIPT = RESOURCES / "nautilus" / "Find similar photos"
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
IMAGE_TYPES = {"image/jpeg", "image/png", "image/heic", "image/webp"}


def require_tool(name: str, package: str) -> str:
    """The tool's path. CI must have it (`.ci/run` installs it); elsewhere its absence skips."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is missing (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          check=False, **kwargs)  # type: ignore[call-overload]


def read_entry(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def project_version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


# --- desktop entry, file-manager actions -------------------------------------------------------

def test_desktop_entry_passes_desktop_file_validate() -> None:
    tool = require_tool("desktop-file-validate", "desktop-file-utils")
    result = run(tool, DESKTOP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout and "warning" not in result.stdout, result.stdout


def test_desktop_entry_opens_photos_and_offers_find_similar() -> None:
    entry = read_entry(DESKTOP)
    main = entry["Desktop Entry"]
    assert main["Exec"] == "photosim %F"
    assert main["Icon"] == "photosim"
    assert set(main["MimeType"].rstrip(";").split(";")) >= IMAGE_TYPES
    actions = [a for a in main["Actions"].split(";") if a]
    execs = {entry[f"Desktop Action {a}"]["Name"]: entry[f"Desktop Action {a}"]["Exec"]
             for a in actions}
    assert execs == {"Find similar photos": "photosim similar --gui %f"}


def test_dolphin_service_menu_finds_similar_for_images() -> None:
    entry = read_entry(RESOURCES / "dolphin" / "photosim-find-similar.desktop")
    assert entry["Desktop Entry"]["Type"] == "Service"
    assert set(entry["Desktop Entry"]["MimeType"].rstrip(";").split(";")) >= IMAGE_TYPES
    (action,) = [a for a in entry["Desktop Entry"]["Actions"].split(";") if a]
    assert entry[f"Desktop Action {action}"]["Exec"] == "photosim similar --gui %f"


def test_nemo_action_finds_similar_for_one_image() -> None:
    entry = read_entry(RESOURCES / "nemo" / "photosim-find-similar.nemo_action")
    action = entry["Nemo Action"]
    assert action["Exec"] == "photosim similar --gui %F"
    assert action["Selection"] == "s"
    assert set(action["Mimetypes"].rstrip(";").split(";")) >= IMAGE_TYPES


def test_nautilus_script_hands_the_first_selected_photo_to_photosim(tmp_path: Path) -> None:
    # A stand-in `photosim` on PATH records how the script calls it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = bin_dir / "photosim"
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"\n')
    recorder.chmod(0o755)
    record = tmp_path / "args.txt"
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(record)}
    photo = tmp_path / "my photo.jpg"
    result = run("sh", NAUTILUS_SCRIPT, photo, tmp_path / "other.jpg", env=env)
    assert result.returncode == 0, result.stderr
    assert record.read_text().splitlines() == ["similar", "--gui", str(photo)]
    assert os.access(NAUTILUS_SCRIPT, os.X_OK), "Nautilus only lists executable scripts"


# --- AppStream --------------------------------------------------------------------------------

def test_metainfo_passes_appstreamcli_validate() -> None:
    tool = require_tool("appstreamcli", "appstream")
    result = run(tool, "validate", "--no-net", METAINFO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_metainfo_names_the_app_its_launcher_and_current_version() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    assert root.findtext("icon") == "photosim"
    assert root.findtext("provides/binary") == "photosim"
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == project_version(), \
        "add a <release> for the new version to the metainfo"


# --- icons ------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", HICOLOR_SIZES)
def test_hicolor_icon_has_its_size(size: int) -> None:
    png = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "photosim.png"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (size, size)
        assert image.mode == "RGBA"
        assert image.getchannel("A").getextrema() == (0, 255), "rounded corners are transparent"


def test_windows_and_macos_icons_exist() -> None:
    with Image.open(RESOURCES / "icons" / "photosim.ico") as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    with Image.open(RESOURCES / "icons" / "photosim.icns") as icns:
        assert icns.format == "ICNS"


def test_committed_pngs_are_rendered_from_the_current_svg() -> None:
    """Fails when the SVG was edited without running packaging/make_icons.py."""
    sys.path.insert(0, str(PACKAGING))
    try:
        import make_icons
    finally:
        sys.path.remove(str(PACKAGING))
    svg = RESOURCES / "icons" / "photosim.svg"
    fresh = _pixels(make_icons.render_png(svg, 64))
    with Image.open(make_icons.hicolor_path(RESOURCES / "icons", 64)) as committed:
        committed_pixels = np.asarray(committed.convert("RGBA"), np.float32)
    assert np.abs(fresh - committed_pixels).mean() < 2.0


def _pixels(png: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGBA"), np.float32)


# --- the wheel --------------------------------------------------------------------------------

def test_wheel_carries_model_specs_and_desktop_resources(tmp_path: Path) -> None:
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401
    except ImportError as exc:
        reason = f"building the wheel offline needs setuptools and wheel installed ({exc})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Build from a copy: an in-tree build would write build/ into the checkout others test in.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("photosim", "models", "resources"):
        shutil.copytree(REPO / folder, src / folder, ignore=ignore)
    out = tmp_path / "out"
    result = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--no-index", "-q", "-w", out, src)
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = out.glob("photosim-*.whl")
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
    expected = {
        "photosim/model_specs/resnet50-v1-12.json",
        "photosim/model_specs/resnet50-v1-12-int8.json",
        "photosim/core/imagenet_classes.json",
        "photosim/core/imagenet_words.json.gz",  # word search's WordNet table
        "photosim/resources/photosim.desktop",
        f"photosim/resources/{APP_ID}.metainfo.xml",
        "photosim/resources/icons/photosim.svg",
        "photosim/resources/dolphin/photosim-find-similar.desktop",
        "photosim/resources/nautilus/Find similar photos",
        *(f"photosim/resources/icons/hicolor/{s}x{s}/apps/photosim.png" for s in HICOLOR_SIZES),
    }
    assert expected <= names, sorted(expected - names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(built) as archive:
        assert "photosim = photosim.__main__:main" in archive.read(entry_points).decode()


# --- version ----------------------------------------------------------------------------------

def test_version_flag_prints_the_package_version() -> None:
    import photosim

    module = "photosim" if (REPO / "photosim" / "__main__.py").is_file() else "photosim.cli.main"
    result = run(sys.executable, "-m", module, "--version")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"photosim {photosim.__version__}"
    assert photosim.__version__ == project_version()


# --- install / uninstall to a prefix ----------------------------------------------------------

def test_install_then_uninstall_to_a_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # A path with a space: the desktop entries must quote it.
    command = tmp_path / "my apps" / "photosim"
    result = run("bash", PACKAGING / "install-linux.sh", "--prefix", prefix, "--exec", command)
    assert result.returncode == 0, result.stderr
    share = prefix / "share"
    desktop = share / "applications" / f"{APP_ID}.desktop"
    installed = read_entry(desktop)
    assert installed["Desktop Entry"]["Exec"] == f'"{command}" %F'
    assert installed["Desktop Action find-similar"]["Exec"] == f'"{command}" similar --gui %f'
    if shutil.which("desktop-file-validate"):
        check = run("desktop-file-validate", desktop)
        assert check.returncode == 0, check.stdout
    for size in HICOLOR_SIZES:
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "photosim.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "photosim.svg").is_file()
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    service_menu = share / "kio" / "servicemenus" / "photosim-find-similar.desktop"
    assert service_menu.stat().st_mode & stat.S_IXUSR, "KF6 Dolphin needs it executable"
    script = share / "nautilus" / "scripts" / "Find similar photos"
    assert f'exec "{command}" similar --gui "$1"' in script.read_text()
    assert (share / "nemo" / "actions" / "photosim-find-similar.nemo_action").is_file()

    result = run("bash", PACKAGING / "uninstall-linux.sh", "--prefix", prefix)
    assert result.returncode == 0, result.stderr
    # Only the desktop's own caches (regenerated by update-desktop-database) may stay.
    left = [p for p in prefix.rglob("*")
            if p.is_file() and p.name not in {"mimeinfo.cache", "icon-theme.cache"}]
    assert left == []


def test_shell_scripts_parse() -> None:
    for script in ("build.sh", "smoke_bundle.sh", "install-linux.sh", "uninstall-linux.sh"):
        result = run("bash", "-n", PACKAGING / script)
        assert result.returncode == 0, f"{script}: {result.stderr}"
        assert os.access(PACKAGING / script, os.X_OK), f"{script} is not executable"


def test_pyinstaller_spec_is_valid_python_and_uses_the_launcher() -> None:
    spec = (PACKAGING / "photosim.spec").read_text()
    compile(spec, "photosim.spec", "exec")
    assert '"launcher.py"' in spec and (PACKAGING / "launcher.py").is_file()
    for needed in ("onnxruntime", "pillow_heif", "hnswlib", "photosim.model_specs",
                   "photosim.resources", 'copy_metadata("photosim")'):
        assert needed in spec, f"the spec no longer collects {needed}"


def _bundle_trim():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(PACKAGING))
    try:
        import bundle_trim
    finally:
        sys.path.remove(str(PACKAGING))
    return bundle_trim


def _readelf_needed(path: str) -> list[str]:
    out = run(require_tool("readelf", "binutils"), "-d", path).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def test_bundle_trim_strips_symbol_tables_into_copies(tmp_path: Path) -> None:
    trim = _bundle_trim()
    require_tool("strip", "binutils")
    import hnswlib  # built here from source (HNSWLIB_NO_NATIVE), so it keeps its symbols

    source = Path(hnswlib.__file__)
    if not trim.has_symbol_table(source):
        pytest.skip("this hnswlib build carries no symbol table")
    [(dest, copy, kind)] = trim.stripped([("hnswlib.so", str(source), "EXTENSION")],
                                         tmp_path, platform="linux")
    assert (dest, kind) == ("hnswlib.so", "EXTENSION") and Path(copy).parent == tmp_path
    assert not trim.has_symbol_table(copy) and trim.has_symbol_table(source)
    assert trim.segments_aligned(copy)
    assert Path(copy).stat().st_size < source.stat().st_size
    assert _readelf_needed(copy) == _readelf_needed(str(source))  # links the same
    assert not trim.has_symbol_table(PACKAGING / "launcher.py")  # not ELF at all


def test_bundle_trim_keeps_a_library_that_stripping_would_misalign(tmp_path: Path) -> None:
    """numpy's OpenBLAS, rewritten by patchelf: stripped, its added segments lose their page
    alignment and the loader refuses it, which is how a first trimmed bundle died."""
    trim = _bundle_trim()
    require_tool("strip", "binutils")
    libs = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas*"))
    if not libs or not trim.has_symbol_table(libs[0]):
        pytest.skip("no numpy OpenBLAS with a symbol table here")
    [(_, used, _)] = trim.stripped([("numpy.libs/" + libs[0].name, str(libs[0]), "BINARY")],
                                   tmp_path, platform="linux")
    copy = tmp_path / "numpy.libs" / libs[0].name
    assert copy.is_file() and not trim.segments_aligned(copy)
    assert used == str(libs[0]) and trim.segments_aligned(used)


def test_bundle_trim_leaves_out_the_gtk_theme_and_what_only_it_needs() -> None:
    trim = _bundle_trim()
    qt = Path(__import__("PySide6").__file__).parent / "Qt"
    system = Path("/usr/lib/x86_64-linux-gnu")
    if not (system / "libcairo.so.2").is_file() or not (qt / "plugins/platformthemes").is_dir():
        pytest.skip("needs a Linux PySide6 wheel and the system's cairo")
    names = [
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/lib/libQt6Gui.so.6",
        "libcairo.so.2",  # needed by the GTK3 theme only
        "libpixman-1.so.0",  # needed by cairo only
        "libglib-2.0.so.0",  # needed by QtCore too
    ]
    entries = [(name, str(qt / name.removeprefix("PySide6/Qt/") if "/" in name
                          else system / name), "BINARY") for name in names]
    kept = trim.without_unused(entries, _readelf_needed, platform="linux")
    assert [d for d, _, _ in kept] == [
        "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/lib/libQt6Gui.so.6", "libglib-2.0.so.0"]


def test_bundle_trim_keeps_what_execution_providers_need() -> None:
    trim = _bundle_trim()
    assert trim.is_unused("onnxruntime/capi/libonnxruntime.so.1.32.0", platform="linux")
    assert trim.is_unused("PySide6/Qt/translations/qtbase_de.qm", platform="win32")
    assert not trim.is_unused("onnxruntime/capi/libonnxruntime.so.1.32.0", platform="win32")
    for kept in ("onnxruntime/capi/libonnxruntime_providers_shared.so",
                 "onnxruntime/capi/libonnxruntime_providers_cuda.so",
                 "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so",
                 "PySide6/Qt/plugins/platforms/libqoffscreen.so",
                 "PySide6/Qt/plugins/platforms/libqwayland.so",
                 "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
                 # platforms photosim.__main__ accepts without a display (remote viewers)
                 "PySide6/Qt/plugins/platforms/libqvnc.so",
                 "PySide6/Qt/plugins/platforms/libqeglfs.so",
                 "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
                 "PySide6/Qt/plugins/generic/libqevdevkeyboardplugin.so"):
        assert not trim.is_unused(kept, platform="linux"), kept
