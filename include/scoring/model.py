"""The model a run scores with: the champion's exact version, its stored threshold, its code.

* :func:`scoring_model` — pinned once per run (:class:`ScoringModel`, XCom between tasks):
  ``models:/<name>/<version>``, never the moving alias, so every day of a run is scored by
  the same version even if a promotion lands meanwhile; the threshold is the one the gate
  stored with that version (``include.registry.read``), never a default;
* :func:`load_model` — the version's pyfunc (the code it was logged with);
* :func:`predict` — probabilities for a feature frame, checked (one per row, in [0, 1]).
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
import pandas as pd

from include.features import schema
from include.features.schema import FeatureSpec
from include.scoring.errors import ModelInputsUnavailable, ModelOutputInvalid, NothingToScore
from include.spec import UseCaseSpec


class ScoringModel(TypedDict):
    """The version a run scores with, pinned once per run (XCom between tasks)."""

    name: str
    version: str
    model_uri: str  # models:/<name>/<version>, never the moving alias
    threshold: float


def scoring_model(spec: UseCaseSpec | None = None, tracking_uri: str | None = None) -> ScoringModel:
    """The current champion's exact version and the threshold the gate stored with it;
    :class:`NothingToScore` when no model was promoted yet, the registry's
    ``ThresholdMissing`` (naming the version) when it has no threshold."""
    from include.registry.read import champion

    current = champion(spec, tracking_uri)
    if current is None:
        raise NothingToScore("no champion yet: nothing to score with (train_model promotes one)")
    return ScoringModel(
        name=current.name,
        version=current.version,
        model_uri=current.model_uri,
        threshold=current.require_threshold(),
    )


def load_model(model: ScoringModel, tracking_uri: str | None = None) -> Any:
    """The pyfunc of exactly ``model``'s version (loading ``models:/`` imports Feast: ~8 s)."""
    from include.modeling import tracking

    mlflow = tracking.configure(tracking_uri)
    return mlflow.pyfunc.load_model(model["model_uri"])


def model_inputs(pyfunc: Any, fspec: FeatureSpec) -> list[str]:
    """The columns the model takes (its signature), else the feature service's features."""
    signature = pyfunc.metadata.get_input_schema()
    return list(signature.input_names()) if signature is not None else schema.model_features(fspec)


def predict(pyfunc: Any, features: pd.DataFrame, inputs: list[str]) -> np.ndarray:
    """The model's probabilities for ``features`` (float64, as the gate scores them)."""
    missing = [c for c in inputs if c not in features.columns]
    if missing:
        raise ModelInputsUnavailable(
            f"the model takes {missing}, which the feature service does not return: it was "
            "trained on another feature service version; promote a model trained on this one"
        )
    if features.empty:
        return np.zeros(0, dtype=np.float64)
    proba = np.asarray(pyfunc.predict(features[inputs].astype("float64")), dtype=np.float64)
    proba = proba.reshape(-1) if proba.ndim == 2 and proba.shape[1] == 1 else proba
    if proba.shape != (len(features),) or not np.all((proba >= 0.0) & (proba <= 1.0)):
        raise ModelOutputInvalid(
            f"the model returned shape {proba.shape} for {len(features)} rows, or values "
            "outside [0, 1] (NaN included)"
        )
    return proba
