"""The few calls of Airflow's public REST API that the watchdog and progress make (reads)
and the drift demo (``devtools.drift_demo``: trigger runs).

The supervisor only reads: the bootstrap needs no write (the ingest DAGs catch up over the
landed days and are created unpaused), so nothing it does can race the scheduler.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


class AirflowApi:
    def __init__(self, base: str, user: str, password_file: Path, timeout_s: float = 10) -> None:
        self.base = base.rstrip("/")
        self.user = user
        self.password_file = password_file
        self.timeout_s = timeout_s
        self._token: str | None = None

    def _request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        req = urllib.request.Request(f"{self.base}{path}", method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(req, data=data, timeout=self.timeout_s) as resp:
            return json.loads(resp.read() or b"null")

    def health(self) -> dict[str, str] | None:
        """``{"metadatabase": "healthy", "scheduler": ..., ...}``; None if no answer."""
        try:
            raw = self._request("GET", "/api/v2/monitor/health")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return {
            key: (value or {}).get("status") or "unknown"
            for key, value in (raw or {}).items()
            if isinstance(value, dict) or value is None
        }

    def _login(self) -> str:
        password = json.loads(self.password_file.read_text())[self.user]
        body = {"username": self.user, "password": password}
        self._token = self._request("POST", "/auth/token", body)["access_token"]
        return self._token

    def get(self, path: str, **query: Any) -> Any:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query, doseq=True)}"
        token = self._token or self._login()
        try:
            return self._request("GET", path, token=token)
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise
            return self._request("GET", path, token=self._login())

    def post(self, path: str, body: Any) -> Any:
        return self.send("POST", path, body)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        token = self._token or self._login()
        try:
            return self._request(method, path, body, token=token)
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise
            return self._request(method, path, body, token=self._login())

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        while True:
            page = self.get(
                f"/api/v2/dags/{dag_id}/dagRuns", limit=100, offset=len(runs), order_by="id"
            )
            batch = page.get("dag_runs", [])
            runs.extend(batch)
            if len(batch) < 100:
                return runs

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
            f"/taskInstances/{task_id}"
        )
        try:
            return self.get(path).get("state")
        except urllib.error.HTTPError:
            return None
