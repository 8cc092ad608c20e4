"""End-to-end fixtures: the Airflow metadata DB and the DagBag."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Mailbox  # noqa: F401 (re-exported for the tests)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


# Each DAG's declared Param defaults, recorded before its first run in this session.
_DEFAULTS: dict[str, dict] = {}


def run_dag(dagbag, dag_id: str, **conf):
    """Run a DAG in-process with ``dag.test()``; returns the DagRun.

    Every Param not given is passed at its declared default: in one process, a run's conf
    stays on the DAG's shared Param objects (Airflow's ``process_params`` merges the conf
    into them), so a later test would otherwise inherit an earlier test's Params."""
    dag = dagbag.get_dag(dag_id)
    defaults = _DEFAULTS.setdefault(dag_id, dict(dag.params.dump()))
    return dag.test(run_conf={**defaults, **conf} or None)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def landing_dir(root: Path, feed: str, day: str) -> Path:
    return root / "landing" / feed / day


@pytest.fixture(scope="session")
def trained_platform(tmp_path_factory: pytest.TempPathFactory):
    """A champion, its holdout and a filled online store, built once per session
    (tests/platform.py). Read-only: copy it (``copy_platform``) to change it."""
    from tests.platform import build_platform

    return build_platform(tmp_path_factory.mktemp("platform") / "data")


@pytest.fixture
def platform(trained_platform, monkeypatch):
    """The session's trained platform, with this test's environment pointing at it."""
    from tests.platform import use_platform

    return use_platform(trained_platform, monkeypatch)


@contextlib.contextmanager
def stable_service(port: int, log: Path, timeout_s: float = 120) -> Iterator[str]:
    """The stable scoring service, started from the source as ``make run`` starts it
    (``bentoml serve serving.service:ScoringService``) with this test's environment; yields
    its URL once ``/status`` answers, stops the process group after."""
    import httpx

    from include.deployment.candidate import bentoml_cli

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [bentoml_cli(), "serve", "serving.service:ScoringService"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"stable service not up: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def xcom(dag_run, task_id: str):
    """The return value ``task_id`` pushed in ``dag_run`` (None when it pushed none)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id,
                key="return_value",
                dag_ids=dag_run.dag_id,
                task_ids=task_id,
            ).with_only_columns(XComModel.value)
        ).first()
    return None if row is None else XComModel.deserialize_value(type("R", (), {"value": row}))


def predict_one(url: str, token: str, tx: dict):
    """One transaction scored at ``url`` with the bearer token; the HTTP response."""
    import httpx

    return httpx.post(
        f"{url}/predict",
        json={"transactions": [tx]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
