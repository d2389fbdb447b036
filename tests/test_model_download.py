"""The real download code against a real HTTP server on 127.0.0.1 serving a generated model."""

from __future__ import annotations

import hashlib
import http.client
import io
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.errors import DownloadError, ModelIntegrityError
from photosim.core.models import download as dl
from photosim.core.types import Progress
from tests.modelgen import build_classifier


@dataclass
class ServerState:
    body: bytes
    drop_after: int | None = None  # close the connection after this many body bytes, once
    honour_range: bool = True
    status: int = 200
    requests: list[str | None] = field(default_factory=list)  # the Range header of each
    redirect_to: str | None = None  # where /redirect sends the client (302)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        state.requests.append(self.headers.get("Range"))
        if self.path == "/redirect" and state.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", state.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if state.status != 200:
            self.send_error(state.status)
            return
        start = 0
        if state.honour_range and (header := self.headers.get("Range")):
            start = int(header.removeprefix("bytes=").split("-")[0])
        body = state.body[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(state.body) - 1}/"
                                              f"{len(state.body)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.drop_after is not None:
            self.wfile.write(body[:state.drop_after])
            self.wfile.flush()
            state.drop_after = None
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@dataclass
class Server:
    url: str
    state: ServerState


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = build_classifier(tmp_path_factory.mktemp("served") / "served.onnx")
    data = path.read_bytes()
    # Big enough to need many chunks, so progress and a mid-body drop are meaningful.
    return data * max(1, (600_000 // len(data)) + 1)


@pytest.fixture()
def server(model_bytes: bytes) -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState(body=model_bytes)  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}/model.onnx",
                     httpd.state)  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_reports_progress_and_verifies(server: Server, tmp_path: Path) -> None:
    body = server.state.body
    reports: list[Progress] = []
    target = tmp_path / "models" / "model.onnx"
    result = dl.download(server.url, target, sha256=_sha(body), size=len(body),
                         progress=reports.append)
    assert target.read_bytes() == body
    assert result.sha256 == _sha(body) and not result.resumed
    assert not dl.part_path(target).exists()
    assert reports and all(r.stage == "downloading" and r.total == len(body) for r in reports)
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].done == len(body)
    assert any(r.rate and r.rate > 0 for r in reports)
    assert reports[-1].eta_s == pytest.approx(0.0)


def test_resumes_after_dropped_connection(server: Server, tmp_path: Path) -> None:
    body = server.state.body
    server.state.drop_after = len(body) // 3
    target = tmp_path / "model.onnx"
    result = dl.download(server.url, target, sha256=_sha(body), size=len(body))
    assert target.read_bytes() == body
    assert result.resumed
    assert server.state.requests[0] is None
    assert server.state.requests[1] is not None and server.state.requests[1].startswith("bytes=")
    assert int(server.state.requests[1].removeprefix("bytes=").rstrip("-")) > 0


def test_resumes_a_part_file_left_by_an_earlier_run(server: Server, tmp_path: Path) -> None:
    body = server.state.body
    target = tmp_path / "model.onnx"
    dl.part_path(target).write_bytes(body[:1000])
    result = dl.download(server.url, target, sha256=_sha(body), size=len(body))
    assert result.resumed and target.read_bytes() == body
    assert server.state.requests == ["bytes=1000-"]


def test_server_without_range_support_restarts_cleanly(server: Server, tmp_path: Path) -> None:
    body = server.state.body
    server.state.honour_range = False
    target = tmp_path / "model.onnx"
    dl.part_path(target).write_bytes(body[:5000])
    result = dl.download(server.url, target, sha256=_sha(body), size=len(body))
    assert target.read_bytes() == body  # not the first 5000 bytes twice
    assert not result.resumed


def test_checksum_mismatch_is_refused_and_nothing_is_left(server: Server, tmp_path: Path) -> None:
    body = server.state.body
    target = tmp_path / "model.onnx"
    with pytest.raises(ModelIntegrityError) as info:
        dl.download(server.url, target, sha256="0" * 64, size=len(body))
    assert server.url in str(info.value) and "checksum" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_offline_error_names_url_and_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/resnet50-v1-12.onnx"
    target = tmp_path / "resnet50-v1-12.onnx"
    with pytest.raises(DownloadError) as info:
        dl.download(url, target, sha256="0" * 64, size=10)
    message = str(info.value)
    assert url in message
    assert "photosim models add resnet50-v1-12.onnx" in message
    assert not target.exists()


def test_http_error_status_is_reported(server: Server, tmp_path: Path) -> None:
    server.state.status = 404
    with pytest.raises(DownloadError, match="404"):
        dl.download(server.url, tmp_path / "m.onnx", sha256="0" * 64, size=10)


class _CancelAfterChecks(CancelToken):
    """A token that fires once the download has checked it ``n`` times (i.e. mid-body)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    @property
    def cancelled(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_cancel_keeps_the_part_file_for_later(server: Server, tmp_path: Path) -> None:
    body = server.state.body
    target = tmp_path / "model.onnx"
    with pytest.raises(Cancelled):
        dl.download(server.url, target, sha256=_sha(body), size=len(body),
                    cancel=_CancelAfterChecks(3))
    assert not target.exists()
    assert dl.part_path(target).stat().st_size == 3 * dl.CHUNK_BYTES
    result = dl.download(server.url, target, sha256=_sha(body), size=len(body))
    assert result.resumed and target.read_bytes() == body


def test_a_redirect_on_this_machine_is_followed(server: Server, tmp_path: Path) -> None:
    server.state.redirect_to = server.url
    redirect = server.url.replace("/model.onnx", "/redirect")
    result = dl.download(redirect, tmp_path / "m.onnx", sha256=_sha(server.state.body))
    assert result.path.read_bytes() == server.state.body


@pytest.mark.parametrize("where", ["ftp://127.0.0.1:{port}/model.onnx", "file:///etc/passwd",
                                   "http://192.0.2.1/model.onnx", "data:,model"])
def test_a_redirect_that_leaves_https_or_this_machine_is_refused(
        server: Server, tmp_path: Path, where: str) -> None:
    """urllib follows ftp and plain http anywhere: a mirror could hand the download to them.
    (file: and data: urllib refuses itself, in its own words.)"""
    port = server.url.split(":")[2].split("/")[0]
    server.state.redirect_to = where.format(port=port)
    redirect = server.url.replace("/model.onnx", "/redirect")
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"(?i)redirect") as caught:
        dl.download(redirect, tmp_path / "m.onnx", sha256=_sha(server.state.body),
                    timeout_s=3)
    assert server.state.redirect_to in str(caught.value)
    assert time.perf_counter() - started < 2  # refused before any connection is tried
    assert server.state.requests == [None]  # one request: the redirect, never followed
    assert not (tmp_path / "m.onnx").exists() and not dl.part_path(tmp_path / "m.onnx").exists()


def test_https_never_redirects_down_to_http() -> None:
    handler = dl._CheckedRedirects()
    request = urllib.request.Request("https://models.example.org/model.onnx")
    with pytest.raises(DownloadError, match="redirected it to"):
        handler.redirect_request(request, io.BytesIO(), 302, "Found", http.client.HTTPMessage(),
                                 "http://127.0.0.1:8000/model.onnx")
    followed = handler.redirect_request(request, io.BytesIO(), 302, "Found",
                                        http.client.HTTPMessage(),
                                        "https://mirror.example.net/model.onnx")
    assert followed is not None and followed.full_url == "https://mirror.example.net/model.onnx"
