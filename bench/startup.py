"""``python -m bench.startup``: wall time of ``make run`` to the first served model.

    make bench-startup                      # warm: this checkout, its venv already built
    python -m bench.startup --fresh-clone   # a `git clone` of HEAD: includes building .venv
    python -m bench.startup --repeat 3      # three runs in a row, each on an empty data/

Each run starts ``make run`` exactly as a person does (``scripts.embedded.trial``) on an
empty scratch data directory and free ports, with the default bootstrap (14 days of 10k
transactions, or ``--days``/``--rows``), and stops it with Ctrl-C once the first champion
serves (its version in the service's ``/status``). Printed per run: seconds from ``make run``
to the UI being healthy, to every landed day ingested, to the first champion registered
(target ≤ 5 min warm on 2 cores, issue 20) and to it being served (target ≤ 6 min);
restarts by the watchdog; whether the stop left anything.
Results go to ``bench/results/startup.json``. The harness measures; it does not judge.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.embedded.supervisor import pid_alive
from scripts.embedded.trial import ROOT, EmbeddedRun, ingested, port_open

RESULTS = ROOT / "bench" / "results" / "startup.json"
TARGET_S = 360  # first served model (issue 20); the first champion's is 300
CHAMPION_TARGET_S = 300


def _one(repo: Path, scratch: Path, days: int, rows: int | None, timeout_s: float) -> dict:
    run = EmbeddedRun(scratch / "data", days=days, rows=rows, repo=repo)
    t0 = time.monotonic()
    marks: dict[str, Any] = {}
    run.start(scratch / "make-run.log")
    try:
        while time.monotonic() - t0 < timeout_s:
            status = run.status()
            now = round(time.monotonic() - t0, 1)
            if status.get("ui_up_s") and "ui_healthy_s" not in marks:
                marks["ui_healthy_s"] = now
            if ingested(status) and "all_ingested_s" not in marks:
                marks["all_ingested_s"] = now
            progress = status.get("progress") or {}
            if progress.get("first_champion_s") and "first_champion_s" not in marks:
                marks["first_champion_s"] = now
                marks["champion"] = progress["champion"]
            if progress.get("first_deployed_s"):
                marks["first_served_s"] = now
                marks["served"] = progress.get("deployed")
                break
            if run.proc is not None and run.proc.poll() is not None:
                marks["error"] = f"make run exited {run.proc.returncode}"
                break
            time.sleep(2)
        else:
            marks["error"] = f"no served model after {timeout_s:.0f} s"
        pids = {k: v for k, v in (run.status().get("pids") or {}).items() if v}
        marks["restarts"] = run.status().get("restarts")
        marks["exit_code"] = run.ctrl_c() if run.proc and run.proc.poll() is None else None
        marks["left_processes"] = [k for k, v in pids.items() if pid_alive(v)]
        marks["held_ports"] = [k for k, v in run.ports.items() if port_open(v)]
    finally:
        run.kill()
    marks["log_tail"] = run.text()[-1500:]
    return marks


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n")[0])
    ap.add_argument("--fresh-clone", action="store_true", help="git clone HEAD, build its venv")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--rows", type=int, default=None, help="transactions per day (spec default)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    results = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            scratch = Path(tmp)
            repo = ROOT
            if args.fresh_clone:
                repo = scratch / "clone"
                subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
            marks = _one(repo, scratch, args.days, args.rows, args.timeout)
            marks.update(run=i + 1, fresh_clone=args.fresh_clone, days=args.days, rows=args.rows)
            results.append(marks)
            if args.fresh_clone:
                shutil.rmtree(repo / ".venv", ignore_errors=True)
        champ, served = marks.get("first_champion_s"), marks.get("first_served_s")
        print(
            f"run {i + 1}: UI healthy {marks.get('ui_healthy_s')} s, all ingested "
            f"{marks.get('all_ingested_s')} s, first champion {champ} s "
            f"({'%.2f' % (champ / CHAMPION_TARGET_S) if champ else '-'} of its "
            f"{CHAMPION_TARGET_S} s target), served {served} s "
            f"({'%.2f' % (served / TARGET_S) if served else '-'} of its {TARGET_S} s target), "
            f"restarts {marks.get('restarts')}, exit {marks.get('exit_code')}, left "
            f"{marks.get('left_processes') or 'nothing'} / ports "
            f"{marks.get('held_ports') or 'free'}"
            + (f"  ERROR {marks['error']}" if marks.get("error") else "")
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"at": datetime.now(UTC).isoformat(), "runs": results}, indent=1, default=str)
    )
    return 0 if all(not r.get("error") for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
