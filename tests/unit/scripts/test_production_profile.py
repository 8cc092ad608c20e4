"""The pieces of the production profile (``make run-prod``) that need no running stack:
the supervisor's holds and dependencies, the S3 fault switch, the environment each component
gets, the worker host names, MLflow's basic-auth config. The profile itself runs in the
``production`` tier (tests/production)."""

from __future__ import annotations

import configparser
import io
import os
from pathlib import Path

import pytest

from scripts.embedded.console import Console
from scripts.embedded.supervisor import Component, Supervisor
from scripts.production import mlflow_auth, profile
from scripts.production.s3 import (
    DENY_WRITES,
    HOLD_WRITES,
    bucket_of,
    denied_buckets,
    gate,
    held_writes,
)
from tests.unit.scripts.test_embedded_supervisor import _wait


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(tmp_path / "make-run.log")


def test_a_held_component_stays_down_uncounted_until_released(tmp_path, console):
    sup = Supervisor(console, tmp_path / "run" / "processes.json", holds=tmp_path / "hold")
    c = sup.start(Component("db", ["sleep", "60"], tmp_path / "db.log"))
    (tmp_path / "hold").mkdir()
    (tmp_path / "hold" / "db").touch()
    first = c.pid
    os.kill(first, 9)
    _wait(lambda: not c.alive())
    for _ in range(3):
        sup.check(None)
    assert not c.alive() and sup.restart_counts() == {"db": 0}
    assert "db is held down" in (tmp_path / "make-run.log").read_text()
    (tmp_path / "hold" / "db").unlink()
    sup.check(None)
    assert c.alive() and c.pid != first
    sup.stop_all(grace_s=1)


def test_a_component_whose_dependency_is_down_waits_for_it_without_counting(tmp_path, console):
    up = {"db": False}
    sup = Supervisor(console, tmp_path / "run" / "processes.json", max_restarts=1)
    c = sup.start(
        Component(
            "scheduler",
            ["sh", "-c", "exit 1"],
            tmp_path / "s.log",
            needs=lambda: up["db"],
            needs_what="PostgreSQL",
        )
    )
    _wait(lambda: not c.alive())
    for _ in range(5):  # would be Unrecoverable after one counted restart
        sup.check(None)
    assert sup.restart_counts() == {"scheduler": 0}
    assert "restarts when PostgreSQL is back" in (tmp_path / "make-run.log").read_text()
    up["db"] = True
    sup.check(None)
    assert "PostgreSQL is back: restarting scheduler" in (tmp_path / "make-run.log").read_text()
    sup.stop_all(grace_s=1)


def _call(app, method: str, path: str) -> tuple[str, bytes]:
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    return seen["status"], body


def test_b6_the_s3_fault_switch_refuses_writes_to_the_named_buckets_only(tmp_path):
    def backend(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    app = gate(backend, tmp_path)
    assert _call(app, "PUT", "/mlflow-artifacts/1/model.ubj")[0] == "200 OK"  # no switch
    (tmp_path / DENY_WRITES).write_text("mlflow-artifacts\n")
    status, body = _call(app, "PUT", "/mlflow-artifacts/1/model.ubj")
    assert status == "403 Forbidden" and b"<Code>AccessDenied</Code>" in body
    assert _call(app, "POST", "/mlflow-artifacts/k?uploads")[0] == "403 Forbidden"
    assert _call(app, "GET", "/mlflow-artifacts/1/model.ubj")[0] == "200 OK"  # reads work
    assert _call(app, "PUT", "/mlops-lake/validated/x")[0] == "200 OK"  # other buckets too
    (tmp_path / DENY_WRITES).write_text("")  # empty: every bucket
    assert denied_buckets(tmp_path) == {"*"}
    assert _call(app, "PUT", "/mlops-lake/validated/x")[0] == "403 Forbidden"
    assert bucket_of("/mlflow%2Dartifacts/a/b") == "mlflow-artifacts"


def _upload_through(app, path: str, body: bytes, *, sent: int) -> tuple[dict, object]:
    """PUT ``body`` to ``app`` (in a thread, over a real socket pair) with only ``sent`` bytes
    of it written before the client's side closes when ``sent < len(body)``."""
    import socket
    import threading

    server, client = socket.socketpair()
    result: dict = {}

    def serve() -> None:
        environ = {
            "REQUEST_METHOD": "PUT",
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": server.makefile("rb"),
        }
        out = app(environ, lambda status, headers: result.setdefault("status", status))
        result["body"] = b"".join(out)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client.sendall(body[:sent])
    if sent < len(body):
        client.close()  # the writer dies mid-upload
    return result, thread


def test_b1_the_s3_hold_switch_holds_an_upload_half_sent_and_drops_it_when_cut(tmp_path):
    stored: list[bytes] = []

    def backend(environ, start_response):
        stored.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [])
        return [b"ok"]

    app = gate(backend, tmp_path)
    body = bytes(range(256)) * 40
    (tmp_path / HOLD_WRITES).write_text("mlops-lake/validated/transactions/\n")
    # a writer that dies while its upload is held: the half-sent body is never stored
    result, thread = _upload_through(
        app, "/mlops-lake/validated/transactions/date=2026-01-01/data.parquet", body, sent=6000
    )
    _wait(lambda: held_writes(tmp_path))
    holding = held_writes(tmp_path)[0]
    assert holding["event"] == "holding" and holding["received"] == len(body) // 2
    assert holding["object"] == "mlops-lake/validated/transactions/date=2026-01-01/data.parquet"
    assert thread.is_alive() and not stored  # held, not passed on
    (tmp_path / HOLD_WRITES).unlink()
    thread.join(10)
    assert result["status"].startswith("400") and b"IncompleteBody" in result["body"]
    assert not stored
    assert held_writes(tmp_path)[-1]["event"] == "abandoned"
    # a writer still alive when the switch goes: its whole body is stored, once
    (tmp_path / HOLD_WRITES).write_text("mlops-lake/validated/\n")
    result, thread = _upload_through(
        app, "/mlops-lake/validated/x/data.parquet", body, sent=len(body)
    )
    _wait(lambda: len(held_writes(tmp_path)) == 3)
    assert thread.is_alive() and not stored
    (tmp_path / HOLD_WRITES).unlink()
    thread.join(10)
    assert result["status"] == "200 OK" and stored == [body]
    assert held_writes(tmp_path)[-1]["event"] == "released"
    # other objects are never held
    (tmp_path / HOLD_WRITES).write_text("mlops-lake/validated/\n")
    result, thread = _upload_through(app, "/mlops-lake/staging/x", body, sent=len(body))
    thread.join(10)
    assert result["status"] == "200 OK" and stored[-1] == body and len(held_writes(tmp_path)) == 4


