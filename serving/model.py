"""The served-model format: a registered MLflow version in BentoML's model store.

A BentoML model ``<registered name>:v<version>`` (e.g. ``fraud_is_fraud:v7``) holds::

    mlflow/        the MLflow model directory as the registry stores it (models from code:
                   include/modeling/probability_model.py + model.ubj / weights.npz + meta.json)
    serving.json   name, version, threshold, target_fpr, features, family, model_uri,
                   training_run_id, data_sha256, files_sha256, created_at (+ given extras)

:func:`package` writes it (idempotent: the same tag with the same content is reused, a
different one is refused); :func:`load` gives a :class:`ServedModel` whose ``predict``
takes float rows in ``feature_names`` order and returns probabilities — the pyfunc's own
``predict_array``, with no DataFrame per request. :class:`ModelManager` holds the version a
running service serves and swaps in another only after :func:`self_check` passed.

Loading reads the local directory with ``mlflow.pyfunc.load_model(<dir>)``. It never asks
the tracking server: MLflow's HTTP client loads request-header plugins through entry
points, and Feast registers one, so a ``models:/`` URI would import all of Feast (+6 s,
torch) into the serving process. Measured here (2 shared cores, busy; bytecode cached):
``import mlflow.pyfunc`` ~3 s once per process (~17 s without bytecode), the first load
~2.5-3.5 s (it imports xgboost), a further version ~0.05-0.2 s; MLflow's requirement check,
skipped when serving, would add 1-4 s per load. Both are recorded in
:attr:`ServedModel.load_seconds` and ``import_seconds`` (``/status``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from serving import pointer

# A child of BentoML's logger: in the server its handlers and format apply.
log = logging.getLogger("bentoml.scoring_service.model")

MODEL_DIR = "mlflow"
METADATA_FILE = "serving.json"
# Metadata keys that change on every packaging without changing what is served.
_VOLATILE = ("created_at",)
RETRY_FAILED_SECONDS = 5.0  # a version that failed to load is retried this often
_LOAD_LOCK = threading.Lock()  # MLflow keeps a model-from-code in a process global while loading
_IMPORT_SECONDS: float | None = None


class ModelPackageConflict(RuntimeError):
    """The tag exists with other content (another model under the same version)."""


class ModelLoadFailed(RuntimeError):
    """The model could not be loaded or failed its self-check; the message says why."""


def tag_for(name: str, version: str | int) -> str:
    return f"{name}:v{version}"


@dataclass(frozen=True)
class ServedModel:
    """One loaded version: immutable, shared by every request that started while it was
    active (a request reads the active one once, so it never mixes versions)."""

    name: str
    version: str
    tag: str
    threshold: float
    feature_names: tuple[str, ...]
    metadata: Mapping[str, Any]
    loaded_at: datetime
    load_seconds: float
    import_seconds: float
    _score: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for float rows in ``feature_names`` order (NaN = missing value)."""
        return np.asarray(self._score(x), dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "tag": self.tag,
            "threshold": self.threshold,
            "features": len(self.feature_names),
            "family": self.metadata.get("family"),
            "loaded_at": self.loaded_at.isoformat(),
            "load_seconds": round(self.load_seconds, 3),
            "import_seconds": round(self.import_seconds, 3),
        }


# ------------------------------------------------------------------------------ package
def _files_sha256(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _local_dir(source: str | Path, tmp: Path) -> tuple[Path, str | None]:
    """The MLflow model directory for ``source`` (a local dir, or a URI downloaded here)."""
    text = str(source)
    if "://" not in text and not text.startswith(("models:", "runs:")):
        path = Path(text)
        if not (path / "MLmodel").is_file():
            raise ModelLoadFailed(f"{path} is not an MLflow model directory (no MLmodel file)")
        return path, None
    from include.config import get_settings

    mlflow = _mlflow()
    mlflow.set_tracking_uri(get_settings().mlflow_tracking_uri)
    local = mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=str(tmp))
    return Path(local), text


def _jsonable(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(metadata), default=str))


