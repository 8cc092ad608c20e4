"""Start the lifecycle on a freshly started embedded Airflow (used by ``make run``).

Waits for the API server, logs in with the generated password, unpauses every DAG of the
dags folder and backfills the days the simulator just landed (the scheduler itself runs
the latest day once the DAG is unpaused). Talks only to the public REST API.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# DAGs whose runs are per day of data and should be backfilled over the landed days.
DAILY_DAGS = ("ingest_transactions", "ingest_labels")


def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    req = urllib.request.Request(f"{base}{path}", method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(req, data=data, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _wait(what: str, fn: Any, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return fn()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
            time.sleep(2)
    raise SystemExit(f"timed out waiting for {what}: {last}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", type=Path, required=True)
    ap.add_argument("--start", type=date.fromisoformat, required=True)
    ap.add_argument("--days", type=int, required=True)
    args = ap.parse_args()
    base = f"http://127.0.0.1:{args.port}"

    _wait("the API server", lambda: _call(base, "GET", "/api/v2/monitor/health"))
    password = json.loads(args.password_file.read_text())[args.user]
    token = _call(base, "POST", "/auth/token", body={"username": args.user, "password": password})[
        "access_token"
    ]

    dag_ids = sorted(p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
    for dag_id in dag_ids:
        _wait(
            f"DAG {dag_id} to be parsed",
            lambda d=dag_id: _call(base, "GET", f"/api/v2/dags/{d}", token),
        )
        _call(base, "PATCH", f"/api/v2/dags/{dag_id}", token, {"is_paused": False})
        print(f"   unpaused {dag_id}")

    last_backfilled = args.start + timedelta(days=args.days - 2)  # the scheduler runs the last day
    if last_backfilled >= args.start:
        for dag_id in DAILY_DAGS:
            if dag_id not in dag_ids:
                continue
            body = {
                "dag_id": dag_id,
                "from_date": f"{args.start.isoformat()}T00:00:00Z",
                "to_date": f"{last_backfilled.isoformat()}T00:00:00Z",
                "reprocess_behavior": "failed",
                "max_active_runs": 1,
            }
            for attempt in range(1, 11):
                try:
                    _call(base, "POST", "/api/v2/backfills", token, body)
                    print(f"   backfilling {dag_id} {args.start} .. {last_backfilled}")
                    break
                except urllib.error.HTTPError as exc:
                    detail = exc.read()[:200]
                    # 503: SQLite was locked by the scheduler (embedded setup only): retry.
                    if exc.code == 503 and attempt < 10:
                        time.sleep(3)
                        continue
                    print(f"   backfill of {dag_id} not started: {exc.code} {detail!r}")
                    break


if __name__ == "__main__":
    main()
