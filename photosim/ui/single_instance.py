"""One app per data directory: a second launch hands its arguments (a file to find similar
photos of, folders to add) to the running instance and exits.

The server name is derived from the data directory, so two libraries can be open at once.
The socket lives in the user's private runtime directory (``$XDG_RUNTIME_DIR``, else a 0700
folder of the user's own in the temp dir, checked before every use), never bare in the
world-writable ``/tmp``: another local user could otherwise bind the name first and receive
the paths this user opens. Every message read from it is validated before it is acted on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
TIMEOUT_MS = 1500
MAX_MESSAGE_BYTES = 1 << 20  # a launch with thousands of folders stays far below this
MAX_FOLDERS = 10_000
RUNTIME_DIR_ENV = "XDG_RUNTIME_DIR"


class UnsafeRuntimeDir(Exception):
    """The folder for the socket could be read or taken over by another user."""


def server_name(data_dir: Path) -> str:
    """The socket's full path (a plain name on Windows, where it is a named pipe).

    Raises ``UnsafeRuntimeDir`` when no private folder can hold it."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode(
        "utf-8", "surrogateescape")).hexdigest()[:16]
    name = f"photosim-{digest}"
    if os.name == "nt":
        return name
    return str(private_runtime_dir() / name)


def private_runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR`` when it is a private folder of ours, else ``<tmp>/photosim-<uid>``
    made 0700; either is checked: a real folder (not a link), owned by us, no group/other
    access."""
    runtime = os.environ.get(RUNTIME_DIR_ENV)
    if runtime and os.path.isabs(runtime):
        try:
            return _checked_private(Path(runtime))
        except UnsafeRuntimeDir as exc:
            log.warning("ignoring %s: %s", RUNTIME_DIR_ENV, exc)
    fallback = Path(tempfile.gettempdir()) / f"photosim-{os.getuid()}"
    try:
        fallback.mkdir(mode=0o700)
    except FileExistsError:
        pass  # ours from an earlier run, or someone else's: the check below tells
    except OSError as exc:
        raise UnsafeRuntimeDir(f"cannot create {fallback}: {exc.strerror}") from exc
    return _checked_private(fallback)


def _checked_private(folder: Path) -> Path:
    try:
        st = folder.lstat()
    except OSError as exc:
        raise UnsafeRuntimeDir(f"{folder}: {exc.strerror}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeRuntimeDir(f"{folder} is not a folder (or is a link)")
    if st.st_uid != os.getuid():
        raise UnsafeRuntimeDir(f"{folder} belongs to another user")
    if st.st_mode & 0o077:
        raise UnsafeRuntimeDir(f"{folder} is open to other users")
    return folder


def parse_message(raw: bytes) -> dict[str, Any] | None:
    """A launch message as the running app may act on it, or None when it is not one.

    Exactly ``{"folders": [absolute path, ...], "similar": absolute path or null}``; a string
    where the list belongs (``{"folders": "/"}``) must never be iterated into paths."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        message = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or not set(message) <= {"folders", "similar"}:
        return None
    folders = message.get("folders", [])
    similar = message.get("similar")
    if not isinstance(folders, list) or len(folders) > MAX_FOLDERS or \
            not all(_is_absolute_path(f) for f in folders):
        return None
    if similar is not None and not _is_absolute_path(similar):
        return None
    return {"folders": list(folders), "similar": similar}


def _is_absolute_path(value: object) -> bool:
    return isinstance(value, str) and "\0" not in value and os.path.isabs(value)


def hand_over(data_dir: Path, message: dict[str, object]) -> bool:
    """Send ``message`` to a running instance; True when one took it."""
    try:
        name = server_name(data_dir)
    except UnsafeRuntimeDir as exc:
        log.warning("not looking for a running photosim: %s", exc)
        return False
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write(json.dumps(message).encode() + b"\n")
    socket.flush()
    if socket.bytesToWrite() > 0:
        socket.waitForBytesWritten(TIMEOUT_MS)
    delivered = socket.bytesToWrite() == 0
    socket.disconnectFromServer()
    return delivered


class InstanceServer(QObject):
    """Listens for later launches; ``message_received`` carries their validated arguments."""

    message_received = Signal(dict)

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        try:
            name = server_name(data_dir)
        except UnsafeRuntimeDir as exc:
            log.warning("single-instance server unavailable: %s", exc)
            return
        if not self._server.listen(name):
            QLocalServer.removeServer(name)  # a stale socket left by a crash
            if not self._server.listen(name):
                log.warning("single-instance server unavailable: %s", self._server.errorString())

    @property
    def full_name(self) -> str:
        return self._server.fullServerName()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            message = parse_message(bytes(socket.readLine().data()).strip())
            if message is None:
                log.warning("ignoring a malformed message from another launch")
                continue
            self.message_received.emit(message)
        if socket.bytesAvailable() > MAX_MESSAGE_BYTES:  # no newline in sight: not a launch
            socket.abort()

    def close(self) -> None:
        self._server.close()
