"""The model a library embeds with, for the facade (core/library.py).

Started on first use, so that opening a library (and `photosim status`) stays instant: the
ONNX session and the classifier head load when something first needs them. A model that
will not start leaves the library in reduced mode, and says why.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from photosim.core import labels
from photosim.core.embedder import Embedder
from photosim.core.errors import ModelError
from photosim.core.models.runtime import ModelSession, available_providers, choose_providers
from photosim.core.models.spec import ModelSpec
from photosim.core.models.store import ModelStore, resolve_model

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"


class LibraryModel:
    """``spec``'s model file at ``path`` (None: no usable model, ``problem`` says why), run on
    ``provider`` (None: the best available). ``source`` is the file as given, before any
    feature cut: where its classifier head is found."""

    def __init__(self, spec: ModelSpec | None, path: Path | None, provider: str | None,
                 problem: str | None, source: Path | None) -> None:
        self.spec = spec
        self.problem = problem  # why there is no visual search (None while there is)
        self._path, self._provider, self._source = path, provider, source
        self._session: ModelSession | None = None
        self._embedder: Embedder | None = None
        self._head: labels.ClassifierHead | bool | None = False  # False: not looked for yet
        self._lock = threading.Lock()

    @property
    def visual_search(self) -> bool:
        return self.spec is not None and self._path is not None

    def embedder(self) -> Embedder | None:
        """The embedder, its session started on first use; None in reduced mode."""
        with self._lock:
            if self._embedder is None and self.spec is not None and self._path:
                self._embedder = self._start(self.spec, self._path)
            return self._embedder

    def _start(self, spec: ModelSpec, path: Path) -> Embedder | None:
        # On the CPU, workers that each decode and infer with one thread beat one
        # multi-threaded session fed by a decode pool (benchmarks/run_all.py).
        threads = 1 if self.runs_on_cpu() else None
        try:
            self._session = ModelSession(path, spec, self._provider, threads)
        except ModelError as exc:  # a model that will not start: reduced mode, say why
            log.warning("model %s failed to start: %s", spec.id, exc)
            self._path, self.problem = None, str(exc)
            return None
        log.info("model %s on %s", spec.id, self._session.provider)
        return Embedder(spec, self._session)

    def provider(self) -> str | None:
        """The provider the session runs on; before it starts (which loads the model), the one
        it would ask for first: `status` stays instant."""
        if self._session is not None:
            return self._session.provider
        return self._first_choice() if self.visual_search else None

    def runs_on_cpu(self) -> bool:
        return self._first_choice() == CPU

    def _first_choice(self) -> str:
        return choose_providers(available_providers(), self._provider)[0]

    def reduced_mode_message(self) -> str:
        """Why the library is in reduced mode, in words ("" when it is not)."""
        if self.visual_search:
            return ""
        return ("Reduced mode: exact and look-alike (perceptual hash) duplicates only. "
                + (self.problem or "Visual search needs the ResNet-50 model: run "
                                   "'photosim models download'."))

    def classifier_head(self) -> labels.ClassifierHead | None:
        """The model's ImageNet classifier (names clusters, enables word search), if it has
        one: in the model file itself (the zoo's ResNet-50) or in the spec's ``head_file``."""
        with self._lock:
            if self._head is False:
                self._head = self._find_head()
            return self._head if isinstance(self._head, labels.ClassifierHead) else None

    def _find_head(self) -> labels.ClassifierHead | None:
        spec = self.spec
        if spec is None or spec.labels != "imagenet" or self._source is None:
            return None
        candidates = [self._source]
        if spec.head_file:
            candidates.append(self._source.parent / spec.head_file)
        for path in candidates:
            if path.is_file():
                head = labels.ClassifierHead.from_onnx(path)
                if head is not None and head.feature_dim == spec.dim:
                    return head
        return None


@dataclass(frozen=True)
class ModelChoice:
    """The model a library opens with: its spec and file (None: reduced mode, ``problem``
    says why), and ``source``, the file as given (before any feature cut)."""

    spec: ModelSpec | None
    path: Path | None
    problem: str | None
    source: Path | None


def choose_model(store: ModelStore, model: str | None, model_spec: str | None,
                 reduced_on_error: bool) -> ModelChoice:
    """The model named by ``model`` / ``model_spec`` (default: the store's), see
    ``resolve_model``. One that cannot be used leaves the library in reduced mode, unless it
    was asked for by name and not ``reduced_on_error``: then its ``ModelError`` is raised."""
    try:
        spec, path = resolve_model(store, model, model_spec)
    except ModelError as exc:
        if model is not None and not reduced_on_error:
            raise
        return ModelChoice(None, None, str(exc), None)
    source = Path(model) if model and Path(model).is_file() else store.model_path(spec.id)
    return ModelChoice(spec, path, None, source)
