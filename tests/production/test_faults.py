"""Infrastructure faults against the real services of the production profile (faults B1-B6,
B9 and E3 of docs/fault-model.md). Each test breaks one service of the running profile the
way it breaks in production (kill -9, a restart, an outage, a refusal), checks what the
fault model promises, and leaves the profile as it found it.

PostgreSQL here is the profile's own embedded server, never one another program uses, and
Redis is the profile's own too (ProductionRun), so stopping them touches nothing else.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from scripts.embedded.supervisor import _descendants, _process_table, pid_alive
from scripts.production.s3 import DENY_WRITES, HOLD_WRITES, held_writes
from scripts.production.trial import ProductionRun
from tests.production.conftest import (
    HEALTHY_BOUND_S,
    HEARTBEAT_TIMEOUT_S,
    RUN_BOUND_S,
    STOP_BOUND_S,
    STOP_GRACE_S,
    TERMINAL,
    champion,
    mails,
    profile_env,
    run_path,
    serving_status,
    task_instances,
    task_state,
    trigger,
    wait,
    wait_run,
)

# The first test also waits for the profile's bootstrap (session fixture `prod`).
pytestmark = pytest.mark.timeout(2700)


# The DAG the scheduling faults (B2-B4) run: a manual deployment of the version that already
# serves is a short run (it resolves the version, finds it serving and skips the rest) that
# triggers nothing downstream, so each test costs seconds, not a cascade of retraining.
LIGHT_DAG = "deploy_model"
# Training runs of B5/B6 train on a window other than the champion's: on the champion's own
# training set the run would skip training (TrainingSetUnchanged) before any upload.
NEW_TRAINING_SET = {"training_window_days": 6}


def _pid(prod: ProductionRun, component: str) -> int:
    pid = (prod.status().get("pids") or {}).get(component)
    assert pid and pid_alive(pid), (component, prod.status().get("pids"))
    return int(pid)


def _restarted(
    prod: ProductionRun, component: str, old_pid: int, within_s: float = STOP_BOUND_S
) -> int:
    """The component's new pid, once the watchdog has started it again (fault model B2: a
    component that exited is restarted within a watchdog pass and its back-off; one told to
    stop, within its stop grace more)."""
    return wait(
        f"{component} to be restarted by the watchdog",
        lambda: (
            (p := (prod.status().get("pids") or {}).get(component)) not in (None, old_pid)
            and pid_alive(p)
            and p
        ),
        within_s,
        every_s=0.5,
    )


def _answers(base: str) -> bool:
    """``GET /health`` succeeds (a server still starting refuses the connection)."""
    try:
        return httpx.get(base + "/health", timeout=5).is_success
    except httpx.HTTPError:
        return False


def _healthy(api) -> bool:
    health = api.health()
    return bool(health) and all(v == "healthy" for v in health.values())


def _unfinished(api) -> list[dict]:
    return [
        ti
        for ti in task_instances(api)
        if ti["state"] in ("running", "queued", "scheduled", "up_for_retry", "restarting")
    ]


def _lake_objects(prod: ProductionRun, prefix: str) -> dict[str, str]:
    import boto3

    with profile_env(prod):
        s3 = boto3.client("s3", endpoint_url=prod.url("MLOPS_S3_PORT"))
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="mlops-lake", Prefix=prefix
        ):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket="mlops-lake", Key=o["Key"])["Body"].read()
                out[o["Key"]] = hashlib.sha256(body).hexdigest()
        return out


def _versions(prod: ProductionRun) -> list:
    from mlflow import MlflowClient

    from include.spec import load_spec

    with profile_env(prod):
        name = load_spec().model.registered_name
        client = MlflowClient(prod.url("MLOPS_MLFLOW_PORT"))
        return list(client.search_model_versions(f"name = '{name}'"))


def _all_versions_have_artifacts(prod: ProductionRun) -> None:
    from mlflow.artifacts import download_artifacts

    with profile_env(prod):
        for v in _versions(prod):
            path = download_artifacts(
                f"models:/{v.name}/{v.version}", tracking_uri=prod.url("MLOPS_MLFLOW_PORT")
            )
            assert os.path.exists(os.path.join(path, "MLmodel")), (v.version, path)


def _task_log(prod: ProductionRun, dag_id: str, run_id: str, task_id: str, attempt: int) -> str:
    path = (
        prod.data_root
        / "airflow"
        / "logs"
        / f"dag_id={dag_id}"
        / f"run_id={run_id}"
        / f"task_id={task_id}"
        / f"attempt={attempt}.log"
    )
    return path.read_text(errors="replace") if path.exists() else ""


# --------------------------------------------------------------------------------------- E3
def test_e3_mlflow_server_without_credentials_is_401(prod: ProductionRun) -> None:
    base = prod.url("MLOPS_MLFLOW_PORT")
    path = "/api/2.0/mlflow/registered-models/search"
    assert httpx.get(base + path, timeout=10).status_code == 401
    assert (
        httpx.get(base + path, auth=("mlops-admin", "wrong-password"), timeout=10).status_code
        == 401
    )
    good = ("mlops-admin", prod.secrets["MLFLOW_AUTH_ADMIN_PASSWORD"])
    assert httpx.get(base + path, auth=good, timeout=10).status_code == 200
    # the artifacts it proxies are behind the same login
    assert httpx.get(base + "/api/2.0/mlflow-artifacts/artifacts", timeout=10).status_code == 401


# --------------------------------------------------------------------------------------- B4
def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_b4_two_triggers_at_once_the_second_run_queues(prod: ProductionRun, api) -> None:
    dag = LIGHT_DAG
    before = {r["dag_run_id"] for r in api.dag_runs(dag)}
    runs: list[str] = []
    threads = [threading.Thread(target=lambda: runs.append(trigger(api, dag))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(runs)) == 2
    states = [wait_run(api, dag, r, timeout_s=2 * RUN_BOUND_S) for r in runs]
    assert states == ["success", "success"]
    assert {r["dag_run_id"] for r in api.dag_runs(dag)} - before == set(runs)
    # max_active_runs=1, read from the runs' own records (no poll can miss it): both were
    # queued at once, and the later one started only after the earlier one had ended
    first, second = sorted(
        (api.get(run_path(dag, r)) for r in runs), key=lambda r: _at(r["start_date"])
    )
    assert _at(second["queued_at"]) < _at(first["end_date"]), (first, second)
    assert _at(second["start_date"]) >= _at(first["end_date"]), (first, second)


# --------------------------------------------------------------------------------------- B1
def test_b1_worker_killed_mid_write_the_task_retries_to_the_same_partition(
    prod: ProductionRun, api
) -> None:
    dag, task = "ingest_transactions", "publish_partition"
    run_id = max(
        (r for r in api.dag_runs(dag) if r["state"] == "success" and r["logical_date"]),
        key=lambda r: r["logical_date"],
    )["dag_run_id"]
    batch = f"{run_path(dag, run_id)}/taskInstances/wait_for_batch/xcomEntries/return_value"
    day = api.get(batch)["value"]["day"]  # the sensor's {"day", "files"}
    partition, staging = f"validated/transactions/date={day}/", f"staging/transactions/{day}/"
    clean = {p: _lake_objects(prod, p) for p in (partition, staging)}
    assert clean[partition], f"no validated partition under s3://mlops-lake/{partition}"
    faults = prod.data_root / "run" / "faults"
    faults.mkdir(parents=True, exist_ok=True)
    # Given the day ingested again, with the S3 stand-in holding the partition's upload
    # half-received (s3.HOLD_WRITES): the write stays in flight until the test acts.
    (faults / HOLD_WRITES).write_text(f"mlops-lake/{partition}\n")
    try:
        api.post(
            f"/api/v2/dags/{dag}/clearTaskInstances",
            {"dag_run_id": run_id, "only_failed": False, "reset_dag_runs": True, "dry_run": False},
        )
        held = wait(
            "the partition's upload to be in flight (held by the S3 stand-in)",
            lambda: [h for h in held_writes(faults) if h["event"] == "holding"],
            RUN_BOUND_S,
        )[0]
        assert 0 < held["received"] < held["length"], held
        ti = task_state(api, dag, run_id, task)
        assert ti["state"] == "running", ti  # the writer is blocked in the upload
        # when its worker dies (kill -9, the whole process tree) mid-write
        worker = ti["hostname"].rsplit("/", 1)[-1]
        leader = _pid(prod, worker)
        for pid in [leader, *_descendants(leader)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # then, while the worker is dead, the partition is still the old object, whole
        assert _lake_objects(prod, partition) == clean[partition]
    finally:
        (faults / HOLD_WRITES).unlink(missing_ok=True)
    # the held upload ends: stored whole when its body had all reached the server before the
    # kill (S3 keeps a complete request), dropped when it was cut; never stored in part
    ended = wait(
        "the held upload to be stored whole or dropped",
        lambda: [h for h in held_writes(faults) if h["event"] in ("released", "abandoned")],
        30,
        every_s=0.5,
    )
    assert ended[-1]["object"] == held["object"], ended
    assert _lake_objects(prod, partition) == clean[partition]
    _restarted(prod, worker, leader)
    # the task is failed for its lost heartbeat and retried, and the run succeeds
    assert wait_run(api, dag, run_id, timeout_s=RUN_BOUND_S + HEARTBEAT_TIMEOUT_S) == "success"
    final = task_state(api, dag, run_id, task)
    assert final["try_number"] >= 2, final
    # with the same objects, byte for byte, and nothing partial left beside them
    assert {p: _lake_objects(prod, p) for p in (partition, staging)} == clean


def _trigger_until_running(api, dag: str) -> str:
    """A new run of ``dag``, once it runs. A run of the light DAG lasts several seconds (its
    tasks each wait for a Celery worker), so the poll sees it running; a run already over is
    a failure of the test's premise, said as such, not a wait that times out."""
    run_id = trigger(api, dag)
    state = wait(
        "the run to start",
        lambda: (s := api.get(run_path(dag, run_id))["state"]) in ("running", *TERMINAL) and s,
        RUN_BOUND_S,
        every_s=0.2,
    )
    assert state == "running", f"{dag} {run_id} was over ({state}) before the fault could land"
    return run_id


