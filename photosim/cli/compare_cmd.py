"""`photosim models compare [MODEL ...] --labelled DIR`: score models on the user's labels."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photosim.cli.context import CommandContext
from photosim.core.cancel import Cancelled, CancelToken

if TYPE_CHECKING:  # the model modules load onnxruntime: only when the command runs
    from photosim.core.model_compare import ModelScore
    from photosim.core.models.spec import ModelSpec
    from photosim.core.models.store import ModelStore
from photosim.core.types import Progress, Stage


def register_compare(models: Any) -> None:
    """Adds ``compare`` under the ``models`` command's actions."""
    p = models.add_parser("compare", help="score models on labelled folders (one sub-folder "
                                          "per label): mAP, P@1/P@10, copy recall, speed, size")
    p.add_argument("model", nargs="*", metavar="MODEL",
                   help="installed model ids or .onnx files (default: the model in use)")
    p.add_argument("--labelled", type=Path, required=True, metavar="DIR")
    p.add_argument("--spec", help="spec (id or JSON) for .onnx files without one beside them")
    p.add_argument("--provider", help="cpu, cuda, ... (default: the best available)")
    p.set_defaults(func=run_compare)


def _resolve(store: ModelStore, model: str, spec_name: str | None) -> tuple[str, ModelSpec, Path]:
    from photosim.core.models.store import spec_for_file

    if model.endswith(".onnx"):
        path = Path(model).expanduser()
        return path.stem, spec_for_file(store, path, spec_name), path
    spec, path = store.prepared(model)
    return model, spec, path


def _reporter(ctx: CommandContext, name: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        ctx.progress(Progress(Stage.COMPARING_MODELS, done, total, message=name))
    return report


def run_compare(args: argparse.Namespace, ctx: CommandContext) -> int:
    from photosim.core.embedder import Embedder
    from photosim.core.library import model_store
    from photosim.core.model_compare import (
        compare_model,
        format_table,
        load_labelled_folder,
        save_results,
    )
    from photosim.core.models.runtime import ModelSession

    store = model_store(ctx.data_dir)
    photos = load_labelled_folder(args.labelled.expanduser())
    wanted = args.model or [store.current() or store.default_model_id(False)]
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    scores: list[ModelScore] = []
    try:
        for model in wanted:
            name, spec, path = _resolve(store, model, args.spec)
            session = ModelSession(path, spec, args.provider)
            scores.append(compare_model(name, Embedder(spec, session), session.provider, photos,
                                        cancel=cancel, progress=_reporter(ctx, name)))
    except Cancelled:
        ctx.error("Comparison cancelled; nothing was saved.")
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    saved = save_results(ctx.data_dir, scores, args.labelled)
    ctx.emit({"models": [vars(s) for s in scores], "saved": str(saved)},
             f"{format_table(scores)}\n(saved to {saved})")
    return 0
