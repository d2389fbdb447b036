"""The model store: which models exist, which are installed, verified and ready to run.

Layout of the store folder (``<data>/models`` or ``$PHOTOSIM_MODEL_DIR``)::

    resnet50-v1-12.onnx                 a downloaded builtin model (the zoo's file name)
    resnet50-v1-12.onnx.verified.json   size, mtime and sha256 recorded when it was verified
    user/<id>.onnx, user/<id>.json      models the user added, with their specs
    prepared/<id>/<digest>.onnx         the pooled-feature graph cut from <id>'s classifier
    current.json                        the model chosen with ``use``
    external.json                       digests of model files used in place (``--model F``)

Loading checks a file cheaply (size, mtime and a digest of its first and last 64 KiB against
the record written when its full sha256 was verified); anything that does not match is
re-hashed in full and refused when that differs too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photosim.core.cancel import CancelToken
from photosim.core.errors import ModelError, ModelIntegrityError, ModelNotAvailableError
from photosim.core.fsutil import atomic_write_bytes, atomic_write_via, atomic_writer
from photosim.core.labels import ClassifierHead
from photosim.core.models import download as dl
from photosim.core.models.runtime import gpu_available
from photosim.core.models.spec import POOLED, ModelSpec, builtin_specs, load_spec_file
from photosim.core.types import ProgressCallback

if TYPE_CHECKING:  # onnx costs ~1 s to import: loaded only when a model file is read
    import onnx

log = logging.getLogger(__name__)

# The zoo's ResNet-50 in two precisions; both are cut at the same 2048-d pool, but their
# vectors differ, so each keeps its own id and vectors of one never mix with the other's.
RESNET_FP32 = "resnet50-v1-12"
RESNET_INT8 = "resnet50-v1-12-int8"
SAMPLE_BYTES = 1 << 16
RECORD_SUFFIX = ".verified.json"  # beside each model file: what its verification found
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# How a model file's checksum stands (ModelState.checksum).
VERIFIED = "verified"  # matches what its full sha256 check recorded
UNCHECKED = "not checked"  # changed on disk since, or never checked: verify re-hashes it
DAMAGED = "damaged"  # the wrong size for its pinned file


@dataclass(frozen=True)
class FilePins:
    """sha256 pins a builtin spec carries for files photosim cannot download (the spec's
    ``sha256`` and ``head_sha256``): a file with that digest is recognised as that model."""

    model: str | None = None
    head: str | None = None


@dataclass(frozen=True)
class ModelState:
    spec: ModelSpec
    installed: bool
    size: int  # bytes on disk, the model and its classifier head
    checksum: str  # VERIFIED, UNCHECKED, DAMAGED; "" when not installed
    classifier: bool  # names clusters and enables word search
    active: bool


class ModelStore:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)

    # -- what exists -----------------------------------------------------------------------
    def specs(self) -> dict[str, ModelSpec]:
        """Builtin specs plus those the user added (which never shadow a builtin id)."""
        specs = builtin_specs()
        for spec_file in sorted(self._user_dir.glob("*.json")):
            if spec_file.name.endswith(RECORD_SUFFIX):
                continue
            try:
                spec = load_spec_file(spec_file)
            except ModelError as exc:
                log.warning("ignoring user model spec %s: %s", spec_file, exc)
                continue
            specs.setdefault(spec.id, spec)
        return specs

    def spec(self, model_id: str) -> ModelSpec:
        specs = self.specs()
        if model_id not in specs:
            raise ModelError(f"Unknown model {model_id!r}. Known models: "
                             f"{', '.join(sorted(specs))}.")
        return specs[model_id]

    def model_path(self, model_id: str) -> Path:
        """Where the model's file lives in the store, whether or not it is there yet."""
        spec = self.spec(model_id)
        if spec.file is not None:
            return self.model_dir / spec.file.filename
        return self._user_dir / f"{spec.id}.onnx"

    def is_installed(self, model_id: str) -> bool:
        return self.model_path(model_id).is_file()

    # -- obtaining -------------------------------------------------------------------------
    def download(self, model_id: str, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, base_url: str | None = None) -> Path:
        """Fetch a builtin model (from ``base_url``/<file> when given, e.g. a mirror), verify
        it and record the verification. An installed, intact model is not fetched again."""
        spec = self.spec(model_id)
        if spec.file is None:
            raise ModelError(f"{spec.name} cannot be downloaded by photosim: add its file with "
                             f"`photosim models add FILE.onnx --spec {spec.id}`.")
        target = self.model_path(model_id)
        if target.is_file():
            try:
                return self.verify(model_id)
            except ModelIntegrityError as exc:
                log.warning("replacing damaged model file: %s", exc)
                target.unlink()
        url = f"{base_url.rstrip('/')}/{spec.file.filename}" if base_url else spec.file.url
        result = dl.download(url, target, sha256=spec.file.sha256, size=spec.file.size,
                             progress=progress, cancel=cancel)
        self._write_record(target, result.sha256)
        return target

    def add_user_model(self, onnx_path: Path, spec: ModelSpec) -> ModelSpec:
        """Copy a model file into the store under ``spec``.

        A builtin id with a pinned file (e.g. a ResNet-50 downloaded by hand) must match the
        pin exactly and then counts as that builtin model. Returns the spec in effect.
        """
        onnx_path = Path(onnx_path)
        builtin = builtin_specs().get(spec.id)
        spec = builtin or spec
        _check_id(spec.id)
        if not onnx_path.is_file():
            raise ModelError(f"No such model file: {onnx_path}")
        check_model_file(onnx_path, spec)
        target = self.model_path(spec.id) if builtin else self._user_dir / f"{spec.id}.onnx"
        pins = builtin_pins().get(spec.id, FilePins())
        digest = _copy_verified(onnx_path, target, spec, pins.model)
        self._write_record(target, digest)
        self._add_head(onnx_path, target, spec, pins.head)
        if builtin is None:
            atomic_write_bytes(self._user_dir / f"{spec.id}.json",
                               json.dumps(spec.to_dict(), indent=2).encode())
        return spec

    def _add_head(self, source: Path, target: Path, spec: ModelSpec, pin: str | None) -> None:
        """Copy the classifier head the spec names from beside ``source`` (when it is there),
        verified like the model: it names clusters and enables word search."""
        if not spec.head_file:
            return
        head_source = source.parent / spec.head_file
        if not head_source.is_file():
            log.info("%s: no classifier head %s beside %s", spec.id, spec.head_file, source)
            return
        head_spec = ModelSpec(id=spec.id, name=f"the classifier of {spec.name}", dim=spec.dim)
        check_head_file(head_source, spec)
        head_target = target.parent / spec.head_file
        self._write_record(head_target, _copy_verified(head_source, head_target, head_spec, pin))

    def head_path(self, model_id: str) -> Path | None:
        """The installed classifier head file of a model, if its spec names one and it is
        there."""
        spec = self.spec(model_id)
        if not spec.head_file:
            return None
        path = self.model_path(model_id).parent / spec.head_file
        return path if path.is_file() else None

    def installed_files(self, model_id: str) -> list[Path]:
        """What an installed model consists of in the store: its file, and its head if any."""
        head = self.head_path(model_id)
        return [self.verify(model_id), *([head] if head else [])]

    def recognise(self, path: Path) -> ModelSpec | None:
        """The spec of a file known by its sha256: a builtin's published or pinned file, or a
        model the user added before. None for a file never seen."""
        digest = self.external_digest(path)
        for spec in self.specs().values():
            pinned = spec.file.sha256 if spec.file else builtin_pins().get(spec.id,
                                                                          FilePins()).model
            if pinned == digest:
                return spec
        for record_file in sorted(self._user_dir.glob(f"*.onnx{RECORD_SUFFIX}")):
            model_id = record_file.name.removesuffix(f".onnx{RECORD_SUFFIX}")
            if _get_str(_read_json(record_file), "sha256") == digest and \
                    model_id in self.specs():
                return self.specs()[model_id]
        return None

    def remove(self, model_id: str) -> list[Path]:
        """Delete an installed model from the store (its file, head, records, prepared cut,
        and a user model's spec). The files are photosim's own copies, not the user's.
        Returns what was deleted."""
        spec = self.spec(model_id)
        files = [self.model_path(model_id)]
        head = self.head_path(model_id)
        if head is not None and not self._head_shared(model_id, head):
            files.append(head)
        if builtin_specs().get(model_id) is None:
            files.append(self._user_dir / f"{spec.id}.json")
        removed = [f for f in files if f.is_file()]
        for path in removed:
            path.unlink()
            _record_path(path).unlink(missing_ok=True)
        self.discard_prepared(spec.id)
        if _get_str(_read_json(self.model_dir / "current.json"), "model") == model_id:
            self.clear_current()
        return removed

    def discard_prepared(self, model_id: str) -> None:
        """Forget the graphs cut from a model (removed, or refused on trial)."""
        shutil.rmtree(self.model_dir / "prepared" / model_id, ignore_errors=True)

    def _head_shared(self, model_id: str, head: Path) -> bool:
        return any(other != model_id and self.is_installed(other) and self.head_path(other) == head
                   for other in self.specs())

    def state(self, model_id: str) -> ModelState:
        """What the Models page shows of one model, read cheaply (no full re-hash)."""
        spec = self.spec(model_id)
        path = self.model_path(model_id)
        installed = path.is_file()
        head = self.head_path(model_id) if installed else None
        size = sum(p.stat().st_size for p in (path, head) if p is not None and p.is_file())
        return ModelState(spec=spec, installed=installed, size=size,
                          checksum=self._checksum_state(spec, path) if installed else "",
                          classifier=installed and _has_classifier(spec, head),
                          active=self.current() == model_id)

    def _checksum_state(self, spec: ModelSpec, path: Path) -> str:
        record = self._read_record(path)
        if spec.file is not None and path.stat().st_size != spec.file.size:
            return DAMAGED
        if record is not None and self._record_matches(spec, path, record):
            return VERIFIED
        return UNCHECKED

    # -- checking --------------------------------------------------------------------------
    def verify(self, model_id: str) -> Path:
        """The model's file if it is intact, checked cheaply against its verification record.

        Raises ``ModelNotAvailableError`` when it is absent, ``ModelIntegrityError`` when it
        was changed or damaged.
        """
        spec = self.spec(model_id)
        path = self._installed_path(spec)
        if spec.file is not None and path.stat().st_size != spec.file.size:
            raise self._integrity_error(spec, path, f"{path.stat().st_size} bytes instead of "
                                                    f"{spec.file.size}")
        record = self._read_record(path)
        if record is not None and self._record_matches(spec, path, record):
            return path
        return self.verify_full(model_id)

    def verify_full(self, model_id: str) -> Path:
        """Re-hash the whole file against its pinned or recorded sha256."""
        spec = self.spec(model_id)
        path = self._installed_path(spec)
        expected = spec.file.sha256 if spec.file else _get_str(self._read_record(path), "sha256")
        actual = dl.sha256_file(path)
        if expected is not None and actual != expected.lower():
            raise self._integrity_error(spec, path, f"sha256 {actual} instead of {expected}")
        self._write_record(path, actual)
        return path

    # -- preparing -------------------------------------------------------------------------
    def prepared(self, model_id: str) -> tuple[ModelSpec, Path]:
        """The verified model ready to run: a classifier cut to its pooled features once, and
        cached under its source digest so that start-up does not redo it."""
        spec = self.bound_spec(model_id)
        assert spec.file_sha256 is not None
        return spec, self.prepare_file(spec, self.model_path(model_id), spec.file_sha256)

    def bound_spec(self, model_id: str) -> ModelSpec:
        """The spec of an installed model bound to its verified file (``with_file``)."""
        path = self.verify(model_id)
        digest = _get_str(self._read_record(path), "sha256") or dl.sha256_file(path)
        return with_file(self.spec(model_id), digest)

    def prepare_file(self, spec: ModelSpec, source: Path, digest: str) -> Path:
        """``source`` itself when its spec names an embedding output, else the cached cut."""
        if spec.output != POOLED:
            return source
        folder = self.model_dir / "prepared" / spec.id
        target = folder / f"{digest[:16]}.onnx"
        if target.is_file():
            return target
        cut = _cut_checked(spec, source)
        atomic_write_via(target, lambda tmp: _save_onnx(cut, tmp))
        for stale in folder.glob("*.onnx"):
            if stale != target:
                stale.unlink(missing_ok=True)
        log.info("prepared pooled-feature graph for %s at %s", spec.id, target)
        return target

    def external_digest(self, path: Path) -> str:
        """sha256 of a model used in place, remembered by (path, size, mtime) to stay cheap."""
        path = path.resolve()
        memo_file = self.model_dir / "external.json"
        memo = _read_json(memo_file) or {}
        stat = path.stat()
        key = str(path)
        known = memo.get(key)
        # The inode and its change time too: a rewrite that restores size and mtime still
        # moves the change time, and the digest keys this model's vectors.
        facts = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino,
                 "ctime_ns": stat.st_ctime_ns}
        if isinstance(known, dict) and all(known.get(k) == v for k, v in facts.items()) and \
                isinstance(known.get("sha256"), str):
            return str(known["sha256"])
        digest = dl.sha256_file(path)
        memo[key] = {**facts, "sha256": digest}
        atomic_write_bytes(memo_file, json.dumps(memo, indent=1).encode())
        return digest

    # -- choosing --------------------------------------------------------------------------
    def current(self) -> str | None:
        """The model chosen with ``use``, if it still exists."""
        model_id = _get_str(_read_json(self.model_dir / "current.json"), "model")
        return model_id if model_id in self.specs() else None

    def use(self, model_id: str) -> None:
        self.spec(model_id)  # unknown ids are refused
        atomic_write_bytes(self.model_dir / "current.json",
                           json.dumps({"model": model_id}).encode())

    def clear_current(self) -> None:
        """Back to the default model for this machine."""
        (self.model_dir / "current.json").unlink(missing_ok=True)

    def default_model_id(self, gpu: bool) -> str:
        """int8 on the CPU, fp32 on a GPU.

        On CPUs the quantised ResNet-50 runs about 1.8x faster where VNNI exists (and is still
        faster with plain AVX2 integer dot products) and is a quarter of the download. On GPUs
        the CUDA and DirectML providers run fp32 convolutions natively while many quantised
        operators fall back to the CPU, so int8 there would be slower, not faster.
        """
        return RESNET_FP32 if gpu else RESNET_INT8

    def default_installed(self, gpu: bool) -> str | None:
        """The default model when installed, else the other ResNet-50 when that one is."""
        first = self.default_model_id(gpu)
        other = RESNET_INT8 if first == RESNET_FP32 else RESNET_FP32
        return next((m for m in (first, other) if self.is_installed(m)), None)

    # -- records ---------------------------------------------------------------------------
    @property
    def _user_dir(self) -> Path:
        return self.model_dir / "user"

    def _installed_path(self, spec: ModelSpec) -> Path:
        path = self.model_path(spec.id)
        if not path.is_file():
            raise ModelNotAvailableError(_not_installed_message(spec))
        return path

    def _write_record(self, path: Path, sha256: str) -> None:
        stat = path.stat()
        record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256,
                  "sample": _sample_digest(path), "inode": stat.st_ino,
                  "ctime_ns": stat.st_ctime_ns}
        atomic_write_bytes(_record_path(path), json.dumps(record, indent=1).encode())

    def _read_record(self, path: Path) -> dict[str, Any] | None:
        return _read_json(_record_path(path))

    def _record_matches(self, spec: ModelSpec, path: Path, record: dict[str, Any]) -> bool:
        stat = path.stat()
        expected = spec.file.sha256 if spec.file else record.get("sha256")
        # The inode change time cannot be set back (utime itself moves it): any write since
        # the full hash, even one that restored the mtime, means hashing in full again.
        return (record.get("sha256") == expected and record.get("size") == stat.st_size
                and record.get("mtime_ns") == stat.st_mtime_ns
                and record.get("inode") == stat.st_ino
                and record.get("ctime_ns") == stat.st_ctime_ns
                and record.get("sample") == _sample_digest(path))

    def _integrity_error(self, spec: ModelSpec, path: Path, detail: str) -> ModelIntegrityError:
        again = (f"run `photosim models download {spec.id}` to fetch it again"
                 if spec.file else f"add it again with `photosim models add FILE --spec "
                                   f"{spec.id}`")
        return ModelIntegrityError(f"The model file {path} was changed or damaged ({detail}) "
                                   f"and was refused: delete it and {again}.")


