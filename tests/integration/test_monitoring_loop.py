"""Tier 3: the monitoring loop, told as the story it proves.

1. A stable period ends with a champion deployed on the stable scoring address.
2. Concept drift is injected with the simulator: new days land, are validated, featurized
   and scored, as the nightly DAGs do.
3. ``monitor_drift`` detects it, mails once, and triggers ``train_model`` with the reason.
4. The retrained model passes the gate and is promoted; ``deploy_model`` deploys it.
5. The stable address answers with the new version.

Controls, which must retrain nothing: a stable window (nothing at all), a 20-row window
(not enough data), a window with a quarantined day (one data-quality mail, no retrain), and
a second night of the same drift inside the cooldown (nothing at all).

The platform: the real stages driven without Airflow's per-run overhead
(``devtools.trained_platform``), a stable history of 24 days ending 9 days ago whose feature
windows (1 and 7 days; the bundled spec's are 1, 7 and 30) have filled before the reference
starts, so that drift against the training set means production moved, not the platform's
age. The time from the drift batches landing to the new version serving is printed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import Mailbox
from tests.integration.conftest import (
    predict_one,
    run_dag,
    stable_service,
    task_states,
    xcom,
)
from tests.platform import use_platform

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
STABLE_DAYS = 24
ROWS = 800
# The simulator's days whose content the platform's days carry (moved in time by whole days).
SOURCE_START = date(2026, 9, 1)
STABLE = [TODAY - timedelta(days=8 + STABLE_DAYS - i) for i in range(STABLE_DAYS)]
DRIFT = [TODAY - timedelta(days=8 - i) for i in range(5)]  # T-8 .. T-4
THIN_DAY = TODAY - timedelta(days=3)  # 20 transactions
QUARANTINED_DAY = TODAY - timedelta(days=2)  # a batch missing a column
LABEL_DAYS = [TODAY - timedelta(days=8 - i) for i in range(8)]  # labels keep arriving to T-1
CONCEPT = 0.9


_SHORT_ENTITIES = {
    "customer": {
        "join_key": "customer_id",
        "view": "customer_transaction_stats",
        "stamps": "per_event",
        "aggregations": [
            {"name": "customer_txn_count_{w}d", "function": "count", "windows": [1, 7]},
            {
                "name": "customer_amount_mean_{w}d",
                "function": "mean",
                "column": "amount",
                "windows": [1, 7],
            },
            {
                "name": "customer_amount_std_{w}d",
                "function": "std",
                "column": "amount",
                "windows": [1, 7],
            },
            {
                "name": "customer_online_share_{w}d",
                "function": "ratio",
                "column": "channel",
                "equals": "online",
                "windows": [1, 7],
            },
            {
                "name": "customer_distinct_merchants_{w}d",
                "function": "distinct_count",
                "column": "merchant_id",
                "windows": [7],
            },
        ],
    },
    "merchant": {
        "join_key": "merchant_id",
        "view": "merchant_daily_stats",
        "stamps": "daily",
        "aggregations": [
            {"name": "merchant_txn_count_{w}d", "function": "count", "windows": [7]},
            {
                "name": "merchant_fraud_rate_{w}d",
                "function": "mean",
                "source": "labels",
                "column": "is_fraud",
                "windows": [7],
            },
            {
                "name": "merchant_label_count_{w}d",
                "function": "count",
                "source": "labels",
                "windows": [7],
            },
        ],
    },
}
_SHORT_REQUEST = {
    "view": "transaction_request_stats",
    "transforms": [
        {
            "name": "amount_to_customer_mean_7d",
            "function": "ratio",
            "inputs": ["amount", "customer_amount_mean_7d"],
        },
        {"name": "hour_of_day", "function": "hour_of_day", "inputs": ["event_timestamp"]},
    ],
}


def _source(day: date) -> date:
    return SOURCE_START + timedelta(days=(day - STABLE[0]).days)


@pytest.fixture(scope="module")
def monitoring_platform(tmp_path_factory: pytest.TempPathFactory):
    from devtools.trained_platform import build_platform

    root = tmp_path_factory.mktemp("monitoring") / "data"
    return build_platform(
        root,
        days=STABLE,
        sources=[_source(d) for d in STABLE],
        rows=ROWS,
        training_window_days=10,
        spec_overrides={
            # Short windows (sections replace the bundled ones key by key): the customer's
            # aggregations over 1 and 7 days (its distinct merchants over the longest), the
            # merchant's over 7 days, labels included (>= the label delay: 2 days).
            "features": {"entities": _SHORT_ENTITIES, "request": _SHORT_REQUEST},
            "monitoring": {
                "min_positives": 15,
                "min_labelled_rows": 1000,
                "retrain_window_days": 7,
            },
            "serving": {"watch_seconds": 2, "p99_ms": 200},
            # The bundled policy asks a person to approve a drift retrain; dag.test() can not
            # answer Airflow's approval task, so this story is the automatic promotion.
            "model": {"approval": {"required_when": []}},
        },
    )


def _forget_packages() -> None:
    """Empty the session's BentoML store of the fraud model's packages: BentoML fixes its
    store once per process, and this platform's registry numbers its versions from 1 like
    the session's trained platform (tests/platform.py), whose tests package what they miss."""
    import bentoml
    from bentoml.exceptions import NotFound

    from include.spec import load_spec
    from serving.bento import bento_name

    # Run alone (a fresh session store), there is nothing to forget: BentoML says NotFound.
    try:
        for bento in bentoml.bentos.list(bento_name()):
            bentoml.bentos.delete(bento.tag)
    except NotFound:
        pass
    try:
        for model in bentoml.models.list(load_spec().model.registered_name):
            bentoml.models.delete(model.tag)
    except NotFound:
        pass


