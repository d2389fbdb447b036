"""`index`, `similar`, `dupes`, `compare`, `status`: the library commands."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from photosim.cli.context import CommandContext
from photosim.cli.index_outcome import index_and_account
from photosim.core.cancel import CancelToken
from photosim.core.errors import PhotosimError
from photosim.core.types import DuplicateGroup, DuplicateKind, Match, Photo
from photosim.core.units import clock


def register(sub: Any) -> None:
    p = sub.add_parser("index", help="add folders to the library and index them")
    p.add_argument("folders", nargs="*", type=Path, help="folders (default: the library's)")
    p.add_argument("--reference", action="store_true",
                   help="mark these folders as reference: never proposed for deletion")
    p.set_defaults(func=run_index)

    p = sub.add_parser("similar", help="photos most similar to images")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="library photos or any image files; '-' reads paths from standard "
                        "input, one per line. With --json, one JSON object per line per path")
    p.add_argument("-k", type=int, default=20, help="how many results (default 20)")
    p.add_argument("--min-score", type=float, default=0.0, help="lowest similarity, 0..1")
    p.set_defaults(func=run_similar)

    p = sub.add_parser("dupes", help="groups of duplicate photos")
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine similarity (0..1) above which two different shots count as "
                        "a similar scene; exact copies, edits, crops and resizes are judged "
                        "by their own tests and do not move with it")
    p.add_argument("--kind", action="append", choices=[k.value for k in DuplicateKind],
                   help="only these kinds (repeatable)")
    p.set_defaults(func=run_dupes)

    p = sub.add_parser("compare", help="similarity of two images (1.0 = identical)")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.set_defaults(func=run_compare)

    p = sub.add_parser("clusters", help="the library grouped by visual content")
    p.add_argument("--granularity", type=float, default=0.5,
                   help="0 = fewer, broader clusters … 1 = more, tighter ones (default "
                        "0.5); photos like no cluster are listed under Miscellaneous")
    p.add_argument("--members", action="store_true", help="list every member, not a sample")
    p.set_defaults(func=run_clusters)

    p = sub.add_parser("search", help="photos showing something, by word (e.g. dog, castle)")
    p.add_argument("word", help="an everyday word or an ImageNet class name")
    p.add_argument("-k", type=int, default=50, help="how many results (default 50)")
    p.set_defaults(func=run_search)

    p = sub.add_parser("status", help="counts, model, execution provider, errors")
    p.add_argument("--errors", action="store_true", help="list files that could not be read")
    p.set_defaults(func=run_status)


def run_index(args: argparse.Namespace, ctx: CommandContext) -> int:
    library = ctx.open_library(write=True)
    for folder in args.folders:
        library.add_folder(folder, reference=args.reference)
    if not library.folders():
        ctx.error("No folders yet: run 'photosim index FOLDER'.")
        return 2
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        outcome = index_and_account(library, args.folders, ctx.progress, cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
    report = outcome.report
    text = outcome.counts_text()
    if report.cancelled:
        text += "\nStopped: what was done is saved; run the same command to resume."
    for problem in report.problems:
        text += f"\nskipped {problem}"
    for line in outcome.unreadable_lines():
        text += f"\n{line}"
    if not library.visual_search:
        text += "\n" + library.status().message
    data = {**asdict(report), "unchanged": outcome.unchanged, "failed": outcome.failed,
            "failed_before": len(outcome.known),
            # every problem in words: what the scan could not look at, and each unreadable file
            "problems": [*report.problems,
                         *(f"{p.path}: {p.error}" for p in outcome.unreadable)],
            "unreadable_files": [{"path": str(p.path), "error": p.error,
                                  "failed_before": p.path in outcome.known}
                                 for p in outcome.unreadable]}
    ctx.emit(data, text)
    return 130 if report.cancelled else 0


def run_similar(args: argparse.Namespace, ctx: CommandContext) -> int:
    """One query per path, in one process (the model and index load once). A path that fails
    is reported on its own line and the rest go on; the exit code is then 1."""
    library = ctx.open_library()
    queries = list(_query_paths(args.paths))
    failed = 0
    for path in queries:
        try:
            matches = library.similar(path, k=args.k, min_score=args.min_score)
        except PhotosimError as exc:
            if len(queries) == 1:
                raise
            failed += 1
            ctx.error(str(exc), query=str(path))
            continue
        lines = "\n".join(f"{m.score:.3f}  {_match_text(m)}" for m in matches) or "No results."
        ctx.emit_line({"query": str(path), "results": [_match_json(m) for m in matches]},
                      lines if len(queries) == 1 else f"== {path}\n{lines}\n")
    return 1 if failed else 0


def _query_paths(paths: list[Path]) -> Iterator[Path]:
    """The paths given, with '-' standing for the lines of standard input."""
    for path in paths:
        if str(path) == "-":
            yield from (Path(line.rstrip("\n")) for line in sys.stdin if line.strip())
        else:
            yield path


def run_dupes(args: argparse.Namespace, ctx: CommandContext) -> int:
    kinds = {DuplicateKind(k) for k in args.kind} if args.kind else None
    library = ctx.open_library()
    groups = library.duplicates(args.threshold, kinds)
    ctx.emit({"groups": [_group_json(g) for g in groups]},
             "\n\n".join(_group_text(g) for g in groups) or "No duplicates found.")
    awaiting = library.photos_awaiting_fingerprints()
    if awaiting and not ctx.json:
        print(f"note: {awaiting} photos were indexed by an older photosim; until "
              "'photosim index' updates them, only their identical files are offered for "
              "the trash and their other copies are listed for review.", file=ctx.err)
    return 0


def run_compare(args: argparse.Namespace, ctx: CommandContext) -> int:
    """The cosine, and what `dupes` makes of the pair: a high cosine alone can be another shot
    of the scene while a real copy scores lower."""
    library = ctx.open_library()
    score = library.compare(args.a, args.b)
    verdict = library.duplicate_verdict(args.a, args.b)
    data: dict[str, Any] = {"a": str(args.a), "b": str(args.b), "score": round(score, 6)}
    if verdict is None:
        data["duplicate"] = None
        text = f"{score:.4f}  (not judged as duplicates: dupes judges library photos only)"
    else:
        data.update(duplicate=verdict.kind is not None,
                    kind=verdict.kind.value if verdict.kind else None,
                    relation=verdict.relation)
        text = f"{score:.4f}  " + (f"duplicates: {verdict.kind.value} ({verdict.relation})"
                                   if verdict.kind else "not duplicates")
    ctx.emit(data, text)
    return 0


def run_clusters(args: argparse.Namespace, ctx: CommandContext) -> int:
    library = ctx.open_library()
    clusters = library.clusters(args.granularity)
    photos = {p.id: p.path for p in library.photos()}
    data = {"clusters": [{"id": c.id, "name": c.name, "size": c.size,
                          "representatives": [str(photos[i]) for i in c.representative_ids
                                              if i in photos],
                          "members": [str(photos[i]) for i in c.member_ids if i in photos]}
                         for c in clusters]}
    lines = []
    for c in clusters:
        shown = [photos[i] for i in (c.member_ids if args.members else c.representative_ids)
                 if i in photos]
        sample = "" if len(shown) >= c.size else \
            f", showing {len(shown)} of {c.size}; --members lists all"
        lines.append(f"#{c.id} {c.name} ({c.size} photos{sample})")
        lines += [f"    {path}" for path in shown]
    ctx.emit(data, "\n".join(lines) or "No clusters: index some photos with a model first.")
    return 0


def run_search(args: argparse.Namespace, ctx: CommandContext) -> int:
    matches = ctx.open_library().search_words(args.word, limit=args.k)
    ctx.emit({"query": args.word, "results": [_match_json(m) for m in matches]},
             "\n".join(f"{m.score:.3f}  {m.photo.path}" for m in matches)
             or f"No photos look like “{args.word}”.")
    return 0


def run_status(args: argparse.Namespace, ctx: CommandContext) -> int:
    library = ctx.open_library()
    status = library.status(check=True)
    data = asdict(status)
    lines = [f"photos: {status.photos} ({status.embedded} embedded, {status.errors} unreadable)",
             f"folders: {', '.join(map(str, status.folders)) or 'none'}",
             f"model: {status.model_name or 'none'}  provider: {status.provider or '-'}"]
    if status.message:
        lines.append(status.message)
    if status.index_problem:
        lines.append(status.index_problem)
    if args.errors:
        errors = library.errors()
        data["error_files"] = [{"path": str(p.path), "error": p.error} for p in errors]
        lines += [f"  {p.path}: {p.error}" for p in errors]
        problems = library.scan_problems()  # what the scans could not even look at
        data["scan_problems"] = [{"path": str(p.path), "reason": p.reason} for p in problems]
        lines += [f"  {p.path}: {p.reason}" for p in problems]
    ctx.emit(data, "\n".join(lines))
    return 0


def _photo_json(photo: Photo) -> dict[str, Any]:
    return {"path": str(photo.path), "size": photo.size, "width": photo.width,
            "height": photo.height, "format": photo.format, "date_taken": photo.date_taken}


def _match_json(match: Match) -> dict[str, Any]:
    found = {"path": str(match.photo.path), "score": round(match.score, 6)}
    if match.time is not None:  # a video, found by its frame at this time (seconds)
        found["time"] = round(match.time, 3)
    return found


def _match_text(match: Match) -> str:
    """The path; for a video found by one of its frames, "clip.mp4 at 0:42"."""
    return str(match.photo.path) + ("" if match.time is None else f" at {clock(match.time)}")


def _group_json(group: DuplicateGroup) -> dict[str, Any]:
    return {"kind": group.kind.value, "score": round(group.cohesion, 6),
            "keep": str(group.keeper.path), "reason": group.keep_reason,
            "reclaimable_bytes": group.reclaimable_bytes,
            "members": [{**_photo_json(p), "relation": group.relation_of(p),
                         "kind": None if (kind := _member_kind(group, p)) is None else kind.value,
                         "suggestion": group.suggestion_for(p)}
                        for p in group.members]}


def _member_kind(group: DuplicateGroup, photo: Photo) -> DuplicateKind | None:
    """The member's kind of relation to the keeper (None for the keeper)."""
    for member, kind in zip(group.members, group.member_kinds, strict=False):
        if member.id == photo.id:
            return kind
    return None if photo.id == group.keeper.id else group.kind


def _group_text(group: DuplicateGroup) -> str:
    lines = [f"[{group.kind.value}] {len(group.members)} photos, similarity "
             f"{group.cohesion:.3f}, keep {group.keeper.path.name} ({group.keep_reason})"]
    # what the core suggests for each member: keep, trash, review (another shot), protected
    lines += [f"  {group.suggestion_for(p):9} {p.path}"
              + (f"  ({relation})" if (relation := group.relation_of(p)) else "")
              for p in group.members]
    return "\n".join(lines)
