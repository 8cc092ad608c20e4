"""Drive a real ``make run`` from another program: the start-up test and ``bench/startup.py``.

It starts ``make run`` exactly as a person does, on a scratch data directory and free ports,
in its own process group, reads the supervisor's ``data/run/status.json``, and stops it as a
terminal's Ctrl-C does (SIGINT to the whole foreground group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_CLEARED = ("AIRFLOW_", "MLOPS_", "MLFLOW_", "BENTOML_", "PGPASSFILE", "PYTHONPATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class EmbeddedRun:
    data_root: Path
    days: int = 2
    rows: int | None = 2000
    extra_env: dict[str, str] = field(default_factory=dict)
    repo: Path = ROOT
    target: str = "run"
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    output: Path | None = None

    def __post_init__(self) -> None:
        if not self.ports:
            self.ports = {
                "MLOPS_UI_PORT": free_port(),
                "MLOPS_SMTP_PORT": free_port(),
                "MLOPS_PG_PORT": free_port(),
                "MLOPS_SERVING_PORT": free_port(),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": free_port(),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": free_port(),
            }

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED)}
        env.update({k: str(v) for k, v in self.ports.items()})
        env["MLOPS_DATA_ROOT"] = str(self.data_root)
        env["MLOPS_BOOTSTRAP_DAYS"] = str(self.days)
        if self.rows:
            env["MLOPS_BOOTSTRAP_ROWS"] = str(self.rows)
        env.update(self.extra_env)
        return env

    def start(self, output: Path, *, through_tee: bool = False) -> None:
        """``make run``; with ``through_tee``, as ``make run | tee -a <output>``, whose ``tee``
        a Ctrl-C kills before the supervisor has stopped anything."""
        self.output = output
        output.parent.mkdir(parents=True, exist_ok=True)
        argv = ["make", "--no-print-directory", self.target]
        if through_tee:
            argv = [
                "bash",
                "-c",
                f"make --no-print-directory {self.target} | tee -a '{output}' >/dev/null",
            ]
        with open(output, "ab") as fh:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.repo,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a foreground group of its own, like a terminal's
            )

    @property
    def status_path(self) -> Path:
        return self.data_root / "run" / "status.json"

    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output else ""

    def wait_for(
        self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status()
            if status and predicate(status):
                return status
            if self.proc is not None and self.proc.poll() is not None:
                code = self.proc.returncode
                raise AssertionError(
                    f"make run exited ({code}) before {what}:\n{self.text()[-4000:]}"
                )
            time.sleep(2)
        raise AssertionError(
            f"timed out waiting for {what}; status {self.status()}\n{self.text()[-4000:]}"
        )

    def ctrl_c(self, timeout_s: float = 120) -> int:
        """SIGINT to the whole group, as a terminal sends it; returns the group leader's exit
        code (make re-raises SIGINT on itself: -2). The supervisor's own exit code is
        ``status()["exit_code"]``."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return self.proc.returncode  # it had stopped already: the caller checks why
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:  # it stopped between the poll and the signal
            return self.proc.wait()
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise

    def kill(self) -> None:
        """Last resort for a test's clean-up: every group this run may have started."""
        pids = [self.proc.pid] if self.proc else []
        pids += [p for p in (self.status().get("pids") or {}).values() if p]
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def ingested(status: dict[str, Any]) -> bool:
    """Every landed day of both feeds ingested, and every component healthy."""
    progress = status.get("progress") or {}
    ingest = progress.get("ingest") or {}
    want = progress.get("expected_days")
    health = status.get("health") or {}
    return (
        status.get("phase") == "running"
        and bool(want)
        and len(ingest) == 2
        and all(c.get("success") == want for c in ingest.values())
        and all(v == "healthy" for v in health.values())
    )