@pytest.fixture
def loop_env(monitoring_platform, tmp_path, monkeypatch):
    from include.deployment.candidate import free_port
    from serving.auth import ensure_token, token_path

    plat = use_platform(monitoring_platform, monkeypatch)
    port = free_port()
    monkeypatch.setenv("MLOPS_SERVING_URL", f"http://127.0.0.1:{port}")
    token = ensure_token(token_path())
    _forget_packages()
    try:
        with stable_service(port, tmp_path / "stable.log") as url:
            yield plat, url, token
    finally:
        _forget_packages()


def _monitor(dagbag, first: date, last: date) -> tuple[dict, dict]:
    run = run_dag(dagbag, "monitor_drift", start=first.isoformat(), end=last.isoformat())
    states = task_states(run)
    assert str(run.state) == "success", states
    summary, decision = xcom(run, "measure"), xcom(run, "decide")
    return summary, {**decision, "states": states}


def _train_runs() -> list:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "train_model").all()
        session.expunge_all()
    return runs


def _serving(url: str) -> str | None:
    model = httpx.get(f"{url}/status", timeout=5).json().get("model") or {}
    return None if model.get("version") is None else str(model["version"])


def _land(spec, day: date, *, transactions: dict | None, labels: bool) -> dict[str, str | None]:
    from devtools.simulator import Drift
    from devtools.trained_platform import ingest_shifted

    drift = Drift(covariate=0.0, concept=CONCEPT, start=_source(DRIFT[0]))
    out = {}
    if transactions is not None:
        out["transactions"] = ingest_shifted(
            spec, "transactions", day, _source(day), rows=ROWS, drift=drift, **transactions
        )
    if labels:
        out["labels"] = ingest_shifted(spec, "labels", day, _source(day), rows=ROWS, drift=drift)
    return out


def _accept(day: date) -> None:
    from include.steps import ingest
    from include.steps.accept_batch import decide, find

    answer = {
        "chosen_options": ["Approve"],
        "params_input": {"comment": "a quiet day"},
        "responded_by_user": {"id": "ops", "name": "ops"},
        "responded_at": "2026-12-07T09:00:00+00:00",
    }
    assert decide(find("transactions", day.isoformat()), answer, "accept")["decision"] == "accepted"
    summary = ingest.validate("transactions", day.isoformat(), f"accepted__{day}")
    assert summary["success"] and summary["accepted_by"] == "ops", summary
    ingest.publish(summary)


