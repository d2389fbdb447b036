"""`photosim models list | download [ID] | verify [ID] | use ID | add FILE.onnx [--spec SPEC |
--preprocess NORM] | remove ID`."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photosim.cli.compare_cmd import register_compare
from photosim.cli.context import CommandContext
from photosim.core.cancel import CancelToken
from photosim.core.errors import ModelError

if TYPE_CHECKING:  # the model store pulls in onnxruntime: loaded by the commands that use it
    from photosim.core.models.spec import ModelSpec
    from photosim.core.models.store import ModelStore

# The keys of core.models.adopt.NORMALISATIONS (adopt loads onnx: only the commands do).
PREPROCESS_CHOICES = ("imagenet", "symmetric", "unit")


def register(sub: Any) -> None:
    parser = sub.add_parser("models", help="list, download, verify and choose models")
    models = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = models.add_parser("list", help="known models, which are installed and in use")
    p.set_defaults(func=run_list)

    p = models.add_parser("download", help="download and verify a model (default: the "
                                           "recommended one for this machine)")
    p.add_argument("model_id", nargs="?", metavar="ID")
    p.add_argument("--base-url", help="fetch <base-url>/<file name> instead (a mirror)")
    p.set_defaults(func=run_download)

    p = models.add_parser("verify", help="re-check installed models' sha256 in full")
    p.add_argument("model_id", nargs="?", metavar="ID", help="one model (default: all "
                                                             "installed)")
    p.set_defaults(func=run_verify)

    p = models.add_parser("use", help="make a model the one that indexes and searches")
    p.add_argument("model_id", metavar="ID")
    p.set_defaults(func=run_use)

    p = models.add_parser("add", help="add a model file (yours, or one you downloaded)")
    p.add_argument("file", type=Path, metavar="FILE.onnx")
    p.add_argument("--spec", help="a model id or a spec JSON (default: FILE.json beside it, "
                                  "or the builtin model whose published file it is)")
    p.add_argument("--preprocess", choices=PREPROCESS_CHOICES,
                   help="for a model without a spec: its input normalisation (imagenet: "
                        "mean/std; symmetric: [-1, 1]; unit: [0, 1]); size, layout and "
                        "output are read from the file")
    p.add_argument("--use", action="store_true", help="also make it the model in use")
    p.set_defaults(func=run_add)

    p = models.add_parser("remove", help="delete an installed model from the store")
    p.add_argument("model_id", metavar="ID")
    p.set_defaults(func=run_remove)
    register_compare(models)


def store_for(ctx: CommandContext) -> ModelStore:
    from photosim.core.library import model_store

    return model_store(ctx.data_dir)


def gpu_available() -> bool:
    from photosim.core.models.runtime import gpu_available as runtime_gpu_available

    return runtime_gpu_available()


def run_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    store = store_for(ctx)
    current = store.current()
    default = store.default_model_id(gpu_available())
    rows = [_row(store, spec, current, default) for spec in store.specs().values()]
    lines = [f"{'*' if r['in_use'] else ' '} {r['id']:<24} {r['state']:<14} {r['name']}"
             for r in rows]
    lines.append("* = in use" if current else f"in use: the default ({default}) once installed")
    ctx.emit({"models": rows, "current": current, "default": default}, "\n".join(lines))
    return 0


def run_download(args: argparse.Namespace, ctx: CommandContext) -> int:
    store = store_for(ctx)
    model_id = args.model_id or store.default_model_id(gpu_available())
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        path = store.download(model_id, progress=ctx.progress, cancel=cancel,
                              base_url=args.base_url)
    finally:
        signal.signal(signal.SIGINT, previous)
    ctx.emit({"id": model_id, "path": str(path), "verified": True},
             f"{model_id}: downloaded and verified ({path})")
    return 0


def run_verify(args: argparse.Namespace, ctx: CommandContext) -> int:
    store = store_for(ctx)
    ids = [args.model_id] if args.model_id else [m for m in store.specs()
                                                  if store.is_installed(m)]
    results = [_verify_one(store, m) for m in ids]
    lines = [f"{r['id']}: {'ok' if r['ok'] else r['error']}" for r in results]
    ctx.emit({"models": results}, "\n".join(lines) or "No models are installed.")
    return 0 if all(r["ok"] for r in results) else 1


def run_use(args: argparse.Namespace, ctx: CommandContext) -> int:
    store = store_for(ctx)
    store.use(args.model_id)
    installed = store.is_installed(args.model_id)
    hint = "" if installed else f" (not installed: run `photosim models download " \
                                f"{args.model_id}` or `photosim models add`)"
    ctx.emit({"current": args.model_id, "installed": installed},
             f"Now using {args.model_id}{hint}. Photos are re-embedded with it on the next "
             f"index; vectors of different models are never mixed.")
    return 0


def run_add(args: argparse.Namespace, ctx: CommandContext) -> int:
    from photosim.core.models.adopt import try_model

    store = store_for(ctx)
    spec = _spec_to_add(store, args)
    try_model(store, spec, args.file)
    spec = store.add_user_model(args.file, spec)
    if args.use:
        store.use(spec.id)
    files = store.installed_files(spec.id)
    lines = [f"Installed {spec.id} ({spec.name}) from {args.file}; verified:"]
    lines += [f"  {path} ({path.stat().st_size / 1e6:.1f} MB)" for path in files]
    missing_head = spec.head_file and store.head_path(spec.id) is None
    if missing_head:
        lines.append(f"No classifier head: put {spec.head_file} beside {args.file} and add it "
                     "again to name clusters and search by word.")
    lines.append("Now in use." if args.use else f"`photosim models use {spec.id}` to use it.")
    ctx.emit({"id": spec.id, "path": str(files[0]), "files": [str(f) for f in files],
              "classifier": store.state(spec.id).classifier, "in_use": args.use},
             "\n".join(lines))
    return 0


def _spec_to_add(store: ModelStore, args: argparse.Namespace) -> ModelSpec:
    from photosim.core.models.adopt import inspect_model, normalisation, spec_for_unknown
    from photosim.core.models.store import spec_for_file

    if not args.file.is_file():
        raise ModelError(f"No such model file: {args.file}")
    if args.preprocess and not args.spec:
        facts = inspect_model(args.file)
        return spec_for_unknown(args.file, facts, normalisation(args.preprocess))
    return spec_for_file(store, args.file, args.spec, flag="--spec",
                         advice="or --preprocess imagenet|symmetric|unit for any image model")


def run_remove(args: argparse.Namespace, ctx: CommandContext) -> int:
    store = store_for(ctx)
    removed = store.remove(args.model_id)
    if not removed:
        raise ModelError(f"{args.model_id} is not installed; nothing to remove.")
    ctx.emit({"id": args.model_id, "removed": [str(p) for p in removed]},
             f"Removed {args.model_id}: " + ", ".join(p.name for p in removed))
    return 0


def _row(store: ModelStore, spec: ModelSpec, current: str | None, default: str) -> dict[str, Any]:
    installed = store.is_installed(spec.id)
    facts = store.state(spec.id)
    state = "installed" if installed else ("downloadable" if spec.file else "not installed")
    return {"id": spec.id, "name": spec.name, "dim": spec.dim, "variant": spec.variant,
            "licence": spec.licence, "installed": installed, "state": state,
            "in_use": spec.id == current, "default": spec.id == default,
            "size": spec.file.size if spec.file else None,
            "url": spec.file.url if spec.file else None,
            "classifier": facts.classifier, "checksum": facts.checksum or None}


def _verify_one(store: ModelStore, model_id: str) -> dict[str, Any]:
    try:
        path = store.verify_full(model_id)
    except ModelError as exc:
        return {"id": model_id, "ok": False, "error": str(exc)}
    return {"id": model_id, "ok": True, "path": str(path)}
