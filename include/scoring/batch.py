"""Score one day's validated transactions with the champion's exact version.

    <lake>/validated/transactions/date=D/data.parquet
      → unscored_reasons (feature rows at or before each row, within the TTL)
      → historical_features (the point-in-time code training uses, include.features)
      → pyfunc models:/<name>/<version> (the code the model was logged with)
      → decide (the version's stored threshold) → <lake>/predictions/date=D/data.parquet

Columns written (one row per validated transaction, in the partition's order): the key, the
event time and the entity join keys, ``score`` (NaN when unscored), ``decision``, ``scored``,
``unscored_reason``, ``model_name``, ``model_version``, ``threshold``, ``scored_at``, then the
model's feature values (float64, as the model saw them) and the ``*_as_of`` stamps saying
which feature rows answered, for monitoring to compare distributions with training.

Atomic and idempotent: the partition is one file written temp-then-rename, so a re-run of a
day replaces it whole (same rows, same values; only ``scored_at`` moves). Refusals:
a missing or empty validated partition (:class:`PartitionNotScorable`), a day without feature
tables (:class:`FeaturesNotComputed`: every row would be unscored), a version without its
threshold (the registry's ``ThresholdMissing``, raised by :mod:`include.scoring.model`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from include import layout, storage
from include.config import Settings, get_settings
from include.data import lake
from include.features import schema, store
from include.features.schema import FeatureSpec
from include.scoring.decision import decide, unscored_reasons
from include.scoring.errors import FeaturesNotComputed, PartitionNotScorable
from include.scoring.model import ScoringModel, load_model, model_inputs, predict
from include.spec import DECISIONS, UseCaseSpec, load_spec

# Feature rows are read this many TTLs back, so an *expired* entity (a row older than the
# TTL) is told apart from a *missing* one (no row in that reach).
_REACH_TTLS = 2
_UTC_NS = "datetime64[ns, UTC]"


class ScoringSummary(TypedDict):
    """One scored partition: the ``predictions`` Asset event's extra."""

    partition: str
    uri: str
    rows: int
    scored: int
    unscored: int
    decisions: dict[str, int]  # decision -> rows (unscored rows included)
    unscored_reasons: dict[str, int]
    model: str
    version: str
    threshold: float
    scored_at: str


def read_transactions(day: date, fspec: FeatureSpec, settings: Settings) -> pd.DataFrame:
    """The day's validated rows (the entity columns only); refuses a missing or empty one."""
    from include.features.training_set import entity_columns

    feed = fspec.events_feed
    uri = layout.partition_uri(settings.lake_uri, feed, day)
    if not storage.exists(uri):
        raise PartitionNotScorable(f"no validated {feed} partition for {day} at {uri}")
    frame = lake.read_partition(settings.lake_uri, feed, day, [*entity_columns(fspec)])
    if frame.empty:
        raise PartitionNotScorable(
            f"the validated {feed} partition of {day} ({uri}) has no rows: validation "
            "refuses empty batches, so the lake was written around it; re-ingest the day"
        )
    for view in fspec.views:
        key = view.join_key
        frame[key] = (
            frame[key].astype("int64") if view.key_type == "int" else frame[key].astype(str)
        )
    return frame


def require_feature_tables(day: date, settings: Settings, fspec: FeatureSpec) -> None:
    """Refuse a day whose feature tables were never computed: every row would be unscored."""
    for view in (v.name for v in fspec.views):
        uri = layout.feature_table_uri(settings.features_uri, view, day)
        if not storage.exists(uri):
            raise FeaturesNotComputed(
                f"no {view} table for {day} ({uri}): run materialize_features with "
                f"start_date={day}, then score the day again"
            )


def feature_stamps(
    frame: pd.DataFrame, fspec: FeatureSpec, settings: Settings
) -> dict[str, pd.DataFrame]:
    """Per entity name, the keys and stamps of the feature rows of ``frame``'s entities,
    ``_REACH_TTLS`` TTLs back from its earliest row (an entity without rows is absent)."""
    times = pd.to_datetime(frame[fspec.event_ts], utc=True)
    reach = timedelta(days=fspec.ttl_days * _REACH_TTLS)
    first, last = store.partitions_for_stamps(times.min() - reach, times.max(), fspec)
    out = {}
    for v in fspec.views:
        # Only the key and stamp columns: the reach spans two TTLs of every view's rows.
        table = store.read_view(
            settings.features_uri,
            v.name,
            first,
            last,
            frame[v.join_key].unique(),
            columns=[schema.TIMESTAMP],
        )
        if table is not None:
            out[v.entity] = table.to_pandas()
    return out