def resolve_model(store: ModelStore, choice: str | None,
                  spec: str | None) -> tuple[ModelSpec, Path]:
    """The model to run and its prepared file, from ``--model``/``--model-spec`` style input.

    ``choice`` None: the model chosen with ``use``, else the default for this machine. A
    registered id: that model. A path to an .onnx file: used in place with its spec (``spec``
    as an id or JSON path, else ``FILE.json`` beside it, else a builtin whose pinned file it
    is), cut if needed and cached in the store.
    """
    if choice is None:
        return store.prepared(_default_choice(store))
    if choice in store.specs():
        return store.prepared(choice)
    path = Path(choice).expanduser()
    if path.is_file():
        model_spec = spec_for_file(store, path, spec)
        digest = store.external_digest(path)
        if model_spec.file is not None and digest != model_spec.file.sha256:
            raise ModelIntegrityError(f"{path} is not the file of {model_spec.id} (its sha256 "
                                      f"is {digest}, expected {model_spec.file.sha256}).")
        return with_file(model_spec, digest), store.prepare_file(model_spec, path, digest)
    if choice.lower().endswith(".onnx"):
        raise ModelError(f"No such model file: {path}")
    raise ModelError(f"Unknown model {choice!r}: give a model id ({', '.join(store.specs())}) "
                     "or the path of an .onnx file.")


