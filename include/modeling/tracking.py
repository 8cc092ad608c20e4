"""MLflow plumbing shared by training and the registry gate.

* :func:`configure`: the tracking URI (settings by default; a SQLite URI must be absolute,
  or MLflow would create ``mlflow.db`` in whatever the working directory is);
* :func:`ensure_experiment`: the use case's experiment, artifacts next to a SQLite DB;
* :func:`log_model`: a candidate as the :mod:`include.modeling.probability_model` pyfunc with
  an explicit signature, input example and pinned ``pip_requirements`` (never inferred:
  inference costs 5-8 s per model and guesses), then read back and compared;
* :func:`log_batch`: params, metrics and tags in one store transaction;
* :class:`Stopwatch`: how much of a call MLflow took (target <= 5 % of a training task).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from include.modeling.errors import ModelReadBackFailed

# Where a training run keeps its holdout (the gate and monitoring read it back).
HOLDOUT_ARTIFACT = "holdout/holdout.parquet"
PYFUNC_CODE = Path(__file__).with_name("probability_model.py")
MODEL_NAME = "model"  # artifact name of the logged model inside its run
MAX_TAG_VALUE = 5000  # MLflow's limit for model-version tag values (run tags allow 8000)
# Serving needs these distributions; xgboost only for that family (the MLP runs in numpy).
_REQUIREMENTS = {"xgboost": ("mlflow", "numpy", "pandas", "xgboost")}
_DEFAULT_REQUIREMENTS = ("mlflow", "numpy", "pandas")


class Stopwatch:
    """Accumulates wall time per label: ``with watch.track("mlflow"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def track(self, label: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] += time.perf_counter() - start


def mlflow_module() -> ModuleType:
    """``mlflow``, imported with telemetry off unless the environment decided otherwise."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    return mlflow


def resolve_tracking_uri(tracking_uri: str | None) -> str:
    if tracking_uri is None:
        from include.config import get_settings

        tracking_uri = get_settings().mlflow_tracking_uri
    if tracking_uri.startswith("sqlite:///"):
        path = tracking_uri.removeprefix("sqlite:///")  # sqlite:////abs -> /abs
        if not path.startswith("/"):
            raise ValueError(
                f"MLflow tracking URI {tracking_uri!r} is relative to the working directory; "
                "use sqlite:////absolute/path/mlflow.db"
            )
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # SQLite creates no folders
    return tracking_uri


def configure(tracking_uri: str | None) -> ModuleType:
    """Point this process's MLflow at ``tracking_uri`` (settings by default)."""
    mlflow = mlflow_module()
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    return mlflow


def ensure_experiment(name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``, created if missing (two creators may race: fine)."""
    mlflow = mlflow_module()
    from mlflow.exceptions import MlflowException

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = mlflow.get_tracking_uri()
    # MLflow's default for a database store would be ./mlartifacts in the working directory.
    if artifact_location is None and uri.startswith("sqlite:///"):
        artifact_location = str(Path(uri.removeprefix("sqlite:///")).parent / "artifacts" / name)
    elif artifact_location is None and not uri.startswith(("http://", "https://")):
        from include.config import get_settings

        artifact_location = f"{get_settings().mlflow_artifact_root.rstrip('/')}/{name}"
    try:
        return mlflow.create_experiment(name, artifact_location=artifact_location)
    except MlflowException:
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def tag_key(key: str) -> str:
    """A key MLflow accepts (letters, digits, ``_ - . / space``)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", key)


def lineage_tags(lineage: Mapping[str, Any]) -> dict[str, str]:
    """``{"lineage.<key>": value}``, values as strings cut to :data:`MAX_TAG_VALUE`."""
    return {f"lineage.{tag_key(k)}": str(v)[:MAX_TAG_VALUE] for k, v in lineage.items()}


def flat_params(prefix: str, values: Mapping[str, Any]) -> dict[str, str]:
    return {
        f"{prefix}{k}": json.dumps(v) if isinstance(v, list) else str(v) for k, v in values.items()
    }


def log_batch(
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> None:
    """Params, metrics and tags of the active run in one store transaction (SQLite commits
    dominate MLflow's cost for small logs; the fluent API commits once per call)."""
    mlflow = mlflow_module()
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    mlflow.MlflowClient().log_batch(
        mlflow.active_run().info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
    )


def pip_requirements(family: str) -> list[str]:
    """Pinned to the versions trained with, so serving resolves the same stack."""
    names = _REQUIREMENTS.get(family, _DEFAULT_REQUIREMENTS)
    return [f"{name}=={metadata.version(name)}" for name in names]


def signature(features: list[str]) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([ColSpec("double", name) for name in features]),
        outputs=Schema([TensorSpec(np.dtype("float64"), (-1,), "fraud_probability")]),
    )


def log_model(
    fitted: Any, features: list[str], example: pd.DataFrame, check_rows: pd.DataFrame
) -> dict[str, str]:
    """Log ``fitted`` under the active run; return its ``model_uri`` and ``model_id``.

    The logged model is loaded back and must predict ``check_rows`` like ``fitted`` does
    (catches a serialization or serving-forward mismatch before anything is registered).
    """
    mlflow = mlflow_module()
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        model_path = fitted.save(Path(tmp))
        meta_path = Path(tmp) / "meta.json"
        meta_path.write_text(json.dumps({"family": fitted.family, "features": features}))
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(PYFUNC_CODE),
            artifacts={"model": str(model_path), "meta": str(meta_path)},
            signature=signature(features),
            input_example=example[features].astype("float64"),
            pip_requirements=pip_requirements(fitted.family),
            metadata={"family": fitted.family, "output": "fraud probability"},
        )
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    expected = fitted.predict(check_rows[features].astype("float64").to_numpy(np.float32))
    got = np.asarray(loaded.predict(check_rows[features].astype("float64")))
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-5):
        worst = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else None
        raise ModelReadBackFailed(
            f"{fitted.family} model {info.model_uri} read back with different predictions "
            f"(shape {got.shape} vs {expected.shape}, max abs diff {worst}); not registering"
        )
    return {"model_uri": info.model_uri, "model_id": info.model_id}
