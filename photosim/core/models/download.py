"""Streamed, resumable, checksum-verified model downloads over HTTP(S) with the stdlib.

The bytes land in ``<target>.part`` beside the target. An interrupted download keeps that file
and the next attempt asks the server for the rest with a ``Range`` header (a server that
ignores ranges simply sends the whole file again). Only a file whose size and sha256 match is
renamed into place, so the target is either absent or complete and verified.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from photosim.core.cancel import CancelToken, check
from photosim.core.errors import DownloadError, ModelError, ModelIntegrityError
from photosim.core.fsutil import fsync_dir
from photosim.core.models.spec import check_download_url, check_model_filename
from photosim.core.types import Progress, ProgressCallback, Stage

log = logging.getLogger(__name__)


CHUNK_BYTES = 1 << 16
PROGRESS_INTERVAL_S = 0.1  # at most ten progress reports a second, plus the last one
USER_AGENT = "photosim-model-download/1"

# What a dropped connection looks like while reading the body: worth resuming.
_TRANSIENT = (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError,
              TimeoutError, socket.timeout)


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    size: int
    resumed: bool  # at least one request continued from a partial file


def part_path(target: Path) -> Path:
    """Where the bytes of an unfinished download of ``target`` are kept."""
    return target.with_name(target.name + ".part")


def sha256_file(path: Path, cancel: CancelToken | None = None) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            check(cancel)
            digest.update(block)
    return digest.hexdigest()


def offline_advice(url: str, filename: str) -> str:
    """What to tell a user whose machine cannot fetch ``url``."""
    return (f"If this computer is offline, download {filename} from {url} yourself "
            f"and run `photosim models add {filename}`.")


def download(url: str, target: Path, *, sha256: str, size: int | None = None,
             progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
             retries: int = 3, timeout_s: float = 30.0) -> DownloadResult:
    """Fetch ``url`` into ``target``, resuming a partial file and verifying ``sha256``.

    Raises ``DownloadError`` (network, HTTP status) naming the URL and what to do,
    ``ModelIntegrityError`` when the bytes do not match (the partial file is removed), and
    ``Cancelled`` when ``cancel`` fires (the partial file is kept for the next attempt).
    """
    check_download_url(url)  # a mirror's base address is checked here as well as the spec's
    check_model_filename(target.name)
    fetcher = _Fetcher(url, target, size, progress, cancel, timeout_s)
    attempts = 0
    while True:
        try:
            fetcher.fetch_rest()
            break
        except _TRANSIENT as exc:
            attempts += 1
            if attempts > retries:
                raise _network_error(url, target.name, exc) from exc
            log.warning("download of %s interrupted (%s); resuming", url, exc)
            time.sleep(min(0.2 * attempts, 2.0))
    return _finish(url, target, sha256, size, fetcher.resumed, cancel)


class _Fetcher:
    """One download's state across the requests that together produce the ``.part`` file."""

    def __init__(self, url: str, target: Path, size: int | None,
                 progress: ProgressCallback | None, cancel: CancelToken | None,
                 timeout_s: float) -> None:
        self.url, self.target, self.size = url, target, size
        self.part = part_path(target)
        self.progress, self.cancel, self.timeout_s = progress, cancel, timeout_s
        self.resumed = False
        self._started = time.monotonic()
        self._session_bytes = 0  # fetched in this call, for the rate; resumed bytes excluded
        self._last_report = 0.0

    def fetch_rest(self) -> None:
        """Request whatever the ``.part`` file still lacks and append it."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        have = self._usable_part_size()
        if self.size is not None and have == self.size:
            self._report(have, force=True)
            return
        request = urllib.request.Request(self.url, headers={"User-Agent": USER_AGENT})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = _OPENER.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # our partial file is not a prefix of theirs
                self.part.unlink(missing_ok=True)
                raise ConnectionError("server refused the resume range; starting over") from exc
            raise DownloadError(
                f"Downloading {self.url} failed: the server answered {exc.code} {exc.reason}. "
                + offline_advice(self.url, self.target.name)) from exc
        except urllib.error.URLError as exc:
            raise _network_error(self.url, self.target.name, exc) from exc
        with response:
            self._copy_body(response, have)

    def _usable_part_size(self) -> int:
        try:
            have = self.part.stat().st_size
        except FileNotFoundError:
            return 0
        if self.size is not None and have > self.size:  # not ours or corrupt: start over
            self.part.unlink()
            return 0
        return have

    def _copy_body(self, response: http.client.HTTPResponse, have: int) -> None:
        if have and response.status == 206:
            self.resumed = True
            mode = "ab"
        else:  # 200: the server sends everything (it ignored our Range, or there was none)
            have, mode = 0, "wb"
        total = self._expected_total(response, have)
        with open(self.part, mode) as out:
            try:
                self._stream(response, out, have, total)
            finally:
                out.flush()
                os.fsync(out.fileno())

    def _expected_total(self, response: http.client.HTTPResponse, have: int) -> int | None:
        length = response.headers.get("Content-Length")
        if self.size is not None:
            return self.size
        return have + int(length) if length and length.isdigit() else None

    def _stream(self, response: IO[bytes], out: IO[bytes], done: int, total: int | None) -> None:
        self._report(done, total)
        while chunk := response.read(CHUNK_BYTES):
            check(self.cancel)
            out.write(chunk)
            done += len(chunk)
            self._session_bytes += len(chunk)
            self._report(done, total)
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)
        self._report(done, total, force=True)

    def _report(self, done: int, total: int | None = None, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_INTERVAL_S:
            return
        self._last_report = now
        total = total if total is not None else self.size
        elapsed = max(now - self._started, 1e-6)
        rate = self._session_bytes / elapsed if self._session_bytes else None
        eta = (total - done) / rate if rate and total is not None else None
        self.progress(Progress(stage=Stage.DOWNLOADING, done=done, total=total, rate=rate,
                               eta_s=eta, message=self.target.name))


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only where a spec's own URL could point: https, or http on this
    machine, and never from https down to http. urllib's own handler follows any http,
    https or ftp address, so an https mirror could send the download to plain http on
    another host, or to ftp."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int,
                         msg: str, headers: http.client.HTTPMessage, newurl: str
                         ) -> urllib.request.Request | None:
        source = urllib.parse.urlsplit(req.full_url).scheme
        try:
            check_download_url(newurl)
            if source == "https" and urllib.parse.urlsplit(newurl).scheme != "https":
                raise ModelError("https must not lead to http")
        except ModelError as exc:
            fp.close()
            raise DownloadError(
                f"Downloading {req.full_url} failed: the server redirected it to {newurl!r}, "
                "which photosim does not follow (models come over https only, or plain http "
                "from this machine).") from exc
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# Without the handlers for file:, ftp: and data: addresses: only http(s) is ever fetched (any
# other scheme is an "unknown url type" error).
_OPENER = urllib.request.OpenerDirector()
for _handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(),
                 urllib.request.HTTPHandler(),
                 urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(),
                 urllib.request.HTTPErrorProcessor(), _CheckedRedirects()):
    _OPENER.add_handler(_handler)


def _finish(url: str, target: Path, sha256: str, size: int | None, resumed: bool,
            cancel: CancelToken | None) -> DownloadResult:
    """Verify the complete ``.part`` file and rename it into place, or delete it."""
    part = part_path(target)
    actual_size = part.stat().st_size
    actual_sha = sha256_file(part, cancel)
    if (size is not None and actual_size != size) or actual_sha != sha256.lower():
        part.unlink(missing_ok=True)
        raise ModelIntegrityError(
            f"The file downloaded from {url} does not match its published checksum "
            f"(expected {size if size is not None else '?'} bytes, sha256 {sha256}; got "
            f"{actual_size} bytes, sha256 {actual_sha}). It was deleted. The download may "
            f"have been corrupted or the file changed on the server: try again later, or "
            f"download {target.name} yourself and run `photosim models add {target.name}`.")
    os.replace(part, target)
    fsync_dir(target.parent)
    return DownloadResult(path=target, sha256=actual_sha, size=actual_size, resumed=resumed)


def _network_error(url: str, filename: str, exc: BaseException) -> DownloadError:
    reason = getattr(exc, "reason", None) or exc
    return DownloadError(f"Could not download {url}: {reason}. "
                         + offline_advice(url, filename))
