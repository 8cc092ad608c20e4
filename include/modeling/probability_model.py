"""MLflow "models from code" pyfunc serving both candidate families as fraud probabilities.

MLflow copies this file into every logged model and executes it on load (so it must stay
self-contained: numpy, pandas, mlflow, and xgboost for that family; never ``include``).
Nothing is unpickled: the model itself is a data artifact next to ``meta.json``:

* ``xgboost``: ``model.ubj`` (XGBoost UBJSON), scored with ``Booster.inplace_predict``;
* ``pytorch_mlp``: ``weights.npz`` (mean, std, weights, biases; loaded with
  ``allow_pickle=False``), evaluated in numpy: standardize, NaN -> 0, ReLU layers, sigmoid.

``predict(frame)`` takes the signature's feature columns (float64, any order, extra columns
ignored) and returns a 1-D float64 array of probabilities in [0, 1] for both families, so
serving has one interface. Serving skips the frame: after loading,
``unwrap_python_model()`` gives ``feature_names`` and ``predict_array(x)``, which scores a
float array whose columns are in that order (the same code path, no pandas per request).
Loaded models are cached per artifact path on the instance:
MLflow 3.17 keeps the model-from-code in a process-global while loading, so two threads
loading at once can receive the same instance; keying by path keeps each load's artifacts.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))  # no overflow warning for large |z|


class _Mlp:
    def __init__(self, path: str) -> None:
        with np.load(path, allow_pickle=False) as npz:
            self.mean, self.std = npz["mean"], npz["std"]
            n = sum(1 for k in npz.files if k.startswith("w"))
            self.layers = [(npz[f"w{i}"], npz[f"b{i}"]) for i in range(n)]

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = np.nan_to_num((x - self.mean) / self.std, nan=0.0).astype(np.float32)
        for i, (w, b) in enumerate(self.layers):
            z = z @ w.T + b
            if i < len(self.layers) - 1:
                z = np.maximum(z, 0.0)
        return _sigmoid(z[:, 0].astype(np.float64))


class _Xgb:
    def __init__(self, path: str) -> None:
        import xgboost

        self.booster = xgboost.Booster()
        self.booster.load_model(path)
        # One thread: scoring is one transaction or a small batch at a time, where waking an
        # OpenMP team costs more than it saves and makes the tail latency follow the load.
        self.booster.set_param({"nthread": 1})

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(x), dtype=np.float64)


_LOADERS = {"xgboost": _Xgb, "pytorch_mlp": _Mlp}


class ProbabilityModel(PythonModel):
    """Fraud probabilities from a frame of feature columns, for either family."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[list[str], Any]] = {}
        self._lock = threading.Lock()
        self._current: tuple[list[str], Any] | None = None

    def _model(self, context: Any) -> tuple[list[str], Any]:
        key = context.artifacts["meta"]
        with self._lock:
            if key not in self._loaded:
                with open(key) as f:
                    meta = json.load(f)
                model = _LOADERS[meta["family"]](context.artifacts["model"])
                self._loaded[key] = (list(meta["features"]), model)
            return self._loaded[key]

    def load_context(self, context: Any) -> None:
        self._current = self._model(context)

    @property
    def feature_names(self) -> list[str]:
        """The loaded model's input columns, in the order ``predict_array`` expects."""
        if self._current is None:
            raise RuntimeError("no model loaded: load it with mlflow.pyfunc.load_model first")
        return list(self._current[0])

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for rows of ``x`` (columns in ``feature_names`` order, NaN allowed
        where training allowed it); the frame path below ends here too."""
        if self._current is None:
            raise RuntimeError("no model loaded: load it with mlflow.pyfunc.load_model first")
        return self._current[1].predict(
            np.asarray(x, dtype=np.float32).reshape(-1, len(self._current[0]))
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        features, model = self._model(context)
        x = model_input[features].to_numpy(dtype=np.float32)
        return model.predict(x)


mlflow.models.set_model(ProbabilityModel())
