"""The production tier: the real ``make run-prod`` (CeleryExecutor with two workers, Redis,
PostgreSQL, the MLflow server with basic auth and S3 artifacts, Feast online on Redis, the
scoring service), started once for the tier on a scratch data directory and free ports.

The profile lands the eight reference days (the same content on every run) and runs the
whole loop on them: ingest → validate → materialize → train → gate → deploy. The tier's
tests then look at what that left and break the real services one at a time (faults B1-B6,
B9, E3 of docs/fault-model.md), each restoring what it broke.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.trained_platform import small_spec
from scripts.embedded.airflow_api import AirflowApi
from scripts.production.trial import ProductionRun
from tests.airflow_rest import (  # noqa: F401 (the tier's tests import them from here)
    TERMINAL,
    run_path,
    run_state,
    task_instances,
    task_state,
    trigger,
    wait,
    wait_run,
)
from tests.platform_logs import keep_if_failed

ROWS = 1500
# The bounds the tier's waits rest on (docs/fault-model.md, "Bounds"): each wait is on a
# condition the profile guarantees within one of these, never on a state that may be brief.
# A task whose worker died is failed (and retried) after this long without a heartbeat
# (production: 120 s).
HEARTBEAT_TIMEOUT_S = 60
# A short run of the tier's DAGs (a day's ingest, a deployment of the serving version), from
# its trigger to its end, queueing included, on a 2-core machine with the profile's other
# work: measured at 20-90 s, bounded at ten minutes.
RUN_BOUND_S = 600
# A component told to stop is gone within its stop grace (scripts/embedded/bounded_stop.py)
# and restarted within the fault model's bound (B2): the grace plus 30 s (a watchdog pass,
# the restart back-off, the new process started).
STOP_GRACE_S = 30
STOP_BOUND_S = STOP_GRACE_S + 30
# Airflow reports every component healthy again after a restart: a scheduler heartbeats
# within seconds of its start; Airflow's health threshold is 30 s.
HEALTHY_BOUND_S = 180


def _deployed(status: dict[str, Any]) -> bool:
    return bool((status.get("progress") or {}).get("first_deployed_s"))


# Package scope: the profile stops when this tier's last test is done, not at the end of
# the whole session (it would otherwise run, and take CPU, under the other tiers).
@pytest.fixture(scope="package")
def prod() -> Iterator[ProductionRun]:
    # Not under pytest's own temporary folders: a pytest started meanwhile (another
    # terminal) deletes all but the last three of those, the profile's data included.
    root = Path(tempfile.mkdtemp(prefix="mlops-production-"))
    spec = small_spec(root / "spec.yaml")
    run = ProductionRun(
        root / "data",
        rows=ROWS,
        extra_env={
            "MLOPS_BOOTSTRAP_REFERENCE": "true",
            "MLOPS_USECASE_SPEC": str(spec),
            # Retries as in production (B1, B5, B6 rely on them), sooner (production: 30 s).
            "MLOPS_TASK_RETRY_DELAY_S": "5",
            "MLOPS_STOP_GRACE_S": str(STOP_GRACE_S),
            # A task whose worker died is failed (and retried) after this long without a
            # heartbeat (production: 120 s).
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            # A task queued when the database went away (B3) is queued again after this
            # long (production: 600 s, Airflow's default).
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
        },
    )
    run.start(root / "make-run-prod.log")
    try:
        run.wait_for("the first champion deployed", _deployed, timeout_s=1800)
        # The loop may still be busy (a training run on the last days, its deployment): the
        # tests start from a quiet platform whose service serves the champion.
        wait("the platform to be quiet", lambda: _quiet(run), 1200, every_s=5)
        yield run
    finally:
        try:
            code = run.ctrl_c()
            assert run.status().get("exit_code") == 0, run.text()[-3000:]
            assert code in (0, -2, 130)
        finally:
            run.kill()
            keep_if_failed("production", root)
            shutil.rmtree(root, ignore_errors=True)


def _quiet(run: ProductionRun) -> bool:
    api = AirflowApi(
        run.url("MLOPS_UI_PORT"),
        "mlops-admin",
        run.data_root / "airflow" / "simple_auth_manager_passwords.json",
        timeout_s=30,
    )
    busy = api.get("/api/v2/dags/~/dagRuns", state=["queued", "running"], limit=1)
    if busy["total_entries"]:
        return False
    try:
        return str(serving_status(run)["model"]["version"]) == str(champion(run).version)
    except (KeyError, TypeError):
        return False


@pytest.fixture(scope="package")
def api(prod: ProductionRun) -> AirflowApi:
    return AirflowApi(
        prod.url("MLOPS_UI_PORT"),
        "mlops-admin",
        prod.data_root / "airflow" / "simple_auth_manager_passwords.json",
        timeout_s=30,
    )


@contextlib.contextmanager
def profile_env(prod: ProductionRun) -> Iterator[None]:
    """This process as a client of the profile: its lake in S3, its MLflow server (with the
    admin login), its online store, its spec."""
    secrets = prod.secrets
    values = {
        "MLOPS_LAKE_URI": "s3://mlops-lake",
        "MLOPS_LANDING_URI": "s3://mlops-landing",
        "MLOPS_S3_ENDPOINT_URL": prod.url("MLOPS_S3_PORT"),
        "AWS_ACCESS_KEY_ID": "mlops-service",
        "AWS_SECRET_ACCESS_KEY": secrets["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_TRACKING_URI": prod.url("MLOPS_MLFLOW_PORT"),
        "MLFLOW_TRACKING_USERNAME": "mlops-admin",
        "MLFLOW_TRACKING_PASSWORD": secrets["MLFLOW_AUTH_ADMIN_PASSWORD"],
        "MLOPS_USECASE_SPEC": prod.extra_env["MLOPS_USECASE_SPEC"],
        "MLOPS_FEAST_ONLINE_STORE": "redis",
        "MLOPS_REDIS_URL": f"redis://127.0.0.1:{prod.ports['MLOPS_REDIS_PORT']}/1",
    }
    # An earlier test of the session may have set MLflow's process-wide tracking URI, which
    # wins over the environment: every MLflow call here names the profile's server itself.
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def champion(prod: ProductionRun) -> Any:
    from mlflow import MlflowClient

    from include.spec import load_spec

    with profile_env(prod):
        name = load_spec().model.registered_name
        client = MlflowClient(prod.url("MLOPS_MLFLOW_PORT"))
        return client.get_model_version_by_alias(name, "champion")


def serving_status(prod: ProductionRun) -> dict:
    import httpx

    return httpx.get(f"{prod.url('MLOPS_SERVING_PORT')}/status", timeout=10).json()


def mails(prod: ProductionRun) -> list[Path]:
    return sorted((prod.data_root / "mail").glob("*.eml"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The loop's checks first, then the faults, in the tier's own slots of the session
    (the profile is up from the tier's first test to its last only)."""
    slots = [i for i, item in enumerate(items) if "tests/production/" in item.nodeid]
    ordered = sorted(
        (items[i] for i in slots), key=lambda item: "test_profile.py" not in item.nodeid
    )
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item
