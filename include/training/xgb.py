"""XGBoost candidate: hist trees, early stopping on the validation part, gain importance.

The model is kept as a native ``Booster`` and saved as UBJSON (``model.ubj``): a data format,
so loading it never unpickles anything (fault E6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from include.training.errors import TrainingDiverged
from include.training.search import draw_configs
from include.training.split import SplitArrays
from include.training.threads import import_xgboost, xgboost_threads

FAMILY = "xgboost"
MODEL_FILE = "model.ubj"
# The first config is a sound default; the others are drawn from GRID (seeded, no repeats).
DEFAULT: dict[str, Any] = {
    "max_depth": 6,
    "eta": 0.1,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    # "sqrt" = sqrt(negatives / positives): some imbalance correction without inflating the
    # probabilities as much as the full ratio would (calibration is a reported metric).
    "scale_pos_weight": 1.0,
    "max_rounds": 400,
    "early_stopping_rounds": 30,
}
GRID: dict[str, list[Any]] = {
    "max_depth": [3, 4, 6, 8],
    "eta": [0.05, 0.1, 0.2],
    "min_child_weight": [1.0, 5.0, 10.0],
    "subsample": [0.8, 1.0],
    "colsample_bytree": [0.8, 1.0],
    "reg_lambda": [1.0, 5.0],
    "scale_pos_weight": [1.0, "sqrt"],
}
# Early stopping watches the XGBoost metric closest to the gate's primary metric.
EVAL_METRIC = {"pr_auc": "aucpr", "roc_auc": "auc"}


def search_space(budget: int, seed: int) -> list[dict[str, Any]]:
    """``budget`` distinct configs: the default, then seeded random draws from :data:`GRID`."""
    return draw_configs(DEFAULT, GRID, budget, seed)


@dataclass
class FittedXGBoost:
    booster: Any
    config: dict[str, Any]
    features: tuple[str, ...]
    best_iteration: int
    rounds_trained: int
    threads: int

    family = FAMILY

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fraud probabilities (binary:logistic output) for float32 rows."""
        return np.asarray(self.booster.inplace_predict(x), dtype=np.float64)

    def importance(self, arrays: SplitArrays) -> dict[str, float]:
        """Total gain per feature (0 for features never split on); cheap, from the trees."""
        gain = self.booster.get_score(importance_type="total_gain")
        return {name: float(gain.get(name, 0.0)) for name in self.features}

    def save(self, directory: Path) -> Path:
        path = directory / MODEL_FILE
        self.booster.save_model(str(path))
        return path

    def summary(self) -> dict[str, float]:
        return {
            "best_iteration": self.best_iteration,
            "rounds_trained": self.rounds_trained,
            "threads": self.threads,
        }


def fit(
    config: dict[str, Any],
    arrays: SplitArrays,
    *,
    threads: int,
    seed: int,
    primary_metric: str = "pr_auc",
) -> FittedXGBoost:
    """Train one config; early stopping keeps the trees up to the best validation round.

    ``threads`` is a cap: small data gets fewer (see :func:`xgboost_threads`)."""
    xgb = import_xgboost()
    threads = xgboost_threads(threads, *arrays.x_train.shape)
    if "xgb" not in arrays.cache:  # quantile sketch once per family, shared by every trial
        dtrain = xgb.QuantileDMatrix(
            arrays.x_train,
            label=arrays.y_train,
            feature_names=list(arrays.features),
            nthread=threads,
        )
        dval = xgb.QuantileDMatrix(
            arrays.x_val,
            label=arrays.y_val,
            ref=dtrain,
            feature_names=list(arrays.features),
            nthread=threads,
        )
        arrays.cache["xgb"] = (dtrain, dval)
    dtrain, dval = arrays.cache["xgb"]
    spw = config["scale_pos_weight"]
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "eval_metric": EVAL_METRIC.get(primary_metric, "logloss"),
        "nthread": threads,
        "seed": seed,
        "max_depth": int(config["max_depth"]),
        "eta": float(config["eta"]),
        "min_child_weight": float(config["min_child_weight"]),
        "subsample": float(config["subsample"]),
        "colsample_bytree": float(config["colsample_bytree"]),
        "reg_lambda": float(config["reg_lambda"]),
        "scale_pos_weight": math.sqrt(arrays.negatives_per_positive) if spw == "sqrt" else spw,
    }
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=int(config["max_rounds"]),
        evals=[(dval, "validation")],
        early_stopping_rounds=int(config["early_stopping_rounds"]),
        evals_result=history,
        verbose_eval=False,
    )
    curve = history["validation"][params["eval_metric"]]
    best = int(booster.best_iteration)
    fitted = FittedXGBoost(
        booster=booster[: best + 1],  # drop the rounds after the best one
        config=dict(config),
        features=arrays.features,
        best_iteration=best,
        rounds_trained=len(curve),
        threads=threads,
    )
    if not np.isfinite(curve).all() or not np.isfinite(fitted.predict(arrays.x_val)).all():
        raise TrainingDiverged(FAMILY, config, "validation metric or predictions not finite")
    return fitted