# --------------------------------------------------------------------------------------- B2
def _component_process(prod: ProductionRun, component: str) -> int:
    """The component's own process: the child of its launcher (scripts/embedded/bounded_stop)."""
    launcher = _pid(prod, component)
    children = [pid for pid, (ppid, _, _) in _process_table().items() if ppid == launcher]
    assert len(children) == 1, (component, launcher, children)
    return children[0]


def test_b2_scheduler_restarted_mid_run_tasks_finish_and_no_run_is_duplicated(
    prod: ProductionRun, api
) -> None:
    dag = LIGHT_DAG
    run_id = _trigger_until_running(api, dag)
    runs_before = len(api.dag_runs(dag))
    launcher = _pid(prod, "scheduler")
    stopped_at = datetime.now(UTC)
    # Given a scheduler whose clean-up after SIGTERM never ends (frozen, as when it waits on
    # a broker or a database that does not answer): SIGTERM stays pending, it cannot exit
    os.kill(_component_process(prod, "scheduler"), signal.SIGSTOP)
    # when it is told to stop
    os.killpg(launcher, signal.SIGTERM)
    # then it is killed at the end of its stop grace and restarted within the fault model's
    # bound (B2: MLOPS_STOP_GRACE_S + 30 s)
    _restarted(prod, "scheduler", launcher, within_s=STOP_BOUND_S)
    log = (prod.data_root / "logs" / "scheduler.log").read_text(errors="replace")
    assert f"did not exit within {STOP_GRACE_S} s of SIGTERM" in log, log[-3000:]
    # and the run in flight finishes, once
    assert wait_run(api, dag, run_id, timeout_s=RUN_BOUND_S) == "success"
    ended = _at(api.get(run_path(dag, run_id))["end_date"])
    assert ended > stopped_at, f"the run had ended at {ended}, before the stop at {stopped_at}"
    assert len(api.dag_runs(dag)) == runs_before  # no run created twice
    assert wait("every component healthy", lambda: _healthy(api), HEALTHY_BOUND_S)


