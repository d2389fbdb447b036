"""The single-instance socket: private to the user, and deaf to malformed messages."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalSocket

from photosim.ui.single_instance import (
    InstanceServer,
    UnsafeRuntimeDir,
    hand_over,
    parse_message,
    server_name,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets and modes")


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return runtime


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No runtime dir: the fallback goes under this stand-in for /tmp."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    return shared


def test_the_socket_lives_in_the_users_runtime_dir(runtime_dir: Path, tmp_path: Path) -> None:
    name = Path(server_name(tmp_path / "data"))
    assert name.parent == runtime_dir
    assert name != Path(server_name(tmp_path / "other"))


def test_without_a_runtime_dir_a_private_folder_of_the_users_is_made(
        private_tmp: Path, tmp_path: Path) -> None:
    name = Path(server_name(tmp_path / "data"))
    assert name.parent == private_tmp / f"photosim-{os.getuid()}"
    assert name.parent.stat().st_mode & 0o777 == 0o700


def test_a_fallback_folder_open_to_others_is_never_used(private_tmp: Path,
                                                        tmp_path: Path) -> None:
    squatted = private_tmp / f"photosim-{os.getuid()}"
    squatted.mkdir(mode=0o777)
    squatted.chmod(0o777)  # as another user would leave a folder they made for us
    with pytest.raises(UnsafeRuntimeDir):
        server_name(tmp_path / "data")
    assert hand_over(tmp_path / "data", {"folders": [], "similar": None}) is False


def test_a_fallback_link_is_never_followed(private_tmp: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (private_tmp / f"photosim-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(UnsafeRuntimeDir):
        server_name(tmp_path / "data")


def test_a_runtime_dir_open_to_others_is_passed_over(runtime_dir: Path, private_tmp: Path,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    runtime_dir.chmod(0o755)
    assert Path(server_name(tmp_path / "data")).parent == private_tmp / f"photosim-{os.getuid()}"


@pytest.mark.parametrize("raw", [
    b'{"folders": "."}',  # a string where the list belongs: never iterated into "/" etc.
    b'{"folders": "/"}',
    b'{"folders": ["relative/path"]}',
    b'{"folders": [1, 2]}',
    b'{"folders": [["/a"]]}',
    b'{"similar": ["/a.jpg"]}',
    b'{"similar": "x.jpg"}',
    b'{"folders": ["/a\\u0000b"]}',
    b'{"folders": [], "run": "rm -rf"}',
    b'["/a"]',
    b'"/"',
    b"\xff\xfe",
    b"{" * 10,
])
def test_malformed_messages_are_refused(raw: bytes) -> None:
    assert parse_message(raw) is None


def test_a_launch_message_is_accepted_as_is() -> None:
    raw = json.dumps({"folders": ["/photos/a", "/photos/b"], "similar": "/p/x.jpg"}).encode()
    assert parse_message(raw) == {"folders": ["/photos/a", "/photos/b"], "similar": "/p/x.jpg"}
    assert parse_message(b'{"folders": []}') == {"folders": [], "similar": None}


def test_the_server_acts_only_on_valid_messages(qtbot: object, runtime_dir: Path,
                                                tmp_path: Path) -> None:
    server = InstanceServer(tmp_path / "data")
    assert Path(server.full_name).parent == runtime_dir
    received: list[dict[str, object]] = []
    server.message_received.connect(received.append)
    socket = QLocalSocket()
    try:
        socket.connectToServer(server.full_name)
        assert socket.waitForConnected(1500)
        socket.write(b'{"folders": "/"}\n')
        socket.write(b'{"folders": ["/photos"], "similar": null}\n')
        socket.flush()
        qtbot.waitUntil(lambda: len(received) >= 1, timeout=3000)  # type: ignore[attr-defined]
        qtbot.wait(100)  # type: ignore[attr-defined]
        assert received == [{"folders": ["/photos"], "similar": None}]
    finally:
        socket.abort()
        qtbot.wait(50)  # type: ignore[attr-defined]
        server.close()
