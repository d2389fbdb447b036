"""One app per data directory: a second launch hands its arguments (a file to find similar
photos of, folders to add) to the running instance and exits.

The server name is derived from the data directory, so two libraries can be open at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
TIMEOUT_MS = 1500


def server_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
    return f"photosim-{digest}"


def hand_over(data_dir: Path, message: dict[str, object]) -> bool:
    """Send ``message`` to a running instance; True when one took it."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(data_dir))
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
    """Listens for later launches; ``message_received`` carries their arguments."""

    message_received = Signal(dict)

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._accept)
        name = server_name(data_dir)
        if not self._server.listen(name):
            QLocalServer.removeServer(name)  # a stale socket left by a crash
            if not self._server.listen(name):
                log.warning("single-instance server unavailable: %s", self._server.errorString())

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            line = bytes(socket.readLine().data()).strip()
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                log.warning("ignoring a malformed message from another launch")
                continue
            if isinstance(message, dict):
                self.message_received.emit(message)

    def close(self) -> None:
        self._server.close()
