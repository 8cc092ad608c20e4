"""Small helpers over Airflow's REST API for the tiers that run a real platform (production,
browser): trigger a DAG, wait for a run or a condition, list task instances."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from scripts.embedded.airflow_api import AirflowApi

TERMINAL = {"success", "failed"}


def wait(what: str, predicate: Callable[[], Any], timeout_s: float, every_s: float = 2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def trigger(api: AirflowApi, dag_id: str, conf: dict | None = None) -> str:
    body = {"logical_date": None, "conf": conf or {}}
    return api.post(f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]


def run_state(api: AirflowApi, dag_id: str, run_id: str) -> str:
    return api.get(run_path(dag_id, run_id))["state"]


def wait_run(api: AirflowApi, dag_id: str, run_id: str, timeout_s: float = 600) -> str:
    return wait(
        f"{dag_id} {run_id} to finish",
        lambda: (s := _state_or_none(api, dag_id, run_id)) in TERMINAL and s,
        timeout_s,
        every_s=3,
    )


def _state_or_none(api: AirflowApi, dag_id: str, run_id: str) -> str | None:
    try:
        return run_state(api, dag_id, run_id)
    except OSError:  # the api-server restarting (B3): ask again
        return None


def task_instances(api: AirflowApi, dag_id: str = "~", run_id: str = "~") -> list[dict]:
    found: list[dict] = []
    while True:
        page = api.get(
            f"{run_path(dag_id, run_id) if run_id != '~' else f'/api/v2/dags/{dag_id}/dagRuns/~'}"
            "/taskInstances",
            limit=100,
            offset=len(found),
        )
        batch = page["task_instances"]
        found.extend(batch)
        if len(batch) < 100:
            return found


def task_state(api: AirflowApi, dag_id: str, run_id: str, task_id: str) -> dict | None:
    for ti in task_instances(api, dag_id, run_id):
        if ti["task_id"] == task_id:
            return ti
    return None
