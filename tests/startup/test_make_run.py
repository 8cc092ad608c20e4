"""The real start-up: ``make run`` as a person runs it, stopped as Ctrl-C stops it, twice.

Same script, same embedded PostgreSQL and the same processes as ``make run``; only the data
directory (scratch), the ports (free ones) and the bootstrap (2 small days) differ.

Given an empty data directory, when ``make run`` starts, then every landed day's ingest run
succeeds, health is all healthy and no component was restarted; after Ctrl-C no process and
no port is left, even with its output piped through ``tee``. Given the same data directory,
when it starts again, then it says it is resuming, lands no day again, creates no second run
for any day and keeps the login; and when its scheduler is killed, the watchdog reports it
and brings it back.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.supervisor import pid_alive
from scripts.embedded.trial import EmbeddedRun, ingested, port_open

pytestmark = pytest.mark.startup

INGEST = ("ingest_transactions", "ingest_labels")


def _runs(run: EmbeddedRun) -> dict[str, list[str]]:
    api = AirflowApi(
        f"http://127.0.0.1:{run.ports['MLOPS_UI_PORT']}",
        "mlops",
        run.data_root / "airflow" / "simple_auth_manager_passwords.json.generated",
    )
    return {
        dag: sorted(r["logical_date"] or r["dag_run_id"] for r in api.dag_runs(dag))
        for dag in (*INGEST, "materialize_features", "train_model")
    }


def _landed(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.glob("landing/*/*/*")}


def _stop_and_check_clean(run: EmbeddedRun, tmp: Path) -> None:
    pids = {k: v for k, v in (run.status().get("pids") or {}).items() if v}
    assert set(pids) >= {"postgres", "scheduler", "dag-processor", "triggerer", "api-server"}
    assert run.ctrl_c() in (0, -2, 130), run.text()[-3000:]  # make re-raises SIGINT
    assert run.status().get("exit_code") == 0, run.status()
    left = {name: pid for name, pid in pids.items() if pid_alive(pid)}
    assert not left, f"processes left after Ctrl-C: {left}"
    held = {name: port for name, port in run.ports.items() if port_open(port)}
    assert not held, f"ports still held after Ctrl-C: {held}"
    assert run.status().get("phase") == "stopped"


def test_make_run_starts_stops_and_resumes(tmp_path: Path) -> None:
    run = EmbeddedRun(tmp_path / "data", days=2, rows=2000)
    try:
        # --- first start on an empty data directory, its output piped through tee (a
        # Ctrl-C kills tee first: the stop must still happen)
        run.start(tmp_path / "first.log", through_tee=True)
        status = run.wait_for("every landed day ingested", ingested, timeout_s=600)
        assert status["progress"]["expected_days"] == 2
        assert set(status["restarts"].values()) == {0}, status["restarts"]
        first_text = run.text()
        assert "is running (all components healthy)" in first_text
        assert "days ingested, transactions: 2/2" in first_text
        runs_before = _runs(run)
        for dag in INGEST:
            assert len(runs_before[dag]) == 2, runs_before  # one run per landed day
        login = (
            run.data_root / "airflow" / "simple_auth_manager_passwords.json.generated"
        ).read_text()
        landed = _landed(run.data_root)
        boot = json.loads((run.data_root / "run" / "bootstrap.json").read_text())
        _stop_and_check_clean(run, tmp_path)

        # --- second start on the same data directory
        run.start(tmp_path / "second.log")
        status = run.wait_for("the resumed platform", ingested, timeout_s=600)
        second_text = (tmp_path / "second.log").read_text()
        assert "resuming on" in second_text
        assert "landing" not in second_text.split("is running")[0], "a day was landed again"
        assert set(status["restarts"].values()) == {0}, status["restarts"]
        runs_after = _runs(run)
        for dag in INGEST:
            assert runs_after[dag] == runs_before[dag], (dag, runs_before, runs_after)
            assert len(set(runs_after[dag])) == len(runs_after[dag])
        assert _landed(run.data_root) == landed
        again = json.loads((run.data_root / "run" / "bootstrap.json").read_text())
        assert again["first_day"] == boot["first_day"]
        assert again["landed_through"] == boot["landed_through"]
        assert again["starts"] == boot["starts"] + 1
        assert (
            run.data_root / "airflow" / "simple_auth_manager_passwords.json.generated"
        ).read_text() == login

        # --- the watchdog: a scheduler killed with SIGKILL is reported and restarted
        killed = status["pids"]["scheduler"]
        os.kill(killed, signal.SIGKILL)
        status = run.wait_for(
            "the scheduler restarted and healthy",
            lambda s: (
                s.get("restarts", {}).get("scheduler") == 1
                and s["pids"]["scheduler"] != killed
                and ingested(s)
            ),
            timeout_s=300,
        )
        log = (run.data_root / "logs" / "make-run.log").read_text()
        assert "scheduler exited (code -9)" in log and "restarting scheduler" in log
        _stop_and_check_clean(run, tmp_path)
    finally:
        run.kill()