# --------------------------------------------------------------------------------------- B3
def test_b3_metadata_db_down_for_a_minute_everything_reconnects(prod: ProductionRun, api) -> None:
    dag = LIGHT_DAG
    run_id = _trigger_until_running(api, dag)
    in_flight = {ti["id"] for ti in _unfinished(api)}
    pg = _pid(prod, "postgres")
    prod.hold("postgres")
    try:
        down_at = datetime.now(UTC)
        os.killpg(pg, signal.SIGINT)  # fast shutdown: clients are disconnected
        wait("PostgreSQL to stop", lambda: not pid_alive(pg), 60, every_s=0.5)
        assert not _healthy(api)
        time.sleep(60)  # the outage itself (the fault is "down for about a minute")
    finally:
        prod.release("postgres")
    _restarted(prod, "postgres", pg)
    assert wait("every component healthy again", lambda: _healthy(api), 300, every_s=3)
    # the run in flight ends (its tasks finished or were retried), and nothing stays running
    assert wait_run(api, dag, run_id, timeout_s=900) in ("success", "failed")
    ended = _at(api.get(run_path(dag, run_id))["end_date"])
    assert ended > down_at, f"the run had ended at {ended}, before the outage at {down_at}"
    wait(
        "every task instance in flight during the outage to end",
        lambda: not in_flight & {ti["id"] for ti in _unfinished(api)},
        600,
        every_s=5,
    )
    assert prod.status().get("phase") == "running"
    # and the platform works: a new run succeeds
    assert wait_run(api, dag, trigger(api, dag), timeout_s=600) == "success"