@pytest.mark.timeout(1500)
def test_drift_is_detected_retrained_and_redeployed_and_the_controls_do_nothing(
    loop_env, dagbag, mailbox: Mailbox
) -> None:
    from include.features import schema
    from include.spec import load_spec
    from include.steps import materialize_features

    plat, url, token = loop_env
    spec = load_spec()
    timings: dict[str, float] = {}

    # 1. a stable period ends with the champion deployed
    deployed = run_dag(dagbag, "deploy_model")
    assert str(deployed.state) == "success", task_states(deployed)
    assert _serving(url) == plat.champion_version
    stable = STABLE[-3:]
    scored = run_dag(
        dagbag,
        "score_transactions",
        start_date=stable[0].isoformat(),
        end_date=stable[-1].isoformat(),
    )
    assert str(scored.state) == "success", task_states(scored)

    # control: a stable window triggers nothing
    summary, decision = _monitor(dagbag, stable[0], stable[-1])
    # every window (9 days at most, label delay included) filled before the reference began
    assert summary["warming_up"] == {}, summary["warming_up"]
    features = schema.model_features(schema.feature_spec(spec))
    assert sorted(summary["judged_features"]) == sorted(features), summary
    assert decision["status"] == "ok", decision
    assert decision["verdicts"]["data_drift"] == "ok", summary["measured"]["data_drift"]
    assert not decision["retrain"] and not decision["alerts"], decision
    assert decision["states"]["trigger_retrain"] == "skipped"
    assert mailbox.messages == [] and _train_runs() == []
    report_dir = Path(summary["report_dir"])
    assert {"index.html", "summary.json", "data_drift.html"} <= {
        p.name for p in report_dir.iterdir()
    }

    # 2. concept drift lands: five drifted days, a thin day, a quarantined day, later labels
    landed_at = time.monotonic()
    outcomes = {}
    for day in LABEL_DAYS:
        if day in DRIFT:
            tx: dict | None = {}
        elif day == THIN_DAY:
            tx = {"keep_rows": 20}
        elif day == QUARANTINED_DAY:
            tx = {"fault": "missing_column"}
        else:
            tx = None
        outcomes[day.isoformat()] = _land(spec, day, transactions=tx, labels=True)
    # 20 rows against ~1,500 a day is a partial delivery to the feed's history: quarantined,
    # then accepted by a person (a quiet day is real), as accept_batch does.
    assert outcomes[THIN_DAY.isoformat()]["transactions"] == "quarantined", outcomes
    _accept(THIN_DAY)
    assert outcomes[QUARANTINED_DAY.isoformat()]["transactions"] == "quarantined", outcomes
    assert all(outcomes[d.isoformat()]["transactions"] == "published" for d in DRIFT), outcomes
    published = [d.isoformat() for d in [*DRIFT, THIN_DAY]]
    materialize_features.compute_tables(published)
    materialize_features.materialize_partitions(published)
    scored = run_dag(
        dagbag, "score_transactions", start_date=DRIFT[0].isoformat(), end_date=THIN_DAY.isoformat()
    )
    assert str(scored.state) == "success", task_states(scored)
    timings["land_featurize_score_s"] = time.monotonic() - landed_at
    mailbox.clear()  # the quarantine's own mail (tested with ingest)

    # control: a 20-row window is "not enough data", never drift, whatever it holds
    summary, decision = _monitor(dagbag, THIN_DAY, THIN_DAY)
    assert summary["current_rows"] == 20, summary["current_rows"]
    assert decision["status"] == "not_enough_data", decision
    assert decision["verdicts"]["data_drift"] == "not_enough_data"
    assert not decision["retrain"] and mailbox.messages == [] and _train_runs() == []

    # control: a window with a quarantined day is not judged: one mail, no retrain
    summary, decision = _monitor(dagbag, DRIFT[-1], QUARANTINED_DAY)
    assert decision["status"] == "data_quality", decision
    assert summary["quarantined"] == {"transactions": [QUARANTINED_DAY.isoformat()]}
    assert not decision["retrain"] and _train_runs() == []
    assert len(mailbox.messages) == 1 and "NOT JUDGED" in mailbox.subjects()[0], mailbox.subjects()
    mailbox.clear()

    # 3. the drifted window: detected, mailed once, retraining triggered with the reason
    started = time.monotonic()
    summary, decision = _monitor(dagbag, DRIFT[0], DRIFT[-1])
    timings["monitor_s"] = time.monotonic() - started
    assert decision["status"] == "breach" and decision["retrain"], decision
    assert decision["verdicts"]["quality"] == "breach", summary["measured"]["quality"]
    quality = summary["measured"]["quality"]
    assert quality["pr_auc"] < quality["holdout"]["pr_auc"] - 0.10, quality
    assert decision["states"]["trigger_retrain"] == "success"
    assert len(mailbox.messages) == 1, mailbox.subjects()
    mail = mailbox.body(mailbox.messages[0])
    assert mailbox.subjects()[0].startswith("[airflow-mlops] DRIFT"), mailbox.subjects()
    for fact in ("PR-AUC", "matured labels", "train_model was triggered", summary["report_uri"]):
        assert fact in mail, (fact, mail)
    runs = _train_runs()
    assert len(runs) == 1 and runs[0].run_id == decision["trigger_run_id"], runs
    assert runs[0].conf["reason"].startswith("monitoring:"), runs[0].conf
    assert runs[0].conf["training_window_days"] == 7, runs[0].conf
    mailbox.clear()

    # control: the next night, the same drift inside the cooldown: nothing at all
    summary2, decision2 = _monitor(dagbag, DRIFT[1], THIN_DAY)
    assert decision2["status"] == "breach_in_cooldown", decision2
    assert not decision2["retrain"] and not decision2["alerts"], decision2
    assert mailbox.messages == [] and len(_train_runs()) == 1

    # 4. the triggered retrain (the scheduler's part played here: its conf, run in-process)
    started = time.monotonic()
    trained = run_dag(dagbag, "train_model", **runs[0].conf)
    timings["train_s"] = time.monotonic() - started
    states = task_states(trained)
    assert states["publish_champion"] == "success", states
    new_version = xcom(trained, "evaluate_and_promote")["version"]
    assert str(new_version) != plat.champion_version
    started = time.monotonic()
    redeployed = run_dag(dagbag, "deploy_model")  # the new champion, as on its event
    timings["deploy_s"] = time.monotonic() - started
    assert str(redeployed.state) == "success", task_states(redeployed)

    # 5. the stable address answers with the new version
    from include.deployment import checks

    tx = checks.golden_requests(spec, rows=1)[0]
    resp = predict_one(url, token, tx)
    assert resp.status_code == 200, resp.text
    assert str(resp.json()["model"]["version"]) == str(new_version)
    timings["drift_landed_to_new_version_serving_s"] = sum(timings.values())
    print("monitoring loop timings:", json.dumps({k: round(v, 1) for k, v in timings.items()}))
    history = (plat.root / "lake" / "monitoring" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 5, history  # one row per monitoring run, header first
    # and every run's snapshots are in the Evidently workspace (`make evidently-ui`)
    from evidently.ui.workspace import Workspace

    ws = Workspace(str(plat.root / "evidently"))
    (project,) = ws.search_project(f"{spec.model.registered_name} monitoring")
    assert len(ws.list_runs(project.id)) >= 5 + 3  # each run: drift + quality, drift runs more


def test_without_a_champion_the_run_is_skipped_not_failed(
    trained_platform, tmp_path, monkeypatch, dagbag, mailbox: Mailbox
) -> None:
    from include.modeling import tracking
    from include.spec import load_spec
    from tests.platform import copy_platform

    use_platform(copy_platform(trained_platform, tmp_path / "data"), monkeypatch)
    spec = load_spec()
    client = tracking.configure(None).MlflowClient()
    client.delete_registered_model_alias(spec.model.registered_name, spec.model.champion_alias)

    run = run_dag(dagbag, "monitor_drift")

    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["measure"] == "skipped" and states["record"] == "skipped", states
    assert mailbox.messages == []  # a young deployment alerts no one