def with_file(spec: ModelSpec, sha256: str) -> ModelSpec:
    """``spec`` bound to the model file with this sha256 (its vectors are keyed by it)."""
    return replace(spec, file_sha256=sha256.lower())


def is_pinned_file(spec: ModelSpec) -> bool:
    """Whether the file bound to ``spec`` is the one its spec (or a builtin pin) names: the
    only file whose vectors photosim can have stored under the bare id before vectors were
    keyed by content."""
    pinned = spec.file.sha256 if spec.file else builtin_pins().get(spec.id, FilePins()).model
    return bool(pinned and spec.file_sha256 and pinned.lower() == spec.file_sha256.lower())


def spec_for_file(store: ModelStore, path: Path, spec: str | None,
                  flag: str = "--model-spec", advice: str | None = None) -> ModelSpec:
    """The spec for a model file: named (id or JSON path), beside it, or a known file (a
    builtin's pin, a model added before). ``flag``: the option that names a spec, for the
    errors (``--model-spec`` globally, ``--spec`` for ``models add``); ``advice``: what else
    the user may pass."""
    if spec:
        if spec in store.specs():
            return store.specs()[spec]
        if Path(spec).expanduser().is_file():
            return load_spec_file(Path(spec).expanduser())
        raise ModelError(f"{flag} {spec!r} is neither a known model id "
                         f"({', '.join(sorted(store.specs()))}) nor a JSON file.")
    beside = path.with_suffix(".json")
    if beside.is_file():
        return load_spec_file(beside)
    known = _builtin_for_file(path) or store.recognise(path)
    if known is not None:
        return known
    raise ModelError(f"{path} needs a spec (input size, normalisation, output): put "
                     f"{beside.name} beside it or pass {flag} ID|SPEC.json"
                     + (f", {advice}." if advice else "."))


