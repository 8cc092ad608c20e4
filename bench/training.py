"""Training costs: XGBoost thread scaling under OpenMP policies, and MLflow's share of training.

Two measurements, each in fresh processes (the OpenMP wait policy is read once, when the
library loads, and a training task is a fresh process under Airflow):

* **XGBoost throughput** (rows x features x rounds per second), hist, depth 6, 1 and 2
  threads interleaved, median of ``reps``. Once through the project's import path
  (``include.training.threads``: ``OMP_WAIT_POLICY=PASSIVE``) and once with OpenMP's
  default policy, on the anchor's shape (1M x 20; ``quick``: 200k x 20) and on a small one
  (60k x 10) that shows why the project caps threads by data size. Target: 2 threads take
  no longer than 1 with the project's policy (performance-anchors.md: 93 M cell-rounds/s
  with 2 default threads vs 190 M with 1; 342 M with 2 passive).
* **MLflow share**: ``include.training.train_candidates`` on simulator-derived features
  (``devtools.sample_data``; 150k rows, the spec's tuning budget; ``quick``: 80k
  rows, budget 2) against a SQLite MLflow migrated beforehand. The call's own stopwatch
  splits wall time into fitting (training, prediction, metrics) and MLflow (import, runs,
  params, metrics, plots, model logging and read-back). A *cold* call (first in a fresh
  process, as an Airflow task) and a *warm* one (second call). Target: MLflow <= 5 %. The
  gate (``evaluate_and_promote``) is timed after the warm call, for information.

Sizes per run (``smoke``, ``quick``, ``default``) in :data:`SIZES`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Figure, Size, median

SHARE_TARGET = 0.05
THREAD_RATIO_TARGET = 1.0
_CHILD = "import json,sys; from bench import training; training.{fn}(json.loads(sys.argv[1]))"


@dataclass(frozen=True)
class Sizes:
    """One run's sizes: the XGBoost shapes (rows, features, rounds), the fresh-process
    rounds, and the ``train_candidates`` frame (days x rows a day) and tuning budget."""

    big: tuple[int, int, int]
    small: tuple[int, int, int]
    reps: int
    days: int
    rows_per_day: int
    budget: int


SIZES: dict[Size, Sizes] = {
    "smoke": Sizes((20_000, 10, 10), (5_000, 5, 10), 1, 2, 3_000, 1),
    "quick": Sizes((200_000, 20, 30), (60_000, 10, 30), 3, 4, 20_000, 2),
    "default": Sizes((1_000_000, 20, 20), (60_000, 10, 30), 5, 5, 30_000, 4),
}


def _child(fn: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run ``bench.training.<fn>(args)`` in a fresh interpreter; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(fn=fn), json.dumps(args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {fn} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO_ROOT))
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", **extra})
    return env


# ------------------------------------------------------------------ children (fresh process)
def xgb_child(args: dict[str, Any]) -> None:
    """Time ``xgb.train`` at 1 and 2 threads, interleaved; print JSON seconds per thread count."""
    if args["policy"] == "project":
        from include.training.threads import import_xgboost

        xgb = import_xgboost()  # sets OMP_WAIT_POLICY=PASSIVE before the library loads
    else:
        os.environ.pop("OMP_WAIT_POLICY", None)
        import xgboost as xgb
    import numpy as np

    out: dict[str, Any] = {"policy": os.environ.get("OMP_WAIT_POLICY", "default")}
    for shape in args["shapes"]:
        rows, cols, rounds = shape
        rng = np.random.default_rng(0)
        x = rng.normal(size=(rows, cols)).astype(np.float32)
        y = (x[:, 0] + rng.normal(size=rows) > 2.0).astype(np.float32)
        data = xgb.QuantileDMatrix(x, label=y, nthread=2)
        params = {"tree_method": "hist", "objective": "binary:logistic", "max_depth": 6}
        for threads in (1, 2):  # untimed warm-up (OpenMP starts its thread pool)
            xgb.train({**params, "nthread": threads}, data, 2)
        times: dict[str, list[float]] = {"1": [], "2": []}
        for _ in range(args["reps"]):
            for threads in (1, 2):
                start = time.perf_counter()
                xgb.train({**params, "nthread": threads}, data, rounds)
                times[str(threads)].append(time.perf_counter() - start)
        out[f"{rows}x{cols}x{rounds}"] = times
    print(json.dumps(out))


def share_child(args: dict[str, Any]) -> None:
    """Two ``train_candidates`` calls (cold, warm) and one gate; print JSON timings."""
    import datetime as dt

    from devtools import sample_data
    from include.spec import load_spec
    from include.training import train_candidates

    spec = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
    frame = sample_data.training_frame(
        spec, dt.date(2026, 3, 1), args["days"], rows_per_day=args["rows_per_day"]
    )
    lineage = {"git_commit": "bench", "dag_run_id": "bench"}
    kwargs = {"spec": spec, "tracking_uri": args["uri"], "tuning_budget": args["budget"]}
    calls = []
    for label in ("cold", "warm"):
        result = train_candidates(frame, sample_data.FEATURES, lineage, **kwargs)
        calls.append({"call": label, **result["timings"]})
    from include.registry import evaluate_and_promote

    start = time.perf_counter()
    gate = evaluate_and_promote(
        result,
        spec=spec,
        tracking_uri=args["uri"],
        lock_dir=Path(args["lock_dir"]),
        raise_on_reject=False,
    )
    out = {
        "rows": len(frame),
        "features": len(sample_data.FEATURES),
        "budget": args["budget"],
        "calls": calls,
        "gate_s": round(time.perf_counter() - start, 3),
        "gate_decision": gate["decision"],
        "best": result["best"],
    }
    print(json.dumps(out))


def import_child(args: dict[str, Any]) -> None:
    """Seconds of ``import mlflow`` in a fresh process (the floor of a task's MLflow cost)."""
    start = time.perf_counter()
    import mlflow  # noqa: F401

    print(json.dumps({"import_mlflow_s": round(time.perf_counter() - start, 3)}))


def migrate_child(args: dict[str, Any]) -> None:
    """Create and migrate the SQLite MLflow (seconds; not part of any timing)."""
    from include.modeling import tracking
    from include.spec import load_spec

    tracking.configure(args["uri"])
    tracking.ensure_experiment(load_spec(REPO_ROOT / "usecase" / "fraud.yaml").name)
    print("{}")


# ------------------------------------------------------------------------------ section
def run(size: Size) -> dict[str, Any]:
    """Measure, print and return the training section (``figures`` holds the summary rows)."""
    sizes = SIZES[size]
    reps = sizes.reps
    shapes = {f"{r}x{c}x{n}": (r, c, n) for r, c, n in (sizes.big, sizes.small)}
    print(f"\n== Training: XGBoost threads, MLflow share ({size}) ==")
    # One fresh process per (round, policy), policies alternating: the machine's load drifts,
    # and OpenMP's default policy suffers most from it, so both must see the same drift.
    times: dict[str, dict[str, dict[str, list[float]]]] = {"project": {}, "default": {}}
    for _ in range(reps):
        for policy, per_shape in times.items():
            got = _child(
                "xgb_child", {"policy": policy, "shapes": list(shapes.values()), "reps": 1}, _env()
            )
            for key in shapes:
                for threads, seconds in got[key].items():
                    per_shape.setdefault(key, {}).setdefault(threads, []).extend(seconds)
    figures: list[Figure] = []
    ratios: dict[str, float] = {}
    for policy, label in (("project", "PASSIVE (project)"), ("default", "OpenMP default")):
        for key, (rows, cols, rounds) in shapes.items():
            one, two = times[policy][key]["1"], times[policy][key]["2"]
            t1, t2 = median(one), median(two)
            cells = rows * cols * rounds
            ratios[f"{policy}:{key}"] = t2 / t1
            runs = ", ".join(f"{b / a:.2f}" for a, b in zip(one, two, strict=True))
            print(
                f"  xgboost {key:<16} {label:<18} 1 thread {cells / t1 / 1e6:6.0f} M/s, "
                f"2 threads {cells / t2 / 1e6:6.0f} M/s, time 2t/1t {t2 / t1:.2f} "
                f"(median of {reps}; per run {runs})"
            )
    big_key, small_key = shapes
    figures += [
        Figure(
            "train",
            f"xgb 2t/1t time PASSIVE {big_key}",
            ratios[f"project:{big_key}"],
            "x",
            THREAD_RATIO_TARGET,
        ),
        Figure("train", f"xgb 2t/1t time default {big_key}", ratios[f"default:{big_key}"], "x"),
        Figure(
            "train",
            f"xgb 2t/1t PASSIVE {small_key} (gets 1t)",
            ratios[f"project:{small_key}"],
            "x",
            note="why include.training.threads gives small data one thread",
        ),
    ]

    import_s = _child("import_child", {}, _env())["import_mlflow_s"]
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        _child("migrate_child", {"uri": uri}, _env())
        share = _child(
            "share_child",
            {
                "uri": uri,
                "days": sizes.days,
                "rows_per_day": sizes.rows_per_day,
                "budget": sizes.budget,
                "lock_dir": str(Path(tmp) / "locks"),
            },
            _env(),
        )
    share["import_mlflow_s"] = import_s
    for call in share["calls"]:
        print(
            f"  train_candidates {share['rows']:,} rows x {share['features']} features, "
            f"budget {share['budget']}, {call['call']}: total {call['total_s']:.1f} s, "
            f"fit {call['fit_s']:.1f} s, MLflow {call['mlflow_s']:.2f} s "
            f"= {call['mlflow_share']:.1%} (target <= {SHARE_TARGET:.0%})"
        )
        figures.append(
            Figure(
                "train",
                f"MLflow share of train_candidates ({call['call']})",
                call["mlflow_share"],
                "x",
                SHARE_TARGET,
            )
        )
    cold, warm = share["calls"]
    print(
        f"  of the cold call's MLflow time, {cold['mlflow_s'] - warm['mlflow_s']:.2f} s is "
        f"once per process (`import mlflow` alone: {import_s:.2f} s; store and plotting set-up)"
    )
    print(
        f"  gate (register, score both, report, alias): {share['gate_s']:.2f} s, "
        f"{share['gate_decision']}"
    )
    return {"xgboost_s": times, "ratios": ratios, "mlflow_share": share, "figures": figures}
