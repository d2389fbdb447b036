"""The app's own settings, persisted as JSON in the data directory (atomically).

Folders are not here: they belong to the library's catalog, which the CLI shares.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILENAME = "gui-settings.json"
PROVIDERS = [("Automatic (best available)", None), ("CPU", "cpu"), ("CUDA (NVIDIA)", "cuda"),
             ("DirectML (Windows)", "directml")]


@dataclass
class UiSettings:
    model: str | None = None  # a model id or an .onnx path; None = the library's current one
    model_spec: str | None = None  # spec id or JSON path for a user-supplied .onnx
    provider: str | None = None  # "cpu" / "cuda" / "directml"; None = automatic
    similar_count: int = 30
    similar_min_score: float = 0.5  # where the weak-match line goes in similar results
    duplicate_threshold: float = 0.92
    thumb_size: int = 160
    watch_polling: bool = False  # poll watched folders (network shares miss OS events)
    first_run_done: bool = False

    @classmethod
    def load(cls, data_dir: Path) -> UiSettings:
        path = data_dir / FILENAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable settings %s: %s", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}) if isinstance(data, dict) \
            else cls()

    def save(self, data_dir: Path) -> None:
        """Write to a temporary file, fsync, rename: a crash never leaves half a file."""
        data_dir.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".settings-", dir=data_dir)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(asdict(self), out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, data_dir / FILENAME)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
