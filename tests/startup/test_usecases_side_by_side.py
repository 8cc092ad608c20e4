"""The real start-up: ``make run`` as a person runs it, with two use cases side by side, stopped
as Ctrl-C stops it, started again with one of them removed.

Same script, same embedded PostgreSQL and the same processes as ``make run``; only the data
directory (scratch), the ports (free ones), the bootstrap (4 small days) and the specs' model
budgets (small) differ. The use cases: fraud (simulated) and flights (recorded data).

Given ``MLOPS_USECASES=<fraud>,<flights>`` and an empty data directory, when ``make run``
starts (its output piped through ``tee``), then each use case ingests its own feeds, trains
and gates its own model, and has its own scoring service wired to its own pointer and online
store; no name collides: each use case's data and feature store are in its own folders
(nothing at the platform's plain roots), each has its own registered model (every version
trained on its own lake) and Feast project, and every mail names its use case; after
Ctrl-C no process and no port is left. When it starts again with fraud alone, then it says
it is resuming, lands no day again, creates no second run for any day, keeps the login and
fraud's scoring address, flights' DAGs are gone and its data stays; and when its scheduler
is killed, the watchdog reports it and brings it back.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from devtools.trained_platform import small_spec
from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.supervisor import pid_alive
from scripts.embedded.trial import EmbeddedRun, port_open
from tests.conftest import ROOT
from tests.platform_logs import keep_if_failed

pytestmark = pytest.mark.startup

NAMES = ("fraud", "flights")
DAYS = 4  # flights' labels mature in 2 days, the small fraud spec's in 2: 2 days to learn


@pytest.fixture
def platform(tmp_path: Path):
    specs = tmp_path / "specs"
    specs.mkdir()
    # The bundled specs with a small model budget: a few days of data suffice.
    # (a first model on three labelled days is judged against chance, not against a bar).
    flights = small_spec(
        specs / "flights.yaml", ROOT / "usecase" / "flights.yaml", model={"minimums": {}}
    )
    listed = f"{small_spec(specs / 'fraud.yaml')},{flights}"
    # 16,000 fraud events a day: enough positives (5) in two labelled days for every split part
    # of the one training after the catch-up (C18), whatever today's date. The simulator's
    # fraud comes in night-time bursts and the holdout is the second evening: at 8,000 it had
    # 1-4 positives for 4 of 15 landing dates (the suite waited until its timeout, 00:57 UTC
    # 2026-12-08); at 16,000 validation and holdout held 9 or more for each of 60 dates.
    run = EmbeddedRun(
        tmp_path / "data", days=DAYS, rows=16_000, extra_env={"MLOPS_USECASES": listed}
    )
    run.specs = {n: specs / f"{n}.yaml" for n in NAMES}
    try:
        yield run
    finally:
        try:
            run.ctrl_c()
        finally:
            run.kill()
            keep_if_failed("startup", tmp_path)


def _trained(status: dict[str, Any]) -> bool:
    """Both use cases trained and gated a model (promoted or not: a first model on two
    labelled days may rightly fall below its minimum; what is tested is where it lands)."""
    cases = (status.get("progress") or {}).get("usecases") or {}
    return set(cases) == set(NAMES) and all(
        cases[n].get("versions_judged")
        and len(cases[n].get("ingest") or {}) == 2
        and all(c.get("success") == DAYS for c in cases[n]["ingest"].values())
        for n in NAMES
    )


def _runs(run: EmbeddedRun, dag_ids: tuple[str, ...]) -> dict[str, list[str]]:
    api = _api(run)
    return {
        dag: sorted(r["logical_date"] or r["dag_run_id"] for r in api.dag_runs(dag))
        for dag in dag_ids
    }


def _landed(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.glob("landing/*/*/*/*")}


def _stop_and_check_clean(run: EmbeddedRun) -> None:
    pids = {k: v for k, v in (run.status().get("pids") or {}).items() if v}
    assert set(pids) >= {"postgres", "scheduler", "dag-processor", "triggerer", "api-server"}
    assert run.ctrl_c() in (0, -2, 130), run.text()[-3000:]  # make re-raises SIGINT
    assert run.status().get("exit_code") == 0, run.status()
    left = {name: pid for name, pid in pids.items() if pid_alive(pid)}
    assert not left, f"processes left after Ctrl-C: {left}"
    held = {name: port for name, port in run.ports.items() if port_open(port)}
    assert not held, f"ports still held after Ctrl-C: {held}"
    assert run.status().get("phase") == "stopped"


FRAUD_INGEST = ("fraud.ingest_transactions", "fraud.ingest_labels")


@pytest.mark.timeout(2400)
def test_b2_b10_b11_E7_two_use_cases_served_side_by_side_then_one_removed(
    platform: EmbeddedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    run, data = platform, platform.data_root
    # --- first start on an empty data directory, its output piped through tee (a Ctrl-C
    # kills tee first: the stop must still happen)
    run.start(tmp_path / "make-run.log", through_tee=True)
    status = run.wait_for("both use cases' models gated", _trained, timeout_s=1800)
    assert set(status["restarts"].values()) == {0}, status["restarts"]
    text = run.text()
    assert "is running (all components healthy)" in text
    assert f"[fraud] days ingested, transactions: {DAYS}/{DAYS}" in text
    assert f"[flights] days ingested, flights: {DAYS}/{DAYS}" in text
    from include.spec import load_spec

    models = {n: load_spec(run.specs[n]).model.registered_name for n in NAMES}
    assert models["fraud"] != models["flights"]
    for name in NAMES:  # its champion, rejection or approval request, on its own line
        said = (f"[{name}] champion registered: {models[name]} v", f"[{name}] {models[name]} v")
        assert any(s in text for s in said), name
    runs_before = _runs(run, FRAUD_INGEST)
    for dag in FRAUD_INGEST:
        assert len(runs_before[dag]) == DAYS, runs_before  # one run per landed day
    login = (data / "airflow" / "simple_auth_manager_passwords.json.generated").read_text()
    boot = json.loads((data / "run" / "bootstrap.json").read_text())

    # Each use case has its own scoring service, wired to its own pointer and online store
    # (the deployment of a champion into it: tests/integration/test_second_use_case.py).
    specs = run.specs
    for name in NAMES:
        url = status["ports"][f"serving.{name}"]
        served = httpx.get(f"{url}/status", timeout=10).json()
        assert served["usecase"] == name, served
        assert served["pointer_path"] == str(data / "serving" / name / "deployment.json")
        assert str(data / "feast" / name / "online.db") in served["online_store"]["store"]
        if served["model"]:  # deployed already: its own use case's model
            assert served["model"]["name"] == models[name], served

    # No collision: every store is divided by use case, nothing at the plain roots.
    for name in NAMES:
        assert (data / "landing" / name).is_dir() and (data / "features" / name).is_dir()
        assert (data / "lake" / name / "validated").is_dir()
        assert (data / "feast" / name / "online.db").is_file()
    for plain in ("lake/validated", "features/date=", "serving/deployment.json"):
        assert not list(data.glob(plain + "*")), f"{plain} written outside a use case's folder"

    # The registry and Feast's: one registered model and one Feast project each.
    tracking = _use_the_platforms_stores(run, monkeypatch, specs)
    from mlflow import MlflowClient

    from include.config import get_settings
    from include.features.schema import feature_spec
    from include.features.store import feature_store

    # Named, not taken from the environment: a tracking URI set by an earlier test in this
    # process (mlflow.set_tracking_uri) would win over MLFLOW_TRACKING_URI.
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    registered = {m.name for m in client.search_registered_models()}
    assert registered == set(models.values()), registered
    for name in NAMES:
        versions = client.search_model_versions(f"name = '{models[name]}'")
        assert any(v.tags.get("gate.decision") for v in versions), name  # one judged at least
        # Each version was trained on its own use case's training sets.
        uris = [v.tags.get("lineage.training_set_uri") or "" for v in versions]
        assert all(f"/lake/{name}/training_sets/" in u for u in uris), (name, uris)
        spec = load_spec(specs[name])
        store = feature_store(get_settings(name))
        assert store.project == spec.features.project
        views = {v.name for v in store.list_feature_views()}
        assert views == {v.name for v in feature_spec(spec).views}, (name, views)

    # Mails: each names exactly one use case.
    for mail in (data / "mail").glob("*.eml"):
        subject = next(
            line
            for line in mail.read_text(errors="replace").splitlines()
            if line.startswith("Subject:")
        )
        assert sum(f"[{n}]" in subject or f" {n}]" in subject for n in NAMES) == 1, subject

    # E7: fraud's customer ids are pii. Past the landing zone and quarantine, no file of
    # the platform holds one raw: lake, features, Feast, MLflow's store and artifacts, GX,
    # mails, the task and process logs, the metadata database (Parquet decoded, archives
    # opened: tests/pii_search.py).
    _no_raw_ids_past_landing(data, load_spec(run.specs["fraud"]))

    # --- Ctrl-C, then fraud alone: flights is removed, fraud goes on where it was.
    fraud_url = status["ports"]["serving.fraud"]
    landed = {k: v for k, v in _landed(data).items() if k.startswith("landing/fraud/")}
    _stop_and_check_clean(run)
    run.extra_env["MLOPS_USECASES"] = str(specs["fraud"])
    run.start(tmp_path / "fraud-alone.log")
    status = run.wait_for(
        "fraud resumed with its champion",
        lambda s: _served_alone(s, fraud_url),
        timeout_s=600,
    )
    alone = (tmp_path / "fraud-alone.log").read_text()
    assert "resuming on" in alone
    assert "landing" not in alone.split("is running")[0], "a day was landed again"
    assert set(status["restarts"].values()) == {0}, status["restarts"]
    assert {k: v for k, v in _landed(data).items() if k.startswith("landing/fraud/")} == landed
    runs_after = _runs(run, FRAUD_INGEST)
    for dag in FRAUD_INGEST:
        assert runs_after[dag] == runs_before[dag], (dag, runs_before, runs_after)
    again = json.loads((data / "run" / "bootstrap.json").read_text())
    assert (again["first_day"], again["landed_through"]) == (
        boot["first_day"],
        boot["landed_through"],
    )
    assert again["starts"] == boot["starts"] + 1
    assert (data / "airflow" / "simple_auth_manager_passwords.json.generated").read_text() == login
    # Flights' DAGs are gone from the platform (stale once the DAG processor parsed the
    # folder without them), fraud's are there, flights' data stays.
    from tests.airflow_rest import wait

    api = _api(run)

    def live_dags() -> set[str] | None:
        dags = api.get("/api/v2/dags", limit=100)["dags"]
        live = {d["dag_id"] for d in dags if not d.get("is_stale")}
        return None if any(d.startswith("flights.") for d in live) else live

    live = wait("flights' DAGs gone", live_dags, 300, 5)
    assert "fraud.train_model" in live, live
    assert list((data / "lake" / "flights" / "validated").glob("*/date=*/data.parquet"))

    # --- the watchdog: a scheduler killed with SIGKILL is reported and restarted
    killed = status["pids"]["scheduler"]
    os.kill(killed, signal.SIGKILL)
    run.wait_for(
        "the scheduler restarted and healthy",
        lambda s: (
            s.get("restarts", {}).get("scheduler") == 1
            and s["pids"]["scheduler"] != killed
            and s.get("phase") == "running"
            and all(v == "healthy" for v in (s.get("health") or {}).values())
        ),
        timeout_s=300,
    )
    log = (data / "logs" / "make-run.log").read_text()
    assert "scheduler exited (code -9)" in log and "restarting scheduler" in log
    _stop_and_check_clean(run)


def _no_raw_ids_past_landing(data: Path, spec: Any) -> None:
    import pandas as pd

    from tests.pii_search import find_raw_ids, searched_files

    feed = spec.events_feed
    assert feed.pii_columns, "the fraud spec marks its customer id pii"
    landed = [
        pd.read_csv(p, dtype=str, usecols=list(feed.pii_columns))
        for p in (data / "landing" / "fraud" / feed.name).glob("*/*")
    ]
    raw = {v for frame in landed for c in feed.pii_columns for v in frame[c].dropna()}
    assert len(raw) > 1000, len(raw)
    skip = [data / "landing", data / "lake" / "fraud" / "quarantine"]
    assert searched_files([data], skip) > 100
    found = find_raw_ids([data], raw, skip)
    assert not found, f"raw ids past landing: {dict(list(found.items())[:10])}"


def _served_alone(status: dict[str, Any], url: str) -> bool:
    """Fraud alone, healthy, its days ingested, at the same scoring address."""
    progress = status.get("progress") or {}
    ingest = progress.get("ingest") or {}
    return (
        status.get("phase") == "running"
        and set(progress.get("usecases") or {}) == {"fraud"}
        and len(ingest) == 2
        and all(c.get("success") == DAYS for c in ingest.values())
        and all(v == "healthy" for v in (status.get("health") or {}).values())
        and status.get("ports", {}).get("serving.fraud") == url
    )


def _api(run: EmbeddedRun) -> AirflowApi:
    return AirflowApi(
        f"http://127.0.0.1:{run.ports['MLOPS_UI_PORT']}",
        "mlops",
        run.data_root / "airflow" / "simple_auth_manager_passwords.json.generated",
    )


def _use_the_platforms_stores(run: EmbeddedRun, monkeypatch, specs: dict[str, Path]) -> str:
    """This process reads the stores ``make run`` uses: its embedded PostgreSQL's ``mlflow``
    and ``feast`` databases (password in its libpq password file), its data root. Returns
    the MLflow tracking URI."""
    pg = f"postgresql+psycopg2://mlops@127.0.0.1:{run.ports['MLOPS_PG_PORT']}"
    monkeypatch.setenv("PGPASSFILE", str(run.data_root / "airflow" / "pgpass"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{pg}/mlflow")
    monkeypatch.setenv("MLOPS_FEAST_REGISTRY", f"{pg}/feast")
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(run.data_root))
    monkeypatch.setenv("MLOPS_USECASES", ",".join(str(specs[n]) for n in NAMES))
    return f"{pg}/mlflow"
