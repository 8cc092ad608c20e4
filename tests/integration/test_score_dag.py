"""Tier 3: ``score_transactions`` end to end on a private copy of the trained platform.

The DAG runs with ``dag.test()`` against the real lake, feature tables, Feast and MLflow
registry (tests/platform.py). Checked against an independent computation: the champion's
pyfunc on ``historical_features`` of the same validated rows. Then: a re-run replaces the
partitions whole (D8), rows whose merchant has no feature row are flagged, not scored (D7),
a platform without a champion skips the run (D9), and the triggering ``features`` events
name the days (a day without transactions is left out; none left: skipped).
"""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest

from include import layout, storage
from include.config import get_settings
from include.data import lake
from include.features import schema
from include.spec import load_spec
from tests.integration.conftest import run_dag, task_states
from tests.integration.test_ingest_dag import _asset_events
from tests.platform import Platform, copy_platform, use_platform

pytestmark = pytest.mark.e2e
MAPPED = "score_partition"


@pytest.fixture
def plat(platform, tmp_path, monkeypatch) -> Platform:
    """A private copy: scoring writes the lake's predictions partitions."""
    return use_platform(copy_platform(platform, tmp_path / "data"), monkeypatch)


def _predictions(day: date) -> pd.DataFrame:
    uri = layout.predictions_uri(get_settings().lake_uri, day)
    return pd.read_parquet(io.BytesIO(storage.read_bytes(uri)))


def _expected_scores(day: date) -> tuple[pd.DataFrame, np.ndarray, float]:
    """The validated rows of ``day``, the champion's scores on their point-in-time features
    (computed here, without include.scoring) and the version's stored threshold."""
    from include.features.training_set import entity_columns, historical_features
    from include.modeling import tracking
    from include.registry.read import champion

    settings = get_settings()
    fspec = schema.feature_spec(load_spec())
    rows = lake.read_partition(settings.lake_uri, "transactions", day, [*entity_columns(fspec)])
    current = champion()
    assert current is not None and current.threshold is not None, current
    mlflow = tracking.configure(None)
    model = mlflow.pyfunc.load_model(f"models:/{current.name}/{current.version}")
    inputs = model.metadata.get_input_schema().input_names()
    features = historical_features(rows)
    scores = np.asarray(model.predict(features[inputs].astype("float64")), dtype=np.float64)
    return rows, scores, current.threshold


def test_D8_scores_match_the_champion_and_a_rerun_replaces_the_partitions(plat, dagbag) -> None:
    days = [plat.days[-2], plat.days[-1]]
    fspec = schema.feature_spec(load_spec())
    customer = fspec.view("customer_transaction_stats")
    # when both days are scored by hand
    first = run_dag(dagbag, "score_transactions", days=[str(d) for d in days])
    assert str(first.state) == "success", task_states(first)

    for day in days:
        out = _predictions(day)
        rows, expected, threshold = _expected_scores(day)
        # then one row per validated transaction, in its order, each scored by the champion
        assert out["transaction_id"].tolist() == rows["transaction_id"].tolist()
        assert out["scored"].all(), out.loc[~out["scored"], "unscored_reason"].value_counts()
        np.testing.assert_allclose(out["score"].to_numpy(), expected, rtol=0, atol=1e-9)
        assert set(out["model_version"]) == {plat.champion_version}
        assert set(out["threshold"]) == {threshold}
        review = out["score"] >= threshold
        assert (out["decision"] == np.where(review, "review", "approve")).all()
        assert {"approve"} <= set(out["decision"])  # a real day is mostly approved
        # with the feature values the model saw and the stamps of the rows that answered
        assert len(fspec.views) == 2  # the customer and the merchant view
        for view in fspec.views:
            assert out[view.as_of].notna().all(), view.as_of
        assert (out[customer.as_of] <= out["event_timestamp"]).all()

    # and one predictions event per partition, its extra the partition's summary
    events = sorted(_asset_events("predictions", first), key=lambda e: e["partition"])
    assert [e["partition"] for e in events] == [str(d) for d in days], events
    for event, day in zip(events, days, strict=True):
        out = _predictions(day)
        assert event["rows"] == event["scored"] == len(out) and event["unscored"] == 0
        assert event["version"] == plat.champion_version and event["model"] == "fraud_is_fraud"
        assert event["uri"] == layout.predictions_uri(get_settings().lake_uri, day)
        assert (
            event["decisions"]
            == out["decision"].value_counts().reindex(["approve", "review"], fill_value=0).to_dict()
        )

    # when the same days are scored again
    before = {day: _predictions(day) for day in days}
    second = run_dag(dagbag, "score_transactions", days=[str(d) for d in days])
    assert str(second.state) == "success", task_states(second)
    # then each partition is replaced whole: one file, the same rows and values, no duplicate
    for day in days:
        folder = layout.predictions_dir(get_settings().lake_uri, day)
        assert [o.name for o in storage.list_objects(folder)] == ["data.parquet"]
        after = _predictions(day)
        assert after["transaction_id"].is_unique
        pd.testing.assert_frame_equal(
            after.drop(columns="scored_at"), before[day].drop(columns="scored_at")
        )
        assert after["scored_at"].iloc[0] > before[day]["scored_at"].iloc[0]
    assert len(_asset_events("predictions", second)) == len(days)