# --------------------------------------------------------------------------------------- B9
def test_b9_redis_down_serving_not_ready_503_and_recovers(prod: ProductionRun) -> None:
    base = prod.url("MLOPS_SERVING_PORT")
    headers = {"Authorization": f"Bearer {prod.secrets['MLOPS_SERVING_TOKEN']}"}
    from include.deployment import checks

    with profile_env(prod):
        tx = checks.golden_requests(rows=1)[0]
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    redis_pid = _pid(prod, "redis")
    prod.hold("redis")
    try:
        os.killpg(redis_pid, signal.SIGKILL)
        wait(
            "readiness to say not ready",
            lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 503,
            30,
            every_s=0.5,
        )
        resp = httpx.post(
            f"{base}/predict", json={"transactions": [tx]}, headers=headers, timeout=10
        )
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "feature_store_unavailable", resp.text
        assert "retry" in resp.json()["message"]
        status = serving_status(prod)
        assert status["ready"] is False and status["online_store"]["error"], status
    finally:
        prod.release("redis")
    _restarted(prod, "redis", redis_pid)
    wait(
        "readiness to recover by itself",
        lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200,
        60,
        every_s=1,
    )
    resp = httpx.post(f"{base}/predict", json={"transactions": [tx]}, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"][0]["scored"] is True  # the features survived (AOF)


# --------------------------------------------------------------------------------------- B5
def test_b5_mlflow_down_during_training_clear_error_retry_nothing_orphaned(
    prod: ProductionRun, api
) -> None:
    dag, task = "train_model", "train_candidates"
    before = champion(prod)
    served = serving_status(prod)["model"]["version"]
    versions_before = {v.version for v in _versions(prod)}
    faults = prod.data_root / "run" / "faults"
    faults.mkdir(parents=True, exist_ok=True)
    seen = len(held_writes(faults))
    # Given a training run whose first artifact upload (the MLflow server proxies it to S3)
    # is held half-received by the S3 stand-in: training is mid-way, talking to MLflow
    (faults / HOLD_WRITES).write_text("mlflow-artifacts/\n")
    try:
        run_id = trigger(api, dag, NEW_TRAINING_SET)
        wait(
            "a training upload to be in flight (held by the S3 stand-in)",
            lambda: [h for h in held_writes(faults)[seen:] if h["event"] == "holding"],
            RUN_BOUND_S,
        )
        ti = task_state(api, dag, run_id, task)
        assert ti["state"] == "running", ti  # training waits on the MLflow server
        # when the MLflow server dies (before the upload is let go) and stays down
        mlflow_pid = _pid(prod, "mlflow")
        prod.hold("mlflow")
        os.killpg(mlflow_pid, signal.SIGKILL)
        (faults / HOLD_WRITES).unlink()
        # each attempt fails fast (MLFLOW_HTTP_REQUEST_* of the profile) and is retried; the
        # server stays down through the retries, so the run fails
        state = wait_run(api, dag, run_id, timeout_s=RUN_BOUND_S)
    finally:
        (faults / HOLD_WRITES).unlink(missing_ok=True)
        prod.release("mlflow")
    _restarted(prod, "mlflow", mlflow_pid)
    assert state == "failed", task_instances(api, dag, run_id)
    final = task_state(api, dag, run_id, task)
    assert final["try_number"] >= 2, final  # retried
    log = _task_log(prod, dag, run_id, task, 1)
    assert "Connection refused" in log or "Max retries exceeded" in log, log[-3000:]
    assert str(prod.ports["MLOPS_MLFLOW_PORT"]) in log, log[-3000:]  # it names the server
    # the server is back, and nothing half-made is in it: no new version, champion and
    # serving unchanged, every version with its gate decision and its artifacts
    wait("the MLflow server to answer", lambda: _answers(prod.url("MLOPS_MLFLOW_PORT")), 180)
    assert {v.version for v in _versions(prod)} == versions_before
    assert all(v.tags.get("gate.decision") for v in _versions(prod))
    assert champion(prod).version == before.version
    assert serving_status(prod)["model"]["version"] == served
    _all_versions_have_artifacts(prod)


# --------------------------------------------------------------------------------------- B6
def test_b6_s3_refuses_artifact_uploads_the_run_fails_champion_keeps_serving(
    prod: ProductionRun, api
) -> None:
    dag = "train_model"
    before = champion(prod)
    served = serving_status(prod)["model"]["version"]
    versions_before = {v.version for v in _versions(prod)}
    mails_before = set(mails(prod))
    switch = prod.data_root / "run" / "faults" / DENY_WRITES
    switch.parent.mkdir(parents=True, exist_ok=True)
    switch.write_text("mlflow-artifacts\n")
    try:
        run_id = trigger(api, dag, NEW_TRAINING_SET)
        state = wait_run(api, dag, run_id, timeout_s=1200)
    finally:
        switch.unlink(missing_ok=True)
    assert state == "failed"
    failed = [ti for ti in task_instances(api, dag, run_id) if ti["state"] == "failed"]
    assert failed, task_instances(api, dag, run_id)
    log = _task_log(prod, dag, run_id, failed[0]["task_id"], failed[0]["try_number"])
    # the task names the refused artifact upload; the MLflow server logged S3's refusal
    assert "mlflow-artifacts" in log and "500" in log, log[-3000:]
    server_log = (prod.data_root / "logs" / "mlflow.log").read_text(errors="replace")
    assert "AccessDenied" in server_log or "403" in server_log, server_log[-3000:]
    # no version was registered for the failed run, and every version's artifacts are there
    assert {v.version for v in _versions(prod)} == versions_before
    _all_versions_have_artifacts(prod)
    # the old champion keeps serving
    assert champion(prod).version == before.version
    assert serving_status(prod)["model"]["version"] == served
    # and a person is told
    new_mails = wait("the failure mail", lambda: set(mails(prod)) - mails_before, 60)
    text = "\n".join(p.read_text(errors="replace") for p in new_mails)
    assert "train_model" in text, text[:2000]


@pytest.fixture(autouse=True)
def _profile_still_running(prod: ProductionRun):
    yield
    assert prod.proc is not None and prod.proc.poll() is None, prod.text()[-3000:]
