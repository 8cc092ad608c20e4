"""``python -m bench.production``: the production profile's bootstrap, one Celery worker vs two.

    make bench-production                     # workers 1 then 2, the 14-day bootstrap
    python -m bench.production --workers 2    # one setting only
    python -m bench.production --days 8 --rows 1500

Each run starts ``make run-prod`` as a person does (``scripts.production.trial``) on an empty
scratch data directory and free ports, with ``MLOPS_CELERY_WORKERS`` set, and stops it with
Ctrl-C once the first champion serves (or at ``--timeout``). Printed per run: seconds to
healthy, to every landed day ingested, to the first champion and to its deployment; then,
from Airflow's own task records, where the time went: per DAG the task count, the summed
run time and the summed wait in the queue (queued → started). A queue wait that grows with
fewer workers is the executor's limit; run time that does not shrink with more workers is
the machine's (2 cores here). Results go to ``bench/results/production.json``; the figures
and what they say about 100x the data are in ``deploy/README.md``. The harness measures; it
does not judge.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.trial import ROOT, ingested
from scripts.production.trial import ProductionRun

RESULTS = ROOT / "bench" / "results" / "production.json"


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def task_breakdown(api: AirflowApi) -> dict[str, dict[str, float]]:
    """Per DAG: tasks run, summed run time (s) and summed queue wait (s), from the API."""
    found: list[dict] = []
    while True:
        page = api.get("/api/v2/dags/~/dagRuns/~/taskInstances", limit=100, offset=len(found))
        found.extend(page["task_instances"])
        if len(page["task_instances"]) < 100:
            break
    out: dict[str, dict[str, float]] = defaultdict(
        lambda: {"tasks": 0, "run_s": 0.0, "queue_s": 0.0}
    )
    for ti in found:
        if not ti.get("start_date"):
            continue
        row = out[ti["dag_id"]]
        row["tasks"] += 1
        row["run_s"] += float(ti.get("duration") or 0)
        queued, started = _ts(ti.get("queued_when")), _ts(ti.get("start_date"))
        if queued and started and started >= queued:
            row["queue_s"] += started - queued
    return {k: {m: round(v, 1) for m, v in row.items()} for k, row in sorted(out.items())}


def one(
    workers: int, days: int, rows: int | None, timeout_s: float, until: str = "deployed"
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-production-") as tmp:
        scratch = Path(tmp)
        run = ProductionRun(scratch / "data", days=days, rows=rows, workers=workers)
        t0 = time.monotonic()
        marks: dict[str, Any] = {"workers": workers, "days": days, "rows": rows, "until": until}
        run.start(scratch / "make-run-prod.log")
        try:
            while time.monotonic() - t0 < timeout_s:
                status = run.status()
                now = round(time.monotonic() - t0, 1)
                progress = status.get("progress") or {}
                if status.get("ui_up_s") and "healthy_s" not in marks:
                    marks["healthy_s"] = now
                if ingested(status) and "all_ingested_s" not in marks:
                    marks["all_ingested_s"] = now
                if progress.get("first_champion_s") and "first_champion_s" not in marks:
                    marks["first_champion_s"] = now
                if progress.get("first_deployed_s"):
                    marks["first_deployed_s"] = now
                    break
                if until == "ingested" and "all_ingested_s" in marks:
                    break
                if run.proc is not None and run.proc.poll() is not None:
                    marks["error"] = f"make run-prod exited {run.proc.returncode}"
                    break
                time.sleep(2)
            else:
                marks["error"] = f"nothing deployed after {timeout_s:.0f} s"
            api = AirflowApi(
                run.url("MLOPS_UI_PORT"),
                "mlops-admin",
                run.data_root / "airflow" / "simple_auth_manager_passwords.json",
                timeout_s=30,
            )
            try:
                marks["tasks"] = task_breakdown(api)
            except OSError as exc:
                marks["tasks_error"] = str(exc)
            marks["restarts"] = run.status().get("restarts")
            marks["exit_code"] = run.ctrl_c() if run.proc and run.proc.poll() is None else None
        finally:
            run.kill()
        marks["log_tail"] = run.text()[-1500:]
        return marks


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.production", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--rows", type=int, default=None, help="transactions per day (spec default)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument(
        "--until",
        choices=["deployed", "ingested"],
        default="deployed",
        help="stop at the first deployed champion (default) or once every day is ingested",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    results = []
    for workers in args.workers:
        marks = one(workers, args.days, args.rows, args.timeout, args.until)
        results.append(marks)
        print(
            f"{workers} worker(s): healthy {marks.get('healthy_s')} s, all ingested "
            f"{marks.get('all_ingested_s')} s, first champion {marks.get('first_champion_s')} s, "
            f"deployed {marks.get('first_deployed_s')} s, restarts {marks.get('restarts')}"
            + (f"  ERROR {marks['error']}" if marks.get("error") else "")
        )
        for dag, row in (marks.get("tasks") or {}).items():
            print(
                f"    {dag:<22} {row['tasks']:>4} tasks  run {row['run_s']:>7} s  "
                f"queued {row['queue_s']:>7} s"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"at": datetime.now(UTC).isoformat(), "runs": results}, indent=1, default=str)
    )
    return 0 if all(not r.get("error") for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
