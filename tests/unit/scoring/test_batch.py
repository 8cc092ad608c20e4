"""One partition's scoring without Feast or MLflow (include/scoring/batch.py).

Given a tiny validated partition, stand-ins for the point-in-time features and the model,
the predictions frame keeps every row in order, gives the model only the rows that have
their features (D7: the others keep NaN features, a NaN score and the unscored decision),
and the days a run scores follow the lake: named days must exist, a range or the events take
what exists, nothing left is a skip, a day without features is refused (D11); the model is
the champion's exact version with its stored threshold, none is a skip, a version without a
threshold is refused by name (D10).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from include import layout, storage
from include.config import get_settings
from include.data import lake
from include.features import schema
from include.registry.errors import ThresholdMissing
from include.registry.read import RegisteredVersion
from include.scoring import batch
from include.scoring import model as scoring
from include.scoring.batch import score_frame
from include.scoring.days import days_to_score
from include.scoring.errors import FeaturesNotComputed, NothingToScore, PartitionNotScorable
from include.scoring.model import ScoringModel
from include.spec import load_spec
from tests.conftest import ROOT

DAY = date(2026, 10, 25)
T0 = pd.Timestamp("2026-10-25 09:00", tz="UTC")
MODEL = ScoringModel(name="fraud_is_fraud", version="3", model_uri="models:/x/3", threshold=0.5)
FSPEC = schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml"))
CUSTOMER = FSPEC.view("customer_transaction_stats")
MERCHANT = FSPEC.view("merchant_daily_stats")


@pytest.fixture
def spec():
    return load_spec(ROOT / "usecase" / "fraud.yaml")


def _publish(feed: str, day: date, frame: pd.DataFrame | None = None) -> None:
    frame = frame if frame is not None else pd.DataFrame({"transaction_id": ["tx_0"]})
    settings = get_settings()
    storage.write_bytes(
        layout.partition_uri(settings.lake_uri, feed, day), lake.to_parquet_bytes(frame)
    )


# --------------------------------------------------------------------------- model
def _version(tags: dict[str, str]) -> RegisteredVersion:
    return RegisteredVersion(
        name="fraud_is_fraud",
        version="7",
        alias="champion",
        model_uri="models:/fraud_is_fraud/7",
        family="xgboost",
        features=[],
        data_sha256=None,
        training_set_uri=None,
        training_run_id=None,
        holdout_uri=None,
        tags=tags,
    )


def test_the_run_scores_with_the_champions_exact_version_and_stored_threshold(
    monkeypatch,
) -> None:
    current = _version({"serving.threshold": "0.8125"})
    monkeypatch.setattr("include.registry.read.champion", lambda *a, **k: current)

    assert scoring.scoring_model() == {
        "name": "fraud_is_fraud",
        "version": "7",
        "model_uri": "models:/fraud_is_fraud/7",  # a number, never the moving alias
        "threshold": 0.8125,
    }


def test_no_champion_yet_is_nothing_to_score(monkeypatch) -> None:
    monkeypatch.setattr("include.registry.read.champion", lambda *a, **k: None)

    with pytest.raises(NothingToScore, match="no champion yet"):
        scoring.scoring_model()


@pytest.mark.parametrize("value", [None, "abc", "nan"])
def test_D10_a_champion_without_its_threshold_is_refused_by_name(monkeypatch, value) -> None:
    tags = {} if value is None else {"serving.threshold": value}
    monkeypatch.setattr("include.registry.read.champion", lambda *a, **k: _version(tags))

    with pytest.raises(ThresholdMissing, match=r"fraud_is_fraud v7"):
        scoring.scoring_model()


# ---------------------------------------------------------------------------- days
def test_named_days_must_exist_and_ranges_or_events_take_what_exists(data_root) -> None:
    for d in (date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 4)):
        _publish("transactions", d)
    _publish("labels", date(2026, 10, 5))  # a labels-only day

    assert days_to_score([], days=["2026-10-04", "2026-10-01"]) == ["2026-10-01", "2026-10-04"]
    with pytest.raises(PartitionNotScorable, match=r"\['2026-10-03'\]"):
        days_to_score([], days=["2026-10-02", "2026-10-03"])
    assert days_to_score([], start_date="2026-10-02", end_date="2026-10-09") == [
        "2026-10-02",
        "2026-10-04",
    ]
    assert days_to_score(["2026-10-04", "2026-10-05"]) == ["2026-10-04"]
    assert days_to_score([]) == ["2026-10-04"]  # a manual run without parameters: the newest
    with pytest.raises(NothingToScore, match="2026-10-05"):
        days_to_score(["2026-10-05"])  # only labels that day: skipped, not failed
    with pytest.raises(NothingToScore):
        days_to_score([], start_date="2026-09-01", end_date="2026-09-30")
    with pytest.raises(ValueError, match="not both"):
        days_to_score([], days=["2026-10-01"], start_date="2026-10-01")


def test_a_young_lake_has_nothing_to_score(data_root) -> None:
    with pytest.raises(NothingToScore, match="in the lake"):
        days_to_score([])


def test_an_empty_published_partition_is_refused(data_root, spec) -> None:
    fspec = schema.feature_spec(spec)
    empty = pd.DataFrame(
        {
            "transaction_id": pd.Series(dtype=str),
            "event_timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
            "customer_id": pd.Series(dtype="int64"),
            "merchant_id": pd.Series(dtype="int64"),
            "amount": pd.Series(dtype="float64"),
        }
    )
    _publish("transactions", DAY, empty)

    with pytest.raises(PartitionNotScorable, match="has no rows"):
        batch.read_transactions(DAY, fspec, get_settings())
    with pytest.raises(PartitionNotScorable, match="no validated transactions partition"):
        batch.read_transactions(date(2026, 10, 26), fspec, get_settings())


def test_D11_a_day_without_feature_tables_is_refused_with_the_way_out(data_root, spec) -> None:
    with pytest.raises(FeaturesNotComputed, match="materialize_features with start_date=2026"):
        batch.require_feature_tables(DAY, get_settings(), schema.feature_spec(spec))


# ---------------------------------------------------------------------- score_frame
class _FakeModel:
    """Scores ``customer_txn_count_1d / 10`` and remembers what it was given."""

    class metadata:  # noqa: N801 (mimics PyFuncModel.metadata)
        @staticmethod
        def get_input_schema() -> None:
            return None

    def __init__(self) -> None:
        self.seen: list[pd.DataFrame] = []

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.seen.append(frame)
        return frame["customer_txn_count_1d"].to_numpy() / 10.0


def _fake_features(features: list[str]):
    def historical_features(entity: pd.DataFrame, **_: Any) -> pd.DataFrame:
        out = entity.reset_index(drop=True).copy()
        for i, col in enumerate(features):
            out[col] = np.arange(len(out), dtype="int64") * 3 + i  # counts come back as ints
        out[CUSTOMER.as_of] = out["event_timestamp"]
        out[MERCHANT.as_of] = out["event_timestamp"] - pd.Timedelta(hours=1)
        return out

    return historical_features


def test_D7_only_rows_with_features_reach_the_model_and_the_rest_keep_no_values(
    data_root, spec, monkeypatch
) -> None:
    fspec = schema.feature_spec(spec)
    features = schema.model_features(fspec)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx_{i:016x}" for i in range(5)],
            "event_timestamp": [T0 + pd.Timedelta(minutes=i) for i in range(5)],
            "customer_id": [1, 2, 3, 1, 4],
            "merchant_id": [10, 10, 10, 99, 10],
            "amount": [5.0, 6.0, 7.0, 8.0, 9.0],
        }
    )
    # given: customer 3 has no feature row, merchant 99 none either; the others do
    stamps = {
        "customer": pd.DataFrame({"customer_id": [1, 2, 4], "event_timestamp": [T0] * 3}),
        "merchant": pd.DataFrame({"merchant_id": [10], "event_timestamp": [T0]}),
    }
    monkeypatch.setattr(batch, "feature_stamps", lambda *a, **k: stamps)
    monkeypatch.setattr(
        "include.features.training_set.historical_features", _fake_features(features)
    )
    model = _FakeModel()
    scored_at = pd.Timestamp("2026-10-26 01:00", tz="UTC")

    out = score_frame(frame, MODEL, model, spec=spec, settings=get_settings(), scored_at=scored_at)

    # then every row is there, in the partition's order, once
    assert out["transaction_id"].tolist() == frame["transaction_id"].tolist()
    # the model saw only the three rows with features, and only the model's columns
    (seen,) = model.seen
    assert len(seen) == 3 and list(seen.columns) == features
    assert (seen.dtypes == "float64").all()
    # scored rows: the model's score (count_1d of the covered rows is 0, 3, 6) and decision
    assert out["scored"].tolist() == [True, True, False, False, True]
    np.testing.assert_allclose(out["score"].to_numpy()[[0, 1, 4]], [0.0, 0.3, 0.6])
    assert out["decision"].tolist() == ["approve", "approve", "review", "review", "review"]
    # unscored rows: no score, no feature value, no stamp, the reason and the spec's decision
    unscored = out[~out["scored"]]
    assert unscored["score"].isna().all()
    assert unscored[features].isna().all().all()
    assert unscored[[CUSTOMER.as_of, MERCHANT.as_of]].isna().all().all()
    assert unscored["unscored_reason"].tolist() == [
        "customer_features_missing",
        "merchant_features_missing",
    ]
    assert out.loc[out["scored"], "unscored_reason"].isna().all()
    # the version, its threshold and the time travel with every row
    assert set(out["model_version"]) == {"3"} and set(out["model_name"]) == {"fraud_is_fraud"}
    assert set(out["threshold"]) == {0.5} and set(out["scored_at"]) == {scored_at}
    assert str(out[CUSTOMER.as_of].dtype) == "datetime64[ns, UTC]"
    assert out.loc[0, MERCHANT.as_of] == T0 - pd.Timedelta(hours=1)


def test_D7_a_day_where_nothing_has_features_calls_neither_feast_nor_the_model(
    data_root, spec, monkeypatch
) -> None:
    frame = pd.DataFrame(
        {
            "transaction_id": ["tx_0000000000000001"],
            "event_timestamp": [T0],
            "customer_id": [1],
            "merchant_id": [10],
            "amount": [5.0],
        }
    )
    monkeypatch.setattr(batch, "feature_stamps", lambda *a, **k: {})

    def _no_feast(*_: Any, **__: Any) -> None:
        raise AssertionError("historical_features called without a covered row")

    monkeypatch.setattr("include.features.training_set.historical_features", _no_feast)
    model = _FakeModel()

    out = score_frame(
        frame, MODEL, model, spec=spec, settings=get_settings(), scored_at=pd.Timestamp.now("UTC")
    )

    assert model.seen == [] and out["decision"].tolist() == ["review"]
    assert out["unscored_reason"].tolist() == [
        "customer_features_missing,merchant_features_missing"
    ]
