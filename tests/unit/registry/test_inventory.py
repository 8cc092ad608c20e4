"""The model inventory, from a real SQLite MLflow, fabricated deployment records, monitoring
rows and landed batch files (their modification time is when they landed)."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from include.spec import load_spec

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NAME = "inv_fraud"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    from include.modeling import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = tracking.configure(uri).MlflowClient()
    yield uri, client
    tracking.mlflow_module().set_tracking_uri(previous)


def _version(client, exp_id: str, tags: dict[str, str]) -> str:
    run = client.create_run(exp_id)
    mv = client.create_model_version(
        NAME, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id, tags=tags
    )
    return str(mv.version)


def _land(root: Path, day: date, at: datetime) -> None:
    folder = root / "landing" / "transactions" / day.isoformat()
    folder.mkdir(parents=True)
    path = folder / "part-0.csv"
    path.write_text("transaction_id\n")
    os.utime(path, (at.timestamp(), at.timestamp()))


def test_inventory_tells_each_version_and_the_lifecycle_figures(data_root, registry) -> None:
    from include.deployment import history
    from include.monitoring import state
    from include.registry.inventory import build_inventory

    uri, client = registry
    base = load_spec(ROOT / "usecase" / "fraud.yaml")
    spec = dataclasses.replace(base, model=dataclasses.replace(base.model, registered_name=NAME))
    # given four versions: v1 served then retired, v2 champion and serving, v3 rejected by a
    # person, v4 the challenger awaiting approval
    client.create_registered_model(NAME)
    from include.modeling import tracking

    exp = tracking.ensure_experiment("inv")  # artifacts beside the store, not in ./mlruns
    part = "lineage.data_partitions"
    v1 = _version(
        client, exp, {part: "transactions:2026-11-01..2026-11-14", "gate.decision": "promoted"}
    )
    v2 = _version(
        client,
        exp,
        {
            part: "transactions:2026-11-08..2026-11-21",
            "gate.decision": "promoted",
            "lineage.dag_run_id": "scheduled__x",
        },
    )
    v3 = _version(
        client, exp, {"gate.decision": "awaiting_approval", "approval.decision": "rejected"}
    )
    v4 = _version(
        client, exp, {"gate.decision": "awaiting_approval", "lineage.dag_run_id": "manual__v4"}
    )
    for alias, v in (("champion", v2), ("production", v2), ("challenger", v4)):
        client.set_registered_model_alias(NAME, alias, v)
    for key, value in {
        "lifecycle.retired": "true",
        "lifecycle.retired_by": "alice",
        "lifecycle.retired_at": "2026-11-29T00:00:00+00:00",
        "lifecycle.retired_reason": "leaked labels",
    }.items():
        client.set_model_version_tag(NAME, v1, key, value)
    # the newest training partitions landed at these times
    _land(data_root, date(2026, 11, 14), datetime(2026, 11, 15, 1, 0, tzinfo=UTC))
    _land(data_root, date(2026, 11, 21), datetime(2026, 11, 22, 1, 0, tzinfo=UTC))
    # v1 served from 11-15 02:00 to 11-22 01:30, then v2 (a failed attempt in between)
    for version, outcome, at in (
        (v1, "serving", "2026-11-15T02:00:00+00:00"),
        (v2, "failed_at_check_candidate", "2026-11-22T01:10:00+00:00"),
        (v2, "serving", "2026-11-22T01:30:00+00:00"),
    ):
        history.write_record(
            {"model": NAME, "version": version, "outcome": outcome, "recorded_at": at}
        )
    lake = str(data_root / "lake")
    state.write_row(
        lake,
        "m1",
        {
            "measured_at": "2026-11-20T03:00:00+00:00",
            "decision": "breach",
            "retrain": True,
            "reason": "monitoring: quality breach",
            "report_uri": f"{lake}/reports/drift/a_b/index.html",
        },
    )
    state.write_row(
        lake,
        "m2",
        {
            "measured_at": "2026-11-29T03:00:00+00:00",
            "decision": "ok",
            "retrain": False,
            "reason": "within limits",
            "report_uri": f"{lake}/reports/drift/c_d/index.html",
        },
    )

    # when the inventory is built
    inv = build_inventory(spec=spec, tracking_uri=uri, now=NOW)

    # then it has the console's shape and the figures follow from the sources
    assert inv["generated_at"] == NOW.isoformat() and len(inv["models"]) == 1
    model = inv["models"][0]
    assert (model["name"], model["champion"], model["challenger"], model["serving"]) == (
        NAME,
        v2,
        v4,
        v2,
    )
    statuses = {v["version"]: v["status"] for v in model["versions"]}
    assert statuses == {v1: "retired", v2: "champion", v3: "rejected", v4: "challenger"}
    first = model["versions"][0]
    assert set(first) == {
        "version",
        "status",
        "created_at",
        "age_days",
        "retired_by",
        "retired_at",
        "retired_reason",
        "run_id",
    }
    assert (first["retired_by"], first["retired_reason"]) == ("alice", "leaked labels")
    assert model["versions"][1]["retired_by"] is None
    assert model["last_training"]["run_id"] == "manual__v4"
    assert model["last_retrain"] == {
        "at": "2026-11-20T03:00:00+00:00",
        "reason": "monitoring: quality breach",
    }
    assert model["last_drift"]["status"] == "ok" and model["last_drift"]["at"].startswith(
        "2026-11-29"
    )
    assert model["last_drift"]["report_url"]  # a console address (or the plain location)
    k = model["kpis"]
    assert k["landing_to_serving"] == [
        {"version": v1, "seconds": 3600.0, "deployed_at": "2026-11-15T02:00:00+00:00"},
        {"version": v2, "seconds": 1800.0, "deployed_at": "2026-11-22T01:30:00+00:00"},
    ]
    assert k["retrains"] == 3
    assert k["rejection_rate"] == 0.25  # v3 of four judged versions
    days = {t["version"]: t["days"] for t in k["time_in_production"]}
    assert days[v1] == pytest.approx(6 + 23.5 / 24, abs=1e-3)
    assert days[v2] == pytest.approx(
        (NOW - datetime(2026, 11, 22, 1, 30, tzinfo=UTC)).total_seconds() / 86400, abs=1e-3
    )


def test_inventory_of_an_empty_registry(data_root, registry) -> None:
    from include.registry.inventory import build_inventory

    uri, _ = registry
    base = load_spec(ROOT / "usecase" / "fraud.yaml")
    spec = dataclasses.replace(
        base, model=dataclasses.replace(base.model, registered_name="inv_none")
    )
    model = build_inventory(spec=spec, tracking_uri=uri, now=NOW)["models"][0]
    assert model["versions"] == [] and model["champion"] is None
    assert model["kpis"] == {
        "landing_to_serving": [],
        "retrains": 0,
        "rejection_rate": 0.0,
        "time_in_production": [],
    }
    assert model["last_drift"] == {"status": None, "at": None, "report_url": None}