def check_model_file(path: Path, spec: ModelSpec) -> None:
    """Refuse a file that is not ONNX, or whose features cannot be found as ``spec`` says."""
    from photosim.core.models.featurecut import find_pooled

    model = _load_onnx(path)
    if spec.output == POOLED:
        find_pooled(model)
    elif spec.output not in {o.name for o in model.graph.output}:
        names = ", ".join(o.name for o in model.graph.output)
        raise ModelError(f"{path} has no output named {spec.output!r} (it has {names}).")


# -- helpers ---------------------------------------------------------------------------------

def _default_choice(store: ModelStore) -> str:
    current = store.current()
    if current is not None:
        return current
    gpu = gpu_available()
    installed = store.default_installed(gpu)
    if installed is not None:
        return installed
    default = store.spec(store.default_model_id(gpu))
    raise ModelNotAvailableError(_not_installed_message(default))


def _not_installed_message(spec: ModelSpec) -> str:
    if spec.file is None:
        return (f"The model {spec.name} is not installed: add its file with "
                f"`photosim models add FILE.onnx --spec {spec.id}`.")
    megabytes = spec.file.size / 1e6
    return (f"The model {spec.name} is not downloaded yet; visual search needs it. Run "
            f"`photosim models download {spec.id}` ({megabytes:.0f} MB), or download "
            f"{spec.file.filename} from {spec.file.url} and run "
            f"`photosim models add {spec.file.filename}`.")


