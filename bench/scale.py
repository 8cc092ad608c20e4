"""Scale curve: each stage's wall time and peak RAM at 10k, 100k and 1M transactions a day.

```bash
python -m bench.scale                                  # 10k, 100k, 1M: ~40 min on 2 cores
python -m bench.scale --sizes 10000,100000 --only train
python -m bench.scale --sizes 1000000 --only train --max-training-rows 250000  # a sampled window
python -m bench.scale --smoke                          # 1,000 and 2,000 rows: the path, ~2 min
python -m bench.scale --merge a.json b.json            # one table from runs made apart
```

For each size, in order and never two at once, a scratch data root (``isolated_env``) gets
a simulated platform, then every stage runs as **one fresh child process** calling the same
function its DAG task calls (``include.steps.*``, ``include.scoring.batch``):

* **validate**: ``ingest.validate`` (read the CSV, GX suites, pseudonyms, evidence, staging)
  on day D's landed batch (N rows);
* **materialize**: ``materialize_features.compute_tables([D])`` (D's tables from the lake's
  H + 1 days);
* **online_load**: ``materialize_features.materialize_partitions([D])`` (the online store
  load of the rows stamped in D's window, ``materialize_overlap_days`` before D to D);
* **train**: ``train_model.build_training_set`` + ``train_model.train`` (XGBoost, one
  config) on the window's matured labelled rows (``--train-window``, default 3 days: one
  matured day, N rows);
* **score**: ``include.scoring.batch.score_partition(D, model)`` (model load included);
* **drift**: ``monitor_drift.measure`` on the one-day window D (``window_days`` 1): N scored
  rows against the champion's training set.

Timed in the child: the call alone (heavy imports are done first, untimed: a task pays
them once whatever the size); wall and CPU seconds. Peak RSS: ``ru_maxrss`` of that child
from ``os.wait4`` after it ends (imports included; the RSS after the imports is printed as
the baseline). Phases inside a call (the ``PHASES`` below) are timed by wrapping those
functions; they name the bottleneck.

The simulated platform (not timed): ``H`` history days (default 7) before D, published
straight into the lake in the validated layout (``coerce`` + pseudonyms, as ingest writes
it) with their profiles learned by ``ingest.learn``; every day's labels; D landed as CSV;
the history's feature tables computed and materialized. The spec is the bundled one with
``devtools.trained_platform.small_spec``'s model budget and label delays (maturity 2 days,
so a short history has matured labels), and a population scaled with the rows (the spec's
density: 2 transactions per customer and 25 per merchant a day), so a bigger day means more
entities, not busier ones. One 10-row events partition 40 days before the history makes
monitoring treat the platform as old (every feature past its warm-up, as in production).

At full size: the features' longest window is 30 days (+2 days of lateness), the training
window 28 days with a maturity of 7 (21 days of matured rows), the drift window 3 days; the
README says what each stage's input would be then. Output: a table on stdout and
``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, isolated_env

STAGES = ("validate", "materialize", "online_load", "train", "score", "drift")
# What each stage needs run before it (untimed when the stage itself is not measured).
_NEEDS = {
    "validate": [],
    "materialize": ["validate", "publish"],
    "online_load": ["validate", "publish", "materialize"],
    "train": ["validate", "publish", "materialize", "online_load"],
    "score": ["validate", "publish", "materialize", "online_load", "train", "gate"],
    "drift": ["validate", "publish", "materialize", "online_load", "train", "gate", "score"],
}
_ORDER = ("validate", "publish", "materialize", "online_load", "train", "gate", "score", "drift")
FIRST = date(2026, 10, 20)
HISTORY_DAYS = 7
# The training window in days up to D: with labels maturing after 2 days, 3 days hold one
# matured day (N labelled rows), so the fit sees the day's size; 1M rows a day with the whole
# history (6N) would take ~1 h here (README).
TRAIN_WINDOW_DAYS = 3
SPEC_ROWS, SPEC_CUSTOMERS, SPEC_MERCHANTS = 10_000, 5_000, 400  # usecase/fraud.yaml density
OLD_PARTITION_DAYS = 40  # the tiny partition that ends monitoring's warm-up (module doc)
RESULTS = REPO_ROOT / "bench" / "results" / "scale.json"
LINEAR = 1.15  # a growth exponent above this is worse than linear
# ``--smoke``: every stage's whole path at two tiny sizes; its figures mean nothing
# (tests/bench/test_scale_smoke.py runs it so the harness cannot rot). Its training window
# is the whole history (5 matured days): one day of 1,000 rows has too few frauds for the
# time split's parts (5 each), and 4 days of 2,000 too few in the holdout.
SMOKE_SIZES = "1000,2000"
SMOKE_TRAIN_WINDOW_DAYS = HISTORY_DAYS

# Functions timed inside each stage's call ("module:attr" or "module:Class.attr"): where
# the caller looks the name up, so the wrapper is what runs.
PHASES: dict[str, list[str]] = {
    "validate": [
        "include.data.batches:read_batch",
        "include.quality.validate:coerce",
        "include.quality.validate:_run_suite",
        "include.quality.validate:_build_evidence_docs",
        "include.privacy.pseudonym:Pseudonymiser.frame",
        "include.data.lake:neighbour_keys",
        "include.quality.validate:write_evidence",
        "include.data.lake:stage",
    ],
    "materialize": [
        "include.features.tables:PartitionCache.span",
        "include.features.shards:ShardedLake._split_events",
        "include.features.shards:ShardedLake._split_labels",
        "include.features.shards:_gather",
        "include.features.compute:view_stats",
        "include.features.tables:write_table",
    ],
    "online_load": [
        "feast.feature_store:FeatureStore.materialize",
        "include.features.online_store:GuardedSqliteOnlineStore.online_write_batch",
    ],
    "train": [
        "include.features.training_set:historical_features",
        "include.features.store:read_view",
        "include.features.training_set:_expected_as_of",
        "feast.infra.offline_stores.offline_store:RetrievalJob.to_df",
        "include.training.train:train_candidates",
        "include.training.xgb:fit",
    ],
    "score": [
        "include.scoring.batch:read_transactions",
        "include.scoring.batch:load_model",
        "include.scoring.batch:feature_stamps",
        "include.features.store:read_view",
        "include.scoring.batch:unscored_reasons",
        "include.features.training_set:historical_features",
        "feast.infra.offline_stores.offline_store:RetrievalJob.to_df",
        "include.scoring.batch:predict",
        "include.data.lake:to_parquet_bytes",
    ],
    "drift": [
        "include.monitoring.window:scored",
        "include.monitoring.reference:load",
        "include.monitoring.warmup:mask",
        "include.monitoring.reports:data_drift",
        "include.monitoring.reports:prediction_drift",
        "include.monitoring.reports:quality",
        "include.monitoring.outputs:write_reports",
        "include.monitoring.outputs:add_to_workspace",
    ],
}
# Imported before the clock starts: once per task process, whatever the size.
_WARM_IMPORTS = {
    "validate": ["great_expectations", "include.quality.validate", "include.steps.ingest"],
    "materialize": ["include.steps.materialize_features"],
    "online_load": ["feast", "include.features.online_store", "include.steps.materialize_features"],
    "train": ["feast", "mlflow", "include.training.train", "include.steps.train_model"],
    "score": ["feast", "mlflow", "include.scoring.batch", "include.registry.read"],
    "drift": ["evidently", "mlflow", "include.steps.monitor_drift", "include.registry.read"],
}


# --------------------------------------------------------------------------- the child side


def _day(history_days: int) -> date:
    return FIRST + timedelta(days=history_days)


def _run_id(step: str) -> str:
    return f"scale__{step}"


def _state(name: str) -> Path:
    return Path(os.environ["MLOPS_DATA_ROOT"]).parent / "state" / f"{name}.json"


def _save(name: str, value: Any) -> None:
    path = _state(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, default=str))


def _load(name: str) -> Any:
    return json.loads(_state(name).read_text())


def _publish_direct(frame: Any, feed_name: str, day: date, spec: Any) -> None:
    """Write ``frame`` as ``day``'s validated partition the way ingest leaves it (typed by
    ``coerce``, pii pseudonymised), then learn its profile (``ingest.learn``)."""
    from include import layout, storage
    from include.config import get_settings
    from include.data import lake
    from include.data.batches import coerce
    from include.privacy import pseudonym
    from include.steps import ingest

    settings = get_settings()
    feed = spec.feed(feed_name)
    typed = coerce(frame, feed)
    if feed.pii_columns:
        typed = pseudonym.for_platform(settings.lake_uri).frame(typed, feed.pii_columns)
    uri = layout.partition_uri(settings.lake_uri, feed_name, day)
    storage.write_bytes(uri, lake.to_parquet_bytes(typed))
    ingest.learn(feed_name, day, None, _run_id(f"setup_{feed_name}_{day}"))


def _setup(rows: int, history_days: int) -> dict[str, Any]:
    """The simulated platform of the module docstring (not a measurement)."""
    from devtools import simulator
    from include.spec import load_spec
    from include.steps import materialize_features

    spec = load_spec()
    events, labels_feed = spec.names.events_feed, spec.names.labels_feed
    # Each labels day regenerates the few transaction days before it: simulate each once
    # (one spec in this process, so the day and the row count are the key).
    simulate = simulator.simulate_day
    cached = functools.lru_cache(maxsize=6)(lambda d, n: simulate(spec, d, rows=n))
    simulator.simulate_day = lambda _spec, d, *, rows=None, drift=None: cached(d, rows)
    day = _day(history_days)
    history = [FIRST + timedelta(days=i) for i in range(history_days)]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    old = simulator.simulate_transactions(spec, FIRST - timedelta(days=OLD_PARTITION_DAYS), rows=10)
    _publish_direct(old, events, FIRST - timedelta(days=OLD_PARTITION_DAYS), spec)
    for d in [*history, day]:
        if d < day:
            _publish_direct(simulator.simulate_transactions(spec, d, rows=rows), events, d, spec)
        labels = simulator.simulate_labels(spec, d, rows=rows, since=FIRST)
        if len(labels):
            _publish_direct(labels, labels_feed, d, spec)
    simulator.land(spec, events, day, rows=rows)
    cached.cache_clear()  # ~1 GB a day at 1M rows: not held through the feature tables
    timings["lake_s"] = time.perf_counter() - start
    start = time.perf_counter()
    isodays = [d.isoformat() for d in history]
    materialize_features.compute_tables(isodays)
    materialize_features.apply_definitions()
    materialize_features.materialize_partitions(isodays)
    timings["history_features_s"] = time.perf_counter() - start
    return {"timings": timings}


def _validate(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import ingest

    day = _day(history_days).isoformat()
    summary = ingest.validate("transactions", day, _run_id("validate"))
    if not summary["success"]:
        raise RuntimeError(f"day {day} failed validation: {summary['failed_checks']}")
    _save("validate", summary)
    return {"rows_in": summary["row_count"], "warnings": summary["warnings"]}


def _publish(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import ingest

    return {"published": ingest.publish(_load("validate"))["feed"]}


def _materialize(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import materialize_features

    day = _day(history_days).isoformat()
    tables = materialize_features.compute_tables([day])
    return {"rows_in": sum(tables[day].values()), "table_rows": tables[day]}


def _online_load(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import materialize_features

    day = _day(history_days).isoformat()
    loaded = materialize_features.materialize_partitions([day])
    return {"loaded": loaded}


def _train(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import train_model

    window = int(os.environ.get("BENCH_SCALE_TRAIN_WINDOW", TRAIN_WINDOW_DAYS))
    t0 = time.perf_counter()
    training_set = train_model.build_training_set(window, _run_id("train"))
    t1 = time.perf_counter()
    trained = train_model.train(training_set, families=["xgboost"], tuning_budget=1)
    _save("train", trained)
    return {
        "rows_in": training_set["rows"],
        "positives": training_set["positives"],
        "window": training_set["lineage"]["data_partitions"],
        "sampled": training_set["lineage"].get("sampled", "-"),
        "build_training_set_s": t1 - t0,
        "train_s": time.perf_counter() - t1,
        "train_timings": trained["timings"],
    }


def _gate(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import train_model

    result = train_model.gate(_load("train"))
    if not result.get("promoted"):
        raise RuntimeError(f"the scale bench's model was not promoted: {result.get('reason')}")
    return {"version": result["version"]}


def _score(rows: int, history_days: int) -> dict[str, Any]:
    from include.scoring.batch import score_partition
    from include.scoring.model import ScoringModel, scoring_model

    model = ScoringModel(**dict(scoring_model()))
    summary = score_partition(_day(history_days).isoformat(), model)
    return {"rows_in": summary["rows"], "scored": summary["scored"]}


def _drift(rows: int, history_days: int) -> dict[str, Any]:
    from include.steps import monitor_drift

    run_day = _day(history_days) + timedelta(days=1)
    summary = monitor_drift.measure(run_day, {"window_days": 1}, _run_id("drift"))
    drift = summary["measured"].get("data_drift") or {}
    return {
        "rows_in": summary["current_rows"],
        "reference_rows": summary["reference_rows"],
        "judged_features": len(summary["judged_features"]),
        "sampled_from": drift.get("sampled_from"),
    }


_STEPS: dict[str, Callable[[int, int], dict[str, Any]]] = {
    "setup": _setup,
    "validate": _validate,
    "publish": _publish,
    "materialize": _materialize,
    "online_load": _online_load,
    "train": _train,
    "gate": _gate,
    "score": _score,
    "drift": _drift,
}


def _resolve(target: str) -> tuple[Any, str]:
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, attr = path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    return owner, attr


def _wrap_phases(targets: Sequence[str], totals: dict[str, list[float]]) -> None:
    """Replace each target by a wrapper adding its wall seconds and calls to ``totals``
    (re-entrant calls count once: the outermost)."""
    for target in targets:
        owner, attr = _resolve(target)
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        depth = [0]

        @functools.wraps(original)
        def wrapper(*args: Any, _f: Any = original, _k: str = target, _d=depth, **kwargs: Any):
            _d[0] += 1
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                _d[0] -= 1
                if _d[0] == 0:
                    entry = totals.setdefault(_k, [0.0, 0.0, 0])
                    entry[0] += time.perf_counter() - start
                    entry[1] += time.process_time() - cpu
                    entry[2] += 1

        setattr(owner, attr, wrapper)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(step: str, rows: int, history_days: int) -> None:
    """One step in this (fresh) process; its result JSON is the last line of stdout."""
    import logging
    import warnings

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    for name in _WARM_IMPORTS.get(step, []):
        importlib.import_module(name)
    totals: dict[str, list[float]] = {}
    _wrap_phases(PHASES.get(step, []), totals)
    baseline = _maxrss_mb()
    cpu, wall = time.process_time(), time.perf_counter()
    result = _STEPS[step](rows, history_days)
    result.update(
        wall_s=time.perf_counter() - wall,
        cpu_s=time.process_time() - cpu,
        baseline_rss_mb=baseline,
        phases={
            k: {"s": round(v[0], 3), "cpu_s": round(v[1], 3), "calls": v[2]}
            for k, v in totals.items()
        },
    )
    print(json.dumps(result, default=str))


# -------------------------------------------------------------------------- the parent side


def _spec(path: Path, rows: int, max_training_rows: int | None = None) -> Path:
    from devtools.trained_platform import small_spec

    scale = rows / SPEC_ROWS
    # --max-training-rows: the training set's cap (unset: the spec's default, 2M, which no
    # 3-day window here reaches), to measure a window that is sampled.
    cap = {} if max_training_rows is None else {"max_training_rows": max_training_rows}
    return small_spec(
        path,
        simulator={
            "rows_per_day": rows,
            "customers": max(100, round(SPEC_CUSTOMERS * scale)),
            "merchants": max(20, round(SPEC_MERCHANTS * scale)),
        },
        # The gate's single-row latency budget is judged on a busy machine, and one day of
        # 10k rows makes a weak first model: neither is measured here, the champion is needed.
        serving={"model_p99_ms": 1_000},
        model={"minimums": {"pr_auc": 0.0, "roc_auc": 0.0}, **cap},
    )


def _run_child(step: str, rows: int, history_days: int, env: dict[str, str], log: Path) -> dict:
    """Run one step in a fresh process; its result with the child's peak RSS and the load."""
    code = "import sys; from bench import scale; scale.child(sys.argv[1], *map(int, sys.argv[2:]))"
    load_before = os.getloadavg()
    loads: list[float] = []
    done = threading.Event()

    def sample() -> None:  # the 1-minute load average while the child runs
        while not done.wait(5.0):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n==== {step} ({rows:,} rows/day)\n")
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-c", code, step, str(rows), str(history_days)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
        )
        stdout = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.write(stdout)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f"{step} at {rows:,} rows failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(
        process_s=time.perf_counter() - started,
        peak_rss_mb=usage.ru_maxrss / 1024,
        load_before=[round(x, 2) for x in load_before],
        load_after=[round(x, 2) for x in os.getloadavg()],
        load_mean=round(sum(loads) / len(loads), 2) if loads else load_before[0],
        load_max=round(max(loads), 2) if loads else load_before[0],
    )
    return result


