"""Lineage of one prediction, on fabricated records: capture, registry, training set,
partitions and validation results; and honest ``missing`` answers where the chain breaks."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from include import layout, storage
from include.spec import load_spec

ROOT = Path(__file__).resolve().parents[3]
NAME = "lin_fraud"
TX = "tx_00000000000000aa"
SAMPLED = "2 of about 20 matured labelled events (rate 0.1, by hash of transaction_id)"


@pytest.fixture
def world(data_root, tmp_path, monkeypatch):
    """A served prediction of v1, whose lineage is complete."""
    from include.modeling import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLOPS_MLFLOW_UI_URL", "http://mlflow.example")
    client = tracking.configure(uri).MlflowClient()
    base = load_spec(ROOT / "usecase" / "fraud.yaml")
    spec = dataclasses.replace(base, model=dataclasses.replace(base.model, registered_name=NAME))
    lake = str(data_root / "lake")
    # the training set, two validated partitions and one validation result
    ts_uri = layout.training_set_uri(lake, "manual__1")
    storage.write_bytes(ts_uri, pd.DataFrame({"a": [1.0, 2.0], "is_fraud": [0, 1]}).to_parquet())
    for day in (date(2026, 11, 1), date(2026, 11, 2)):
        storage.write_bytes(layout.partition_uri(lake, "transactions", day), b"x")
    folder = layout.report_dir(lake, "transactions", date(2026, 11, 2), "scheduled__a")
    storage.write_bytes(layout.evidence(folder, layout.VALIDATION_RESULT), b'{"success": true}')
    # the registry: v1 with its training run and lineage tags
    from include.modeling import tracking

    exp = tracking.ensure_experiment("lin")  # artifacts beside the store, not in ./mlruns
    run = client.create_run(exp, run_name="train-xgb")
    client.create_registered_model(NAME)
    tags = {
        "training_run_id": run.info.run_id,
        "family": "xgboost",
        "lineage.dag_run_id": "manual__1",
        "lineage.training_set_uri": ts_uri,
        "lineage.feature_service": "fraud_detection_v1",
        "lineage.data_partitions": "transactions:2026-11-01..2026-11-02",
        "lineage.validation_result_ids": "transactions/2026-11-02/scheduled__a",
        "lineage.sampled": SAMPLED,
        "features": "amount,tx_count_1d",
    }
    client.create_model_version(NAME, source="runs:/x/model", run_id=run.info.run_id, tags=tags)
    # the served prediction
    capture = {
        "request_id": "req-1",
        "transaction_id": TX,
        "served_at": "2026-11-20T10:00:00+00:00",
        "model_name": NAME,
        "model_version": "1",
        "score": 0.91,
        "decision": "review",
        "scored": True,
    }
    other = {**capture, "request_id": "req-0", "transaction_id": "tx_00000000000000bb"}
    line = "\n".join(json.dumps(r) for r in (other, capture)) + "\n"
    storage.write_bytes(
        storage.join(lake, "capture", "date=2026-11-20", "part-1.jsonl"), line.encode()
    )
    yield {"spec": spec, "uri": uri, "client": client, "lake": lake, "run": run.info.run_id}
    tracking.mlflow_module().set_tracking_uri(previous)


def test_trace_a_prediction_through_every_step(world) -> None:
    from include.lineage import trace

    result = trace(prediction_id="req-1", spec=world["spec"], tracking_uri=world["uri"])
    assert result["missing"] is None, result["missing"]
    kinds = [s["kind"] for s in result["steps"]]
    assert kinds == [
        "prediction",
        "model_version",
        "training_run",
        "training_set",
        "feature_service",
        "partitions",
        "validation",
    ]
    steps = {s["kind"]: s for s in result["steps"]}
    assert steps["prediction"]["fields"]["transaction_id"] == TX
    assert steps["prediction"]["fields"]["score"] == "0.91"
    assert steps["model_version"]["fields"]["version"] == "1"
    run_links = [link["href"] for link in steps["training_run"]["links"]]
    assert "http://mlflow.example/#/experiments/" in run_links[0] and world["run"] in run_links[0]
    assert steps["training_set"]["fields"]["rows"] == "2"
    assert steps["training_set"]["fields"]["sampled"] == SAMPLED  # over max_training_rows
    assert steps["feature_service"]["fields"]["feature service"] == "fraud_detection_v1"
    assert "(2/2 partitions present)" in steps["partitions"]["fields"]["transactions"]
    assert steps["validation"]["fields"] == {"transactions 2026-11-02": "passed"}
    for step in result["steps"]:  # every field is text, every link has a target
        assert all(isinstance(v, str) for v in step["fields"].values())
        assert all(link["href"] for link in step["links"])


def test_trace_by_transaction_falls_back_to_the_batch_scores(world) -> None:
    from include.lineage import trace

    batch = pd.DataFrame(
        {
            "transaction_id": ["tx_00000000000000cc"],
            "score": [0.1],
            "decision": ["approve"],
            "scored": [True],
            "model_name": [NAME],
            "model_version": ["1"],
            "scored_at": ["2026-11-21T00:00:00+00:00"],
        }
    )
    storage.write_bytes(
        layout.predictions_uri(world["lake"], date(2026, 11, 21)), batch.to_parquet()
    )
    result = trace(
        transaction_id="tx_00000000000000cc", spec=world["spec"], tracking_uri=world["uri"]
    )
    assert result["missing"] is None
    assert result["steps"][0]["title"] == "Batch score"
    assert result["query"] == {"prediction_id": None, "transaction_id": "tx_00000000000000cc"}


def test_trace_says_what_is_missing(world) -> None:
    from include.lineage import trace

    kw = {"spec": world["spec"], "tracking_uri": world["uri"]}
    nothing = trace(prediction_id="req-unknown", **kw)
    assert (
        nothing["steps"] == []
        and "no prediction found for prediction req-unknown" in nothing["missing"]
    )
    # the training set was removed: the chain stops there, and says so
    storage.delete(layout.training_set_uri(world["lake"], "manual__1"))
    broken = trace(prediction_id="req-1", **kw)
    assert [s["kind"] for s in broken["steps"]] == ["prediction", "model_version", "training_run"]
    assert "training set of v1" in broken["missing"] and "was not found" in broken["missing"]


def test_cli_prints_the_chain_and_fails_when_it_breaks(world, capsys) -> None:
    from include.lineage import __main__ as cli

    assert cli.main(["--prediction-id", "req-1"]) == 0
    out = capsys.readouterr().out
    assert "1. [prediction] Online prediction" in out and out.rstrip().endswith("complete")
    assert cli.main(["--prediction-id", "req-unknown", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["query"]["prediction_id"] == "req-unknown"