def score_frame(
    frame: pd.DataFrame,
    model: ScoringModel,
    pyfunc: Any,
    *,
    spec: UseCaseSpec,
    settings: Settings,
    scored_at: pd.Timestamp,
) -> pd.DataFrame:
    """The predictions of ``frame`` (validated transactions): see the module docstring."""
    from include.features.training_set import historical_features

    fspec = schema.feature_spec(spec)
    inputs = model_inputs(pyfunc, fspec)
    entities = {v.entity: v.join_key for v in fspec.views}
    stamps = feature_stamps(frame, fspec, settings)
    ttl = pd.Timedelta(days=fspec.ttl_days)
    reasons = unscored_reasons(frame, fspec.event_ts, entities, stamps, schema.TIMESTAMP, ttl)
    scored = reasons.isna().to_numpy()
    as_of = schema.as_of_columns(fspec)
    covered = frame.loc[scored].reset_index(drop=True)
    features = (
        historical_features(covered, settings=settings, include_as_of=True)
        if len(covered)
        else covered.reindex(columns=[*covered.columns, *inputs, *as_of])
    )
    scores = np.full(len(frame), np.nan)
    scores[scored] = predict(pyfunc, features, inputs)
    out = frame[[fspec.tx_key, fspec.event_ts, *fspec.join_keys]].copy()
    out = out.reset_index(drop=True)
    out["score"] = scores
    out["decision"] = decide(scores, scored, model["threshold"], spec.serving.unscored_decision)
    out["scored"] = scored
    out["unscored_reason"] = reasons.to_numpy(dtype=object)
    out["model_name"] = model["name"]
    out["model_version"] = str(model["version"])
    out["threshold"] = float(model["threshold"])
    out["scored_at"] = scored_at
    # Unscored rows keep NaN features and NaT stamps: never values they did not have.
    rows = np.flatnonzero(scored)
    for col in inputs:
        out[col] = features[col].astype("float64").set_axis(rows).reindex(out.index)
    for col in as_of:
        stamp = pd.to_datetime(features[col], utc=True).astype(_UTC_NS)
        out[col] = stamp.set_axis(rows).reindex(out.index)
    return out


def score_partition(
    day: date | str,
    model: ScoringModel,
    *,
    pyfunc: Any = None,
    spec: UseCaseSpec | None = None,
    settings: Settings | None = None,
    scored_at: pd.Timestamp | None = None,
) -> ScoringSummary:
    """Score ``day``'s validated transactions with ``model`` and replace its predictions
    partition; returns the summary (the ``predictions`` event's extra). ``pyfunc``: the
    loaded version (default: loaded here)."""
    settings = settings or get_settings()
    spec = spec or load_spec(settings.usecase_spec)
    day = date.fromisoformat(day) if isinstance(day, str) else day
    fspec = schema.feature_spec(spec)
    frame = read_transactions(day, fspec, settings)
    require_feature_tables(day, settings, fspec)
    pyfunc = pyfunc or load_model(model, settings.mlflow_tracking_uri)
    scored_at = scored_at or pd.Timestamp.now(tz="UTC")
    out = score_frame(frame, model, pyfunc, spec=spec, settings=settings, scored_at=scored_at)
    uri = layout.predictions_uri(settings.lake_uri, day)
    storage.write_bytes(uri, lake.to_parquet_bytes(out))
    reasons = Counter(r for r in out["unscored_reason"] if isinstance(r, str))
    return ScoringSummary(
        partition=day.isoformat(),
        uri=uri,
        rows=len(out),
        scored=int(out["scored"].sum()),
        unscored=int((~out["scored"]).sum()),
        decisions={d: int((out["decision"] == d).sum()) for d in DECISIONS},
        unscored_reasons=dict(sorted(reasons.items())),
        model=model["name"],
        version=str(model["version"]),
        threshold=float(model["threshold"]),
        scored_at=scored_at.isoformat(),
    )