def run_size(
    rows: int,
    stages: Sequence[str],
    history_days: int,
    train_window: int,
    keep: bool,
    max_training_rows: int | None = None,
) -> dict[str, Any]:
    """Build the platform for ``rows`` a day and measure ``stages`` (one child each)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"mlops-bench-scale-{rows}-"))
    log = scratch / "children.log"
    env = isolated_env(scratch)
    env.update(
        MLOPS_USECASE_SPEC=str(_spec(scratch / "spec.yaml", rows, max_training_rows)),
        MLFLOW_TRACKING_URI=f"sqlite:///{scratch / 'data' / 'mlflow' / 'mlflow.db'}",
        OMP_WAIT_POLICY="PASSIVE",
        BENCH_SCALE_TRAIN_WINDOW=str(train_window),
    )
    (scratch / "data" / "mlflow").mkdir(parents=True)
    steps = [s for s in _ORDER if s in stages or any(s in _NEEDS[m] for m in stages)]
    out: dict[str, Any] = {
        "rows": rows,
        "history_days": history_days,
        "train_window_days": train_window,
        "max_training_rows": max_training_rows,
        "scratch": str(scratch),
    }
    try:
        print(f"\n-- {rows:,} rows a day: setting up (history {history_days} days)", flush=True)
        out["setup"] = _run_child("setup", rows, history_days, env, log)
        print(f"   set up in {out['setup']['process_s']:.0f} s", flush=True)
        for step in steps:
            measured = step in stages
            result = _run_child(step, rows, history_days, env, log)
            out[step] = {**result, "measured": measured}
            if measured:
                print(
                    f"   {step:<12} {result['wall_s']:8.1f} s  peak RSS "
                    f"{result['peak_rss_mb']:7.0f} MB  (load {result['load_mean']:.1f}, "
                    f"max {result['load_max']:.1f})",
                    flush=True,
                )
    finally:
        out["log_tail"] = log.read_text()[-4000:] if log.exists() else ""
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def exponent(t1: float, t2: float, n1: int, n2: int) -> float | None:
    """The growth exponent k of t ~ n^k between two sizes (None without positive times)."""
    if t1 <= 0 or t2 <= 0 or n1 == n2:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def table(results: list[dict[str, Any]], stages: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (stage, size): seconds, peak RSS, s per 100k rows, exponent from the
    previous size (time and RSS above the post-import baseline)."""
    rows_out = []
    for stage in stages:
        previous: dict[str, Any] | None = None
        for res in sorted(results, key=lambda r: r["rows"]):
            got = res.get(stage)
            if not got:
                continue
            n = res["rows"]
            row = {
                "stage": stage,
                "rows_per_day": n,
                "seconds": round(got["wall_s"], 2),
                "cpu_s": round(got["cpu_s"], 2),
                "peak_rss_mb": round(got["peak_rss_mb"]),
                "baseline_rss_mb": round(got["baseline_rss_mb"]),
                "s_per_100k": round(got["wall_s"] / n * 100_000, 3),
                "exponent": None,
                "cpu_exponent": None,
                "rss_exponent": None,
                "rows_in": got.get("rows_in"),
                "load": got.get("load_mean", got["load_before"][0]),
                "load_max": got.get("load_max"),
                "phases": got.get("phases", {}),
            }
            if previous is not None:
                k = exponent(previous["seconds"], row["seconds"], previous["rows_per_day"], n)
                row["exponent"] = None if k is None else round(k, 2)
                k = exponent(previous["cpu_s"], row["cpu_s"], previous["rows_per_day"], n)
                row["cpu_exponent"] = None if k is None else round(k, 2)
                grow_prev = previous["peak_rss_mb"] - previous["baseline_rss_mb"]
                grow = row["peak_rss_mb"] - row["baseline_rss_mb"]
                k = exponent(grow_prev, grow, previous["rows_per_day"], n)
                row["rss_exponent"] = None if k is None else round(k, 2)
            rows_out.append(row)
            previous = row
    return rows_out