def test_each_component_gets_its_group_and_nothing_else_of_the_project(monkeypatch):
    for name in profile.names("serving"):
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.setenv("MLOPS_SOMETHING_ELSE", "leak")
    monkeypatch.setenv("PGPASSFILE", "/x/pgpass")
    env = profile.component_env("serving")
    assert {k for k in env if k.startswith(("MLOPS_", "AWS_", "BENTOML_"))} == {
        n for n in profile.SERVING
    }
    assert env["PGPASSFILE"] == "/x/pgpass" and "MLOPS_SOMETHING_ELSE" not in env
    assert env["PATH"] == os.environ["PATH"]
    monkeypatch.delenv("MLOPS_REDIS_URL")
    with pytest.raises(KeyError, match="did not set MLOPS_REDIS_URL"):
        profile.component_env("serving")


def test_tasks_record_which_worker_ran_them(monkeypatch):
    from include.orchestration.workers import hostname

    monkeypatch.delenv("MLOPS_WORKER_NAME", raising=False)
    plain = hostname()
    assert "/" not in plain
    monkeypatch.setenv("MLOPS_WORKER_NAME", "worker-2")
    assert hostname() == f"{plain}/worker-2"


def test_e3_mlflow_basic_auth_config_is_private_and_names_the_users_store(tmp_path, monkeypatch):
    path = tmp_path / "mlflow" / "basic_auth.ini"
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.setenv("MLFLOW_AUTH_DATABASE_URI", "postgresql+psycopg2://mlflow:pw@db/mlflow_auth")
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_USERNAME", "mlops-admin")
    mlflow_auth.write_config()
    assert path.stat().st_mode & 0o777 == 0o600
    config = configparser.ConfigParser()
    config.read_file(io.StringIO(path.read_text()))
    assert config["mlflow"]["database_uri"].endswith("/mlflow_auth")
    assert config["mlflow"]["admin_username"] == "mlops-admin"
    assert "admin_password" not in config["mlflow"]  # from the environment only
    from mlflow.server.auth.config import read_auth_config

    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "a-long-enough-password")
    read = read_auth_config()
    assert read.admin_username == "mlops-admin" and read.admin_password


def test_only_a_celery_worker_preloads_the_heavy_libraries():
    from include.orchestration import celery_preload

    assert celery_preload.is_worker(["/venv/bin/airflow", "celery", "worker", "-q"])
    assert not celery_preload.is_worker(["/venv/bin/airflow", "scheduler"])
    assert not celery_preload.is_worker(["celery", "inspect", "ping"])
    # this process is no worker: the module gave Airflow's configuration, imported nothing
    assert not hasattr(celery_preload, "PRELOADED")
    assert celery_preload.CELERY_CONFIG["task_acks_late"] is True
    took = celery_preload.preload(("json", "no_such_module_here"))
    assert set(took) == {"json"}  # a failed import is logged, not raised


def test_redis_auto_uses_a_server_that_answers_and_starts_one_otherwise(tmp_path):
    import subprocess

    from scripts.embedded.supervisor import Unrecoverable
    from scripts.embedded.trial import free_port
    from scripts.production.__main__ import redis_server_binary, starts_own_redis

    port = free_port()
    assert starts_own_redis("auto", port)  # nothing there: start one
    assert not starts_own_redis("external", port)
    server = subprocess.Popen(
        [str(redis_server_binary()), "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: not starts_own_redis("auto", port))  # the machine's own: used
        assert starts_own_redis("embedded", port)
    finally:
        server.terminate()
        server.wait(10)
    with pytest.raises(Unrecoverable, match="MLOPS_REDIS_MODE"):
        starts_own_redis("cluster", port)
