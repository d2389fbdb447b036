"""The command modules, each with a ``register(subparsers)`` function."""

from __future__ import annotations

from photosim.cli import library_cmds, models_cmd, repair_cmd, undo_cmd, watch_cmd

ALL = (library_cmds, models_cmd, watch_cmd, undo_cmd, repair_cmd)
