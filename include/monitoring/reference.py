"""The champion's reference: what monitoring compares production with.

* features: the champion's own training set (``lineage.training_set_uri`` on the version),
  the data it learned from;
* scores and quality: its holdout (the training run's ``holdout/holdout.parquet``) scored by
  the champion now: out-of-sample scores, the distribution production's scores should keep;
  the holdout figures (PR-AUC, recall at the spec's FPR) are the gate's, on the version.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import pandas as pd

from include import storage
from include.monitoring.errors import ReferenceUnavailable
from include.registry.read import RegisteredVersion
from include.spec import UseCaseSpec


@dataclass
class Reference:
    champion: RegisteredVersion
    features: pd.DataFrame  # the training set's model features
    event_times: pd.Series  # each training row's event time (aligned with features)
    holdout: pd.DataFrame  # target + score (the champion's, out of sample)
    data_start: date  # the oldest event in the training set
    data_end: date  # the newest event in the training set: the model's "as of"


def load(
    champion: RegisteredVersion, spec: UseCaseSpec, tracking_uri: str | None = None
) -> Reference:
    """Read the champion's training set and score its holdout (loads the pyfunc: ~8 s)."""
    from include.modeling import tracking
    from include.scoring.model import load_model, predict

    names = spec.names
    if not champion.training_set_uri or not champion.holdout_uri:
        raise ReferenceUnavailable(
            f"{champion.name} v{champion.version} has no lineage.training_set_uri or training "
            "run: it can not be monitored against its reference (retrain it)"
        )
    try:
        train = pd.read_parquet(io.BytesIO(storage.read_bytes(champion.training_set_uri)))
    except Exception as exc:  # noqa: BLE001
        raise ReferenceUnavailable(
            f"training set of v{champion.version} unreadable at {champion.training_set_uri}: {exc}"
        ) from exc
    mlflow = tracking.configure(tracking_uri)
    try:
        local = mlflow.artifacts.download_artifacts(champion.holdout_uri)
        holdout = pd.read_parquet(local)
    except Exception as exc:  # noqa: BLE001
        raise ReferenceUnavailable(
            f"holdout of v{champion.version} unreadable at {champion.holdout_uri}: {exc}"
        ) from exc
    missing = [f for f in champion.features if f not in train.columns]
    if missing:
        raise ReferenceUnavailable(f"training set of v{champion.version} lacks {missing}")
    pyfunc = load_model(
        {
            "name": champion.name,
            "version": champion.version,
            "model_uri": champion.model_uri,
            "threshold": champion.threshold or 0.0,
        },
        tracking_uri,
    )
    scores = predict(pyfunc, holdout, list(champion.features))
    scored_holdout = pd.DataFrame(
        {names.target: holdout[names.target].astype("int64").to_numpy(), "score": scores}
    )
    stamps = pd.to_datetime(train[names.event_ts], utc=True)
    return Reference(
        champion=champion,
        features=train[list(champion.features)].astype("float64").reset_index(drop=True),
        event_times=stamps.reset_index(drop=True),
        holdout=scored_holdout,
        data_start=stamps.min().date(),
        data_end=stamps.max().date(),
    )