def test_D7_rows_whose_merchant_has_no_feature_row_are_flagged_not_scored(plat, dagbag) -> None:
    day = plat.days[-1]
    settings = get_settings()
    rows = lake.read_partition(settings.lake_uri, "transactions", day)
    view = schema.feature_spec(load_spec()).view("merchant_daily_stats")
    merchant = int(rows["merchant_id"].value_counts().index[0])
    # given a merchant whose feature rows are gone from every partition of its table
    folder = layout.feature_table_dir(settings.features_uri, view.name)
    for obj in storage.list_objects(folder):
        table = pd.read_parquet(obj.uri)
        storage.write_bytes(obj.uri, lake.to_parquet_bytes(table[table["merchant_id"] != merchant]))

    run = run_dag(dagbag, "score_transactions", days=[str(day)])
    assert str(run.state) == "success", task_states(run)

    out = _predictions(day)
    hit = out["merchant_id"] == merchant
    assert len(out) == len(rows) and hit.sum() > 0
    # then its rows are not scored on made-up values: flagged, the spec's decision, no score
    flagged = out[hit]
    assert not flagged["scored"].any()
    assert set(flagged["unscored_reason"]) == {"merchant_features_missing"}
    assert set(flagged["decision"]) == {load_spec().serving.unscored_decision}
    assert flagged["score"].isna().all() and flagged[view.as_of].isna().all()
    # and every other row is scored as usual
    assert out.loc[~hit, "scored"].all() and out.loc[~hit, "score"].notna().all()
    (event,) = _asset_events("predictions", run)
    assert event["unscored"] == int(hit.sum())
    assert event["unscored_reasons"] == {"merchant_features_missing": int(hit.sum())}


def test_D9_without_a_champion_the_run_is_skipped_not_failed(plat, dagbag, mailbox) -> None:
    from include.modeling import tracking

    spec = load_spec()
    client = tracking.configure(None).MlflowClient()
    client.delete_registered_model_alias(spec.model.registered_name, spec.model.champion_alias)
    day = plat.days[-1]

    run = run_dag(dagbag, "score_transactions", days=[str(day)])

    assert str(run.state) == "success", task_states(run)
    states = task_states(run)
    assert states["resolve_model"] == "skipped"
    assert states[MAPPED] == "skipped"
    assert _asset_events("predictions", run) == []
    assert not storage.exists(layout.predictions_uri(get_settings().lake_uri, day))
    assert mailbox.messages == []  # a skip alerts no one


class _Event:  # what Airflow hands a task in triggering_asset_events: objects with .extra
    def __init__(self, extra: dict) -> None:
        self.extra = extra


def test_the_features_events_name_the_days_and_a_day_without_transactions_is_skipped(
    platform, dagbag
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from include.orchestration.assets import FEATURES

    task = dagbag.get_dag("score_transactions").get_task("resolve_days")
    last, later = platform.days[-1], "2099-01-01"  # `later`: no transactions partition
    events = [
        _Event({"partitions": [str(platform.days[-2])]}),
        _Event({"partitions": [str(last), later]}),
    ]

    # given several queued features events: every day they name that has transactions
    got = task.python_callable(params={}, triggering_asset_events={FEATURES: events})
    assert got == [str(platform.days[-2]), str(last)]
    # given events naming only a day without transactions: skipped, not failed
    with pytest.raises(AirflowSkipException, match="nothing to score"):
        task.python_callable(
            params={}, triggering_asset_events={FEATURES: [_Event({"partitions": [later]})]}
        )