def rss_at(rows: list[dict[str, Any]], stage: str, target: int) -> float | None:
    """Peak RSS at ``target`` rows a day, linear through the stage's two largest sizes."""
    got = sorted((r for r in rows if r["stage"] == stage), key=lambda r: r["rows_per_day"])
    if len(got) < 2:
        return None
    a, b = got[-2], got[-1]
    slope = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (b["rows_per_day"] - a["rows_per_day"])
    return b["peak_rss_mb"] + slope * (target - b["rows_per_day"])


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'stage':<12}{'rows/day':>10}{'seconds':>10}{'CPU s':>9}{'peak RSS MB':>13}"
    head += f"{'base MB':>9}{'s/100k':>9}{'exp t':>7}{'exp CPU':>9}{'exp RSS':>9}{'load':>6}"
    print("\n" + head)
    for r in rows:
        exp, cexp, rexp = (
            "" if r[k] is None else f"{r[k]:.2f}"
            for k in ("exponent", "cpu_exponent", "rss_exponent")
        )
        print(
            f"{r['stage']:<12}{r['rows_per_day']:>10,}{r['seconds']:>10.1f}{r['cpu_s']:>9.1f}"
            f"{r['peak_rss_mb']:>13,}{r['baseline_rss_mb']:>9,}{r['s_per_100k']:>9.2f}"
            f"{exp:>7}{cexp:>9}{rexp:>9}{r['load']:>6.1f}"
        )
    print("\nslowest phases of each measurement, wall s (CPU s); load: mean 1-min load average")
    for r in rows:
        top = sorted(r["phases"].items(), key=lambda kv: -kv[1]["s"])[:3]
        names = ", ".join(
            f"{k.rsplit(':', 1)[-1]} {v['s']:.1f} (CPU {v.get('cpu_s', 0):.1f})" for k, v in top
        )
        print(f"  {r['stage']:<12}{r['rows_per_day']:>10,}  {names}")