def _cut_checked(spec: ModelSpec, source: Path) -> onnx.ModelProto:
    from photosim.core.models.featurecut import cut_to_pooled, pooled_channels

    cut = cut_to_pooled(_load_onnx(source))
    dim = pooled_channels(cut)
    if dim is not None and dim != spec.dim:
        raise ModelError(f"The pooled features of {source} have {dim} values but the spec of "
                         f"{spec.id} says {spec.dim}.")
    return cut


def _save_onnx(model: onnx.ModelProto, target: Path) -> None:
    import onnx

    onnx.save(model, str(target))


def _load_onnx(path: Path) -> onnx.ModelProto:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
    except (OSError, ValueError, DecodeError) as exc:
        raise ModelError(f"{path} is not an ONNX model or is truncated: {exc}") from exc
    if not model.graph.node:
        raise ModelError(f"{path} is not an ONNX model (it has no graph).")
    return model


def _copy_verified(source: Path, target: Path, spec: ModelSpec, pin: str | None = None) -> str:
    """Copy atomically while hashing; a pinned sha256 (the spec's published file, or ``pin``)
    must match or nothing is kept."""
    expected = spec.file.sha256 if spec.file is not None else pin
    digest = hashlib.sha256()
    with atomic_writer(target) as out, open(source, "rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
            out.write(block)
        actual = digest.hexdigest()
        if expected is not None and actual != expected:
            raise ModelIntegrityError(f"{source} is not the published file of {spec.name} "
                                      f"(sha256 {actual}, expected {expected}).")
    return actual


def builtin_pins() -> dict[str, FilePins]:
    """The ``sha256``/``head_sha256`` pins of the builtin spec files, keyed by model id."""
    pins: dict[str, FilePins] = {}
    for entry in resources.files("photosim.model_specs").iterdir():
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            model, head = data.get("sha256"), data.get("head_sha256")
            pins[str(data["id"])] = FilePins(model if isinstance(model, str) else None,
                                             head if isinstance(head, str) else None)
    return pins


def check_head_file(path: Path, spec: ModelSpec) -> None:
    """Refuse a classifier head that is not ONNX or does not fit the model's features."""
    _load_onnx(path)
    head = ClassifierHead.from_onnx(path)
    if head is None or head.feature_dim != spec.dim:
        raise ModelError(f"{path} is not a classifier head for {spec.name}: its last layer "
                         f"does not take {spec.dim} features.")


def _has_classifier(spec: ModelSpec, head: Path | None) -> bool:
    """The zoo's classifiers carry their head; a feature model needs its head file."""
    if spec.labels != "imagenet":
        return False
    return spec.output == POOLED or head is not None


def _builtin_for_file(path: Path) -> ModelSpec | None:
    size = path.stat().st_size
    candidates = [s for s in builtin_specs().values() if s.file and s.file.size == size]
    if not candidates:
        return None
    digest = dl.sha256_file(path)
    return next((s for s in candidates if s.file and s.file.sha256 == digest), None)


def _sample_digest(path: Path) -> str:
    """A cheap fingerprint: the first and last 64 KiB, enough to catch truncation and most
    edits without reading 100 MB at every start."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        handle.seek(max(0, size - SAMPLE_BYTES))
        digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + RECORD_SUFFIX)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def _get_str(data: dict[str, Any] | None, key: str) -> str | None:
    value = (data or {}).get(key)
    return value if isinstance(value, str) else None


def _check_id(model_id: str) -> None:
    if not _VALID_ID.match(model_id):
        raise ModelError(f"Invalid model id {model_id!r}: use letters, digits, '.', '_' and "
                         "'-' (at most 64).")
