"""A model spec is untrusted data: its file name and URL must not lead outside the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from photosim.core.errors import ModelError
from photosim.core.models import download as dl
from photosim.core.models.spec import ModelSpec

GOOD_SHA = "ab" * 32


def spec_with(**file: Any) -> dict[str, Any]:
    entry = {"url": "https://example.org/m.onnx", "size": 10, "sha256": GOOD_SHA,
             "filename": "m.onnx"} | file
    return {"id": "x", "dim": 8, "file": entry}


@pytest.mark.parametrize("filename", ["../../victim.txt", "/etc/passwd", "sub/m.onnx", "..",
                                      "", ".hidden.onnx", "a\\b.onnx", "m\0.onnx", 5])
def test_a_file_name_that_is_not_a_plain_name_is_refused(filename: object) -> None:
    with pytest.raises(ModelError, match="plain file name"):
        ModelSpec.from_dict(spec_with(filename=filename))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://example.org/m.onnx",
                                 "ftp://example.org/m.onnx", "https:///nohost", "m.onnx", 7])
def test_only_https_urls_or_http_on_this_machine_are_accepted(url: object) -> None:
    with pytest.raises(ModelError, match="Invalid model spec"):
        ModelSpec.from_dict(spec_with(url=url))


@pytest.mark.parametrize("url", ["https://example.org/m.onnx", "http://127.0.0.1:8000/m.onnx",
                                 "http://localhost/m.onnx", "http://[::1]:9/m.onnx"])
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    spec = ModelSpec.from_dict(spec_with(url=url))
    assert spec.file is not None and spec.file.url == url


@pytest.mark.parametrize(("field", "value"), [("size", -5), ("size", 0), ("size", "big"),
                                              ("sha256", "xyz"), ("sha256", None)])
def test_a_bad_size_or_checksum_is_one_clear_error(field: str, value: object) -> None:
    with pytest.raises(ModelError, match="Invalid model spec"):
        ModelSpec.from_dict(spec_with(**{field: value}))


def test_download_refuses_a_file_url_and_touches_nothing(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    with pytest.raises(ModelError):
        dl.download(victim.as_uri(), tmp_path / "store" / "m.onnx", sha256=GOOD_SHA)
    assert victim.read_text() == "precious"
    assert not (tmp_path / "store").exists()


def test_a_binary_file_given_as_the_spec_is_one_clear_error(tmp_path: Path,
                                                            tiny_model: tuple[Path, Path]
                                                            ) -> None:
    """Issue 17: a binary --model-spec (the .onnx itself, say) ended in a UnicodeDecodeError
    traceback, under --json too."""
    import subprocess
    import sys

    model, _ = tiny_model
    for json_flag in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "photosim", *json_flag, "--data-dir", str(tmp_path / "d"),
             "--model", str(model), "--model-spec", str(model), "status"],
            capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "not JSON text" in done.stderr