def package(
    source: str | Path,
    *,
    name: str,
    version: str | int,
    threshold: float,
    metadata: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Store the MLflow model ``source`` (a local MLflow model directory or a
    ``models:/``/``runs:/`` URI) as BentoML model ``<name>:v<version>``; returns the tag.

    The model is loaded once from the copied directory first: it must give probabilities
    for its own features, which must match ``metadata["features"]`` when given.
    Idempotent: the tag already stored with the same content is returned as is; with other
    content :class:`ModelPackageConflict` is raised (delete it to replace it).
    """
    import bentoml

    from serving.bento import use_bentoml_home

    use_bentoml_home()
    threshold = float(threshold)
    if not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    tag = tag_for(name, version)
    given = _jsonable(metadata or {})
    with tempfile.TemporaryDirectory(prefix="mlops-package-") as tmp:
        local, uri = _local_dir(source, Path(tmp) / "download")
        staged = Path(tmp) / MODEL_DIR
        shutil.copytree(local, staged)
        features, family = _read_model(staged)
        if given.get("features") and list(given["features"]) != features:
            raise ModelLoadFailed(
                f"{tag}: the registry lists features {given['features']} but the model "
                f"takes {features}; not packaging a model its tags misdescribe"
            )
        doc = {
            **given,
            "name": name,
            "version": str(version),
            "threshold": threshold,
            "features": features,
            "family": given.get("family") or family,
            "model_uri": given.get("model_uri") or uri,
            "files_sha256": _files_sha256(staged),
            "created_at": datetime.now(UTC).isoformat(),
        }
        for key in ("target_fpr", "training_run_id", "data_sha256"):
            doc.setdefault(key, None)
        existing = _existing(tag)
        if existing is not None:
            return _reuse(tag, existing, doc)
        flat = {k: v for k, v in doc.items() if isinstance(v, str | int | float | bool)}
        try:
            with bentoml.models.create(
                tag,
                labels={"registered_name": name, "version": str(version), **(labels or {})},
                metadata=flat,
            ) as bm:
                shutil.copytree(staged, bm.path_of(MODEL_DIR))
                Path(bm.path_of(METADATA_FILE)).write_text(json.dumps(doc, indent=2) + "\n")
        except bentoml.exceptions.BentoMLException:
            existing = _existing(tag)  # packaged concurrently (a retried task): same?
            if existing is None:
                raise
            return _reuse(tag, existing, doc)
    return tag


def _existing(tag: str) -> dict[str, Any] | None:
    import bentoml

    try:
        bm = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        return None
    path = Path(bm.path_of(METADATA_FILE))
    return json.loads(path.read_text()) if path.is_file() else {}


def _reuse(tag: str, existing: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    def same(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in _VOLATILE}

    if same(existing) == same(doc):
        return tag
    differ = sorted(
        k for k in set(existing) | set(doc) if k not in _VOLATILE and existing.get(k) != doc.get(k)
    )
    raise ModelPackageConflict(
        f"BentoML model {tag} already exists with other content (differs in {differ}); a "
        f"version's package never changes. If the old one is wrong, remove it with "
        f"`bentoml models delete {tag}` (and its Bento) and package again."
    )


def _read_model(path: Path) -> tuple[list[str], str | None]:
    """Load the MLflow directory once: its features and family (and proof it loads)."""
    pyfunc, _ = _load_pyfunc(path, check_requirements=True)
    features = list(pyfunc.unwrap_python_model().feature_names)
    family = (pyfunc.metadata.metadata or {}).get("family")
    return features, family


# --------------------------------------------------------------------------------- load
def _load_pyfunc(path: Path, *, check_requirements: bool = False) -> tuple[Any, float]:
    """``mlflow.pyfunc.load_model`` on a local directory; returns it and the seconds the
    first mlflow import took in this process (0 afterwards).

    MLflow's requirement check scans every installed distribution (~1-4 s per load here):
    packaging runs it (the versions are reported where the model is packaged); serving
    skips it, its image installs the lock's pins (``serving.bento``)."""
    global _IMPORT_SECONDS
    start = time.perf_counter()
    mlflow = _mlflow()
    imported = time.perf_counter() - start
    first = _IMPORT_SECONDS is None
    if first:
        _IMPORT_SECONDS = imported
    with _LOAD_LOCK:
        model = mlflow.pyfunc.load_model(str(path), suppress_warnings=not check_requirements)
    return model, imported if first else 0.0


def _mlflow() -> Any:
    """``mlflow`` with its pyfunc loaded; telemetry off unless the environment decided
    otherwise (as ``include.modeling.tracking``, which serving does not import)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow.pyfunc

    return mlflow


def warm_up() -> float:
    """Import MLflow's pyfunc now (seconds taken), so that the first deployment a service
    following the pointer receives loads in ~0.1 s instead of paying the import."""
    start = time.perf_counter()
    _mlflow()
    return time.perf_counter() - start


def load(tag: str) -> ServedModel:
    """The BentoML model ``tag`` ready to score (:class:`ModelLoadFailed` says why not)."""
    import bentoml

    start = time.perf_counter()
    try:
        bm = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        raise ModelLoadFailed(
            f"BentoML model {tag} is not in the model store ({_bentoml_home_hint()}); "
            "package it first (include.deployment.package)"
        ) from None
    meta_path = Path(bm.path_of(METADATA_FILE))
    if not meta_path.is_file():
        raise ModelLoadFailed(f"{tag} has no {METADATA_FILE}: not packaged by serving.model")
    meta = json.loads(meta_path.read_text())
    try:
        pyfunc, import_seconds = _load_pyfunc(Path(bm.path_of(MODEL_DIR)))
        python_model = pyfunc.unwrap_python_model()
        features = tuple(python_model.feature_names)
    except Exception as exc:
        raise ModelLoadFailed(f"{tag}: the MLflow model does not load: {exc}") from exc
    if list(features) != list(meta.get("features", features)):
        raise ModelLoadFailed(f"{tag}: {METADATA_FILE} features differ from the model's")
    return ServedModel(
        name=str(meta["name"]),
        version=str(meta["version"]),
        tag=str(bm.tag),
        threshold=float(meta["threshold"]),
        feature_names=features,
        metadata=meta,
        loaded_at=datetime.now(UTC),
        load_seconds=time.perf_counter() - start,
        import_seconds=import_seconds,
        _score=python_model.predict_array,
    )


def _bentoml_home_hint() -> str:
    return f"BENTOML_HOME={os.environ.get('BENTOML_HOME', '~/bentoml')}"


def self_check(model: ServedModel, known_features: Collection[str] | None = None) -> None:
    """What a version must pass before it takes traffic in a running service: a threshold
    in [0, 1], features the online reader knows, finite probabilities in [0, 1] for a row
    of zeros and a row of missing values. Raises :class:`ModelLoadFailed`."""
    if not (math.isfinite(model.threshold) and 0.0 <= model.threshold <= 1.0):
        raise ModelLoadFailed(f"{model.tag}: threshold {model.threshold!r} is not in [0, 1]")
    if known_features is not None:
        unknown = [f for f in model.feature_names if f not in set(known_features)]
        if unknown:
            raise ModelLoadFailed(
                f"{model.tag}: features {unknown} are not served by the online store"
            )
    sample = np.zeros((2, len(model.feature_names)), dtype=np.float64)
    sample[1, :] = np.nan
    try:
        scores = model.predict(sample)
    except Exception as exc:
        raise ModelLoadFailed(f"{model.tag}: predict failed on a sample row: {exc}") from exc
    if (
        scores.shape != (2,)
        or not np.all(np.isfinite(scores))
        or not (np.all(scores >= 0.0) and np.all(scores <= 1.0))
    ):
        raise ModelLoadFailed(f"{model.tag}: sample probabilities {scores!r} not in [0, 1]")


def loaded_modules() -> dict[str, bool]:
    """Which heavy libraries this process has imported (the serving process must not
    import Feast; reported by /status)."""
    return {m: m in sys.modules for m in ("feast", "torch", "pandas", "mlflow", "xgboost")}


# ------------------------------------------------------------------- the active model
class ModelManager:
    """The model a running service serves and how it changes: pinned (``pinned``, a tag),
    or following the deployment pointer (``pointer_path``, polled by the caller).

    ``active`` is one immutable :class:`ServedModel`, replaced by a single
    assignment; a request reads it once. Loads happen on the watcher thread, beside the
    active model, and only a model that passed :func:`self_check` is swapped in.
    """

    def __init__(
        self,
        *,
        pinned: str | None,
        pointer_path: Path,
        known_features: list[str],
        on_swap: Callable[[ServedModel | None, ServedModel], None] | None = None,
        on_failure: Callable[[str, Exception], None] | None = None,
        loader: Callable[[str], ServedModel] | None = None,
    ) -> None:
        self.pinned = pinned
        self.pointer_path = pointer_path
        self.known_features = known_features
        self.active: ServedModel | None = None
        self.pointer: pointer.Pointer | None = None
        self.last_error: dict[str, Any] | None = None
        self._on_swap = on_swap
        self._on_failure = on_failure
        self._loader = loader or (lambda tag: load(tag))
        self._seen: tuple[int, int, int] | None = None
        self._failed: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def load(self, tag: str) -> ServedModel:
        """Load ``tag`` beside the active model, self-check, swap. Raises on failure (the
        active model stays)."""
        with self._lock:
            try:
                candidate = self._loader(tag)
                self_check(candidate, self.known_features)
            except Exception as exc:
                self._failed = (tag, time.monotonic())
                self.last_error = {
                    "model_tag": tag,
                    "error": f"{type(exc).__name__}: {exc}"[:1000],
                    "at": datetime.now(UTC).isoformat(),
                    "serving": self.active.tag if self.active else None,
                }
                if self._on_failure is not None:
                    self._on_failure(tag, exc)
                log.error(
                    "model %s not loaded (%s); still serving %s",
                    tag,
                    self.last_error["error"],
                    self.active.tag if self.active else "nothing",
                )
                raise
            previous, self.active = self.active, candidate
            self._failed = None
            self.last_error = None
            log.info(
                "serving %s (threshold %.6f, loaded in %.2f s; previous %s)",
                candidate.tag,
                candidate.threshold,
                candidate.load_seconds,
                previous.tag if previous else "none",
            )
            if self._on_swap is not None:
                self._on_swap(previous, candidate)
            return candidate

    def wanted(self) -> str | None:
        """The model tag that should serve: the pinned one, else the pointer's (re-read
        only when the file changed); None when nothing was deployed yet."""
        if self.pinned:
            return self.pinned
        try:
            st = self.pointer_path.stat()
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            self.pointer, self._seen = None, None
            return None
        if signature != self._seen:
            self._seen = signature
            try:
                self.pointer = pointer.read(self.pointer_path)
            except pointer.PointerInvalid as exc:  # keep the last good pointer
                self.last_error = {"pointer": str(self.pointer_path), "error": str(exc)}
                log.error("deployment pointer ignored: %s", exc)
        return self.pointer.model_tag if self.pointer else None

    def poll(self) -> None:
        """Load the wanted model if it is not the active one (cheap when nothing changed);
        a version that failed is retried every ``RETRY_FAILED_SECONDS``."""
        wanted = self.wanted()
        if wanted is None or (self.active is not None and self.active.tag == wanted):
            return
        failed = self._failed
        if failed and failed[0] == wanted and time.monotonic() - failed[1] < RETRY_FAILED_SECONDS:
            return
        try:
            self.load(wanted)
        except Exception:  # noqa: BLE001 - reported by /status and the log; keep serving
            pass

    def status(self) -> dict[str, Any]:
        return {
            "mode": "pinned" if self.pinned else "pointer",
            "pinned": self.pinned,
            "pointer_path": None if self.pinned else str(self.pointer_path),
            "pointer": self.pointer.as_dict() if self.pointer else None,
            "last_error": self.last_error,
        }
