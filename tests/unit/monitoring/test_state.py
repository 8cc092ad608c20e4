"""What monitoring keeps between runs (include/monitoring/state.py): the history rows in a
tmp lake, and the last alert of each kind as a registered-model tag in a real SQLite MLflow.

Given a run's row, when the same Airflow run writes it again (a retry, a clear), then it
replaces its row: the history has one row per run and ``history.csv`` one line per run,
with a ``drift.<feature>`` column per feature. Retrains that did not replace the champion
are counted for staleness, the current run left out.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from include import layout, storage
from include.monitoring import policy, state
from include.spec import MonitoringSpec

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _row(run_id: str, at: datetime, **kw: Any) -> dict[str, Any]:
    row = {
        "run_id": run_id,
        "measured_at": at.isoformat(),
        "champion_version": "3",
        "drift_share": 0.1,
        "retrain": False,
        "decision": "ok",
        "feature_drift": {"amount": 0.02, "hour": 0.01},
        "feature_skew": {"amount": 0.0},
    }
    row.update(kw)
    return row


@pytest.fixture
def lake_uri(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


# ------------------------------------------------------------------------------ history
def test_a_rerun_of_the_same_run_replaces_its_row(lake_uri) -> None:
    state.write_row(
        lake_uri, "scheduled__2026-11-19T02:00:00+00:00", _row("r19", T0 - timedelta(1))
    )
    state.write_row(lake_uri, "scheduled__2026-11-20T02:00:00+00:00", _row("r20", T0))
    # the run of the 20th is cleared and runs again, with other numbers
    uri = state.write_row(
        lake_uri,
        "scheduled__2026-11-20T02:00:00+00:00",
        _row("r20", T0 + timedelta(minutes=9), drift_share=0.6),
    )

    rows = state.rows(lake_uri)

    assert [r["run_id"] for r in rows] == ["r19", "r20"]  # oldest first, no duplicate
    assert rows[1]["drift_share"] == 0.6
    assert uri == layout.monitoring_run_uri(lake_uri, "scheduled__2026-11-20T02:00:00+00:00")
    assert len(storage.list_objects(layout.monitoring_runs_dir(lake_uri))) == 2


def test_history_csv_has_one_row_per_run_and_a_column_per_feature(lake_uri) -> None:
    state.write_row(lake_uri, "run-b", _row("run-b", T0, feature_drift={"amount": 0.3}))
    state.write_row(lake_uri, "run-a", _row("run-a", T0 - timedelta(days=1)))
    state.write_row(lake_uri, "run-a", _row("run-a", T0 - timedelta(days=1), drift_share=0.2))

    uri = state.write_history(lake_uri)

    history = pd.read_csv(io.BytesIO(storage.read_bytes(uri)))
    assert uri == layout.monitoring_history_uri(lake_uri)
    assert history["run_id"].tolist() == ["run-a", "run-b"]
    assert history["drift_share"].tolist() == [0.2, 0.1]
    assert history["drift.amount"].tolist() == [0.02, 0.3]
    assert history["drift.hour"].iloc[0] == 0.01 and pd.isna(history["drift.hour"].iloc[1])
    assert "skew.amount" in history.columns
    assert "feature_drift" not in history.columns  # nested values are flattened, not dumped


def test_an_empty_history_is_empty(lake_uri) -> None:
    assert state.rows(lake_uri) == []


def test_failed_retrains_count_only_this_champions_retrains_from_other_runs() -> None:
    history = [
        _row("r1", T0, retrain=True, champion_version="2"),  # under the old champion
        _row("r2", T0, retrain=True, champion_version="3"),
        _row("r3", T0, retrain=False, champion_version="3"),
        _row("r4", T0, retrain=True, champion_version=3),  # the version as a number
        _row("r5", T0, retrain=True, champion_version="3"),  # the current run (a retry)
    ]

    assert state.failed_retrains(history, "3", run_id="r5") == 2
    assert state.failed_retrains(history, "3", run_id="r9") == 3
    assert state.failed_retrains(history, "4", run_id="r9") == 0
    assert state.failed_retrains([], "3", run_id="r1") == 0


# ---------------------------------------------------------------- last alerts (MLflow)
@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite MLflow for the module; MLFLOW_TRACKING_URI restored for later modules."""
    from include.modeling import tracking

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    tracking.configure(uri)
    yield uri
    tracking.mlflow_module().set_tracking_uri(previous)
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def model(tracking_uri: str, request: pytest.FixtureRequest) -> str:
    """A registered model of its own per test."""
    from include.modeling import tracking

    name = f"monitoring_{request.node.name}"[:100].replace("[", "_").replace("]", "_")
    tracking.configure(tracking_uri).MlflowClient().create_registered_model(name)
    return name


def test_no_alert_yet_is_an_empty_record(model, tracking_uri) -> None:
    assert state.last_alerts(model, tracking_uri) == {}


def test_recorded_alerts_are_read_back_per_kind_and_merged(model, tracking_uri) -> None:
    state.record_alerts(model, {"breach": "breach:v3"}, T0, tracking_uri, run_id="r1")
    later = T0 + timedelta(hours=2)
    state.record_alerts(model, {"skew": "skew:v3:amount"}, later, tracking_uri, run_id="r2")
    state.record_alerts(model, {}, later, tracking_uri, run_id="r3")  # nothing claimed

    last = state.last_alerts(model, tracking_uri)

    assert last == {
        "breach": {"key": "breach:v3", "at": T0.isoformat(), "run_id": "r1"},
        "skew": {"key": "skew:v3:amount", "at": later.isoformat(), "run_id": "r2"},
    }


def test_the_recorded_breach_holds_the_cooldown_for_the_next_run(model, tracking_uri) -> None:
    """The round trip the DAG makes: decide, record, next night decide again."""
    mon = MonitoringSpec()
    measured = {
        "data_drift": {
            "current_rows": 5_000,
            "share": 1.0,
            "drifted_columns": ["a"],
            "columns": {"a": {}},
        },
        "prediction_drift": None,
        "quality": None,
    }
    args = {
        "window": "w",
        "champion_version": "3",
        "quarantined": {},
        "champion_age_days": 1,
        "failed_retrains": 0,
    }

    first = policy.decide(measured, mon, last={}, now=T0, run_id="r1", **args)
    state.record_alerts(model, first.alerts, T0, tracking_uri, run_id="r1")
    last = state.last_alerts(model, tracking_uri)
    retry = policy.decide(measured, mon, last=last, now=T0, run_id="r1", **args)
    night = policy.decide(measured, mon, last=last, now=T0 + timedelta(days=1), run_id="r2", **args)

    assert first.retrain and retry.retrain and not night.retrain


def test_a_garbled_tag_reads_as_no_alert(model, tracking_uri) -> None:
    from include.modeling import tracking

    client = tracking.configure(tracking_uri).MlflowClient()
    client.set_registered_model_tag(model, state.LAST_ALERTS_TAG, "{not json")
    assert state.last_alerts(model, tracking_uri) == {}
    client.set_registered_model_tag(model, state.LAST_ALERTS_TAG, "[1, 2]")
    assert state.last_alerts(model, tracking_uri) == {}
