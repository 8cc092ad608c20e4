"""Inventory and lineage pages, from fakes of the functions that build their data."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

INVENTORY = {
    "generated_at": "2026-12-02T04:00:00+00:00",
    "models": [
        {
            "name": "fraud_is_fraud",
            "champion": "4",
            "challenger": "5",
            "serving": "4",
            "versions": [
                {"version": "5", "status": "challenger", "created_at": "2026-12-01", "age_days": 1},
                {"version": "4", "status": "champion", "created_at": "2026-11-20", "age_days": 12},
                {
                    "version": "3",
                    "status": "retired",
                    "created_at": "2026-11-01",
                    "age_days": 31,
                    "retired_by": "retire_models",
                    "retired_at": "2026-11-21",
                },
            ],
            "last_training": {"at": "2026-12-01T03:00:00", "run_id": "scheduled__x"},
            "last_retrain": {"at": "2026-12-01T03:00:00", "reason": "monitoring: <b>drift</b>"},
            "last_drift": {
                "status": "breach",
                "at": "2026-11-30",
                "report_url": "http://ui/mlops/lake/reports/drift/a_b/index.html",
            },
            "kpis": {
                "landing_to_serving": [{"version": "4", "seconds": 5400, "deployed_at": "x"}],
                "retrains": 2,
                "rejection_rate": 0.5,
                "time_in_production": [{"version": "3", "days": 19}],
            },
        }
    ],
}

TRACE = {
    "query": {"prediction_id": "p-1", "transaction_id": None},
    "steps": [
        {
            "kind": "prediction",
            "title": "Prediction p-1",
            "fields": {"score": "0.93"},
            "links": [{"text": "capture", "href": "/mlops/lake/reports/x"}],
        },
        {
            "kind": "model_version",
            "title": "fraud v4 <script>alert(1)</script>",
            "fields": {"run": "r1"},
            "links": [{"text": "bad", "href": "javascript:alert(1)"}],
        },
    ],
    "missing": "the training set of v4 was deleted",
}


def _module(monkeypatch: pytest.MonkeyPatch, name: str, **funcs) -> None:
    module = ModuleType(name)
    for key, value in funcs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_inventory_page_and_json(client, monkeypatch) -> None:
    _module(monkeypatch, "include.registry.inventory", build_inventory=lambda: INVENTORY)
    r = client.get("/mlops/inventory")
    assert r.status_code == 200
    for needle in (
        "fraud_is_fraud",
        "champion",
        "retire_models",
        "1.5 h",
        "50%",
        "http://ui/mlops/lake/reports/drift/a_b/index.html",
    ):
        assert needle in r.text, needle
    assert "<b>drift</b>" not in r.text and "&lt;b&gt;drift&lt;/b&gt;" in r.text
    assert "<script src" not in r.text and "http://cdn" not in r.text  # no external asset
    assert client.get("/mlops/api/inventory").json() == INVENTORY


def test_lineage_page_and_json(client, monkeypatch) -> None:
    seen = {}

    def trace(prediction_id=None, transaction_id=None):
        seen.update(prediction_id=prediction_id, transaction_id=transaction_id)
        return TRACE

    _module(monkeypatch, "include.lineage", trace=trace)
    r = client.get("/mlops/lineage", params={"prediction_id": "p-1"})
    assert r.status_code == 200
    assert seen == {"prediction_id": "p-1", "transaction_id": None}
    assert "Prediction p-1" in r.text and "0.93" in r.text
    assert "Trace stops: the training set of v4 was deleted" in r.text
    assert "<script>alert(1)" not in r.text
    assert 'href="javascript:' not in r.text
    r = client.get("/mlops/api/lineage", params={"transaction_id": "t-9"})
    assert r.json() == TRACE and seen["transaction_id"] == "t-9"


def test_lineage_without_a_query_shows_the_form(client) -> None:
    r = client.get("/mlops/lineage")
    assert r.status_code == 200 and 'name="prediction_id"' in r.text
    assert client.get("/mlops/api/lineage").status_code == 400


@pytest.mark.parametrize(
    "module, route",
    [
        ("include.registry.inventory", "/mlops/inventory"),
        ("include.registry.inventory", "/mlops/api/inventory"),
        ("include.lineage", "/mlops/lineage?prediction_id=p"),
        ("include.lineage", "/mlops/api/lineage?prediction_id=p"),
    ],
)
def test_a_missing_data_source_is_a_clear_503(client, monkeypatch, module, route) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails
    r = client.get(route)
    assert r.status_code == 503
    assert "not available" in r.text


def test_a_failing_data_source_is_a_503_not_a_crash(client, monkeypatch) -> None:
    def boom():
        raise RuntimeError("MLflow is down")

    _module(monkeypatch, "include.registry.inventory", build_inventory=boom)
    r = client.get("/mlops/inventory")
    assert r.status_code == 503 and "MLflow is down" in r.text


def test_home_links_every_page(client) -> None:
    r = client.get("/mlops/")
    assert r.status_code == 200
    for route in (
        "/mlops/inventory",
        "/mlops/lineage",
        "/mlops/deployments",
        "/mlops/lake/reports/validation/",
        "/mlops/quarantine",
    ):
        assert f'href="{route}"' in r.text