def merged(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The runs of earlier results files as one list, one run per size: a stage measured at a
    size in a later file replaces the earlier file's (a stage re-measured after a fix)."""
    by_rows: dict[int, dict[str, Any]] = {}
    for path in paths:
        for run in json.loads(path.read_text())["runs"]:
            if "error" in run:
                continue
            into = by_rows.setdefault(run["rows"], {})
            for name, value in run.items():
                if name in STAGES:
                    if value.get("measured"):
                        into[name] = value
                elif name not in into:
                    into[name] = value
    return [by_rows[n] for n in sorted(by_rows)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="rows a day, comma-separated"
    )
    parser.add_argument("--only", choices=STAGES, action="append", help="measure this stage only")
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS, help="days before D")
    parser.add_argument(
        "--train-window", type=int, help=f"training window, days (default {TRAIN_WINDOW_DAYS})"
    )
    parser.add_argument(
        "--max-training-rows",
        type=int,
        help="the spec's model.max_training_rows (default: the spec's, 2M): a cap that bites",
    )
    parser.add_argument(
        "--smoke", action="store_true", help=f"sizes {SMOKE_SIZES}: the path only (a test)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON (default {RESULTS})")
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="measure nothing: the table of these results files"
    )
    args = parser.parse_args(argv)
    if args.train_window is None:
        args.train_window = SMOKE_TRAIN_WINDOW_DAYS if args.smoke else TRAIN_WINDOW_DAYS
    sizes = sorted(int(s) for s in (SMOKE_SIZES if args.smoke else args.sizes).split(","))
    stages = list(args.only or STAGES)
    results = []
    if args.merge:
        results = merged(args.merge)
        stages = [s for s in stages if any(s in r for r in results)]
    for rows in [] if args.merge else sizes:  # one size at a time, never sharing the machine
        try:
            results.append(
                run_size(
                    rows,
                    stages,
                    args.history_days,
                    args.train_window,
                    args.keep,
                    args.max_training_rows,
                )
            )
        except RuntimeError as exc:
            print(f"   FAILED: {exc}", flush=True)
            results.append({"rows": rows, "error": str(exc)})
    ok = [r for r in results if "error" not in r]
    rows = table(ok, stages)
    print_table(rows)
    at_10m = {s: rss_at(rows, s, 10_000_000) for s in stages}
    print("\npeak RSS at 10M rows a day (linear through the two largest sizes), MB:")
    for stage, mb in at_10m.items():
        print(f"  {stage:<12} {'-' if mb is None else f'{mb:,.0f}'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "smoke": args.smoke,
                "merged_from": [str(p) for p in args.merge or []],
                "cpus": os.cpu_count(),
                "history_days": args.history_days,
                "train_window_days": args.train_window,
                "table": rows,
                "rss_10m_mb": at_10m,
                "runs": results,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwritten: {args.out}")
    return 1 if len(ok) < len(results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
