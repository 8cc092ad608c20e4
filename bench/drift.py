"""Drift computation (``include.monitoring.reports.data_drift``) against a scipy floor.

The issue's target: drift on 100k current rows x the model's 18 features against a 100k
reference in <= 5 CPU-s and <= 5x a per-column scipy floor measured in the same run;
sampling is allowed if the report says so.

Data (seeded, not timed): the model's features (``include.features.schema.model_features``
of the bundled spec) with the shapes they have in production, by what the spec says each
is (:func:`shapes`: an aggregation's function, source and stamps, a request transform's
function): Poisson counts, log-normal means (a fifth of the standard deviations zero:
one-transaction entities), Beta shares and label rates, an hour-of-day profile. The current
window shifts the longest-window column of each :data:`SHIFTABLE` kind (with the bundled
spec: amounts x1.5, a busier online share, twice the merchant fraud rate, wider amount
ratios, a night-time hour profile) and draws the others from the reference's distribution.

Timed, in this process, after one untimed warm-up on 1,000 rows (Evidently's first-use
costs); CPU seconds (``time.process_time``, every thread of the process) and wall:

* **project**: ``reports.data_drift(reference, current, features, spec.monitoring)``, the
  production call: the spec's method (normed Wasserstein), threshold and ``max_rows``
  (50,000: each side is sampled, seeded, and the summary's ``sampled_from`` says so);
* **project, unsampled**: the same with ``max_rows=100_000`` (no sampling);
* **save_html**: the production run's snapshot to a self-contained HTML file, as
  ``include.monitoring.outputs.write_reports`` does;
* **floor**: ``scipy.stats.wasserstein_distance`` per column divided by the reference's
  standard deviation (floored at 0.001), what Evidently's ``wasserstein`` computes, on all
  100k rows of every column, drifted at >= the threshold.

The Evidently import is measured apart in a fresh process (it happens once per task).
Sanity lines: the drifted columns of each project run against the floor's (they must
agree) and the largest per-column score difference (0 up to rounding without sampling).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import REPO_ROOT, Figure, Size, fmt, median, size_from_argv

ROWS = 100_000
# size -> (rows of each window, reps). A smoke run's windows are smaller than the spec's
# max_rows, so its max_rows is lowered to half of them: the sampled path still runs.
SIZES: dict[Size, tuple[int, int]] = {"smoke": (4_000, 1), "quick": (ROWS, 1), "default": (ROWS, 3)}
SEED = 20_261_201
TARGET_CPU_S = 5.0
TARGET_RATIO = 5.0
# Kinds of feature the current window moves (its longest-window column of each kind): the
# amount-like means x1.5, a busier share, a label rate twice as high, wider request ratios,
# a night-time hour profile (see the module docstring).
SHIFTABLE = ("mean", "share", "rate", "request_ratio", "hour")
_DAY_PROFILE = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 9, 8, 8, 8, 8, 8, 7, 6, 4, 3, 2], dtype=float
)
_NIGHT_PROFILE = np.roll(_DAY_PROFILE, 10)


@dataclass(frozen=True)
class Shape:
    """What a model feature is, from the spec: its kind (below) and window in days."""

    kind: str  # count | volume | label_count | mean | std | share | distinct | rate |
    # request_ratio | hour | other
    window: int = 0


def _aggregate_kind(function: str, source: str, stamps: str) -> str:
    if source == "labels":  # counted by label time: how many labels, the outcome's rate
        return {"count": "label_count", "mean": "rate", "ratio": "rate"}.get(function, "other")
    if function == "count":  # a per-event entity's own history, or a daily entity's volume
        return "count" if stamps == "per_event" else "volume"
    kinds = {"mean": "mean", "std": "std", "ratio": "share", "distinct_count": "distinct"}
    return kinds.get(function, "other")


def shapes(fspec: Any) -> dict[str, Shape]:
    """Each model feature of the feature plan ``fspec`` -> its :class:`Shape`."""
    out = {
        a.feature: Shape(_aggregate_kind(a.function, a.source, v.stamps), a.window)
        for v in fspec.views
        for a in v.aggregates
    }
    request = {"ratio": "request_ratio", "hour_of_day": "hour"}
    out.update({r.name: Shape(request.get(r.function, "other")) for r in fspec.request})
    return out


@functools.cache
def bundled_shapes() -> dict[str, Shape]:
    """:func:`shapes` of the bundled spec (the one the section measures)."""
    from include.features import schema
    from include.spec import load_spec

    return shapes(schema.feature_spec(load_spec(REPO_ROOT / "usecase" / "fraud.yaml")))


def shifted_columns(columns: list[str], kinds: Mapping[str, Shape]) -> list[str]:
    """Of ``columns``, the longest-window one of each :data:`SHIFTABLE` kind (first on a tie)."""
    best: dict[str, str] = {}
    for name in columns:
        shape = kinds.get(name, Shape("other"))
        if shape.kind in SHIFTABLE and (
            shape.kind not in best or shape.window > kinds[best[shape.kind]].window
        ):
            best[shape.kind] = name
    return [c for c in columns if c in best.values()]


def _column(shape: Shape, rng: np.random.Generator, n: int, shifted: bool) -> np.ndarray:
    """One feature's values, shaped like the feature the spec says it is."""
    kind, window = shape.kind, shape.window
    if kind == "count":
        return rng.poisson(0.8 * window + 1, n).astype("float64")
    if kind == "mean":
        return rng.lognormal(3.6 + (0.4 if shifted else 0.0), 0.9, n)
    if kind == "std":
        return np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(3.0, 1.0, n))
    if kind == "share":
        return rng.beta(3.0, 2.0, n) if shifted else rng.beta(2.0, 3.0, n)
    if kind == "distinct":
        return rng.poisson(12, n).astype("float64")
    if kind == "volume":
        return rng.negative_binomial(5, 0.02, n).astype("float64")
    if kind == "rate":
        return rng.beta(1.0, 40.0 if shifted else 80.0, n)
    if kind == "label_count":
        return rng.poisson(40, n).astype("float64")
    if kind == "request_ratio":
        return rng.lognormal(0.0, 0.9 if shifted else 0.6, n)
    if kind == "hour":
        profile = _NIGHT_PROFILE if shifted else _DAY_PROFILE
        return rng.choice(24, n, p=profile / profile.sum()).astype("float64")
    return rng.normal(0.0, 1.0, n) + (1.0 if shifted else 0.0)  # a kind without a shape here


def frames(
    columns: list[str],
    rows: int,
    seed: int = SEED,
    kinds: Mapping[str, Shape] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(reference, current, the columns shifted in current), seeded; ``kinds``: the
    columns' shapes (default: the bundled spec's)."""
    kinds = bundled_shapes() if kinds is None else kinds
    rng = np.random.default_rng(seed)
    shifted = shifted_columns(columns, kinds)
    other = Shape("other")
    reference = pd.DataFrame({c: _column(kinds.get(c, other), rng, rows, False) for c in columns})
    current = pd.DataFrame(
        {c: _column(kinds.get(c, other), rng, rows, c in shifted) for c in columns}
    )
    return reference, current, shifted


def floor_scores(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> dict:
    """Normed Wasserstein per column, as Evidently's ``wasserstein`` stattest defines it."""
    from scipy.stats import wasserstein_distance

    out = {}
    for c in columns:
        ref, cur = reference[c].to_numpy(), current[c].to_numpy()
        out[c] = float(wasserstein_distance(ref, cur)) / max(float(np.std(ref)), 0.001)
    return out


def _timed(fn: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def import_cost() -> dict[str, float]:
    """Evidently's import in a fresh process (CPU and wall of the import alone)."""
    code = (
        "import json, time\n"
        "c, w = time.process_time(), time.perf_counter()\n"
        "from evidently import DataDefinition, Dataset, Report\n"
        "from evidently.presets import DataDriftPreset\n"
        "print(json.dumps({'cpu_s': time.process_time() - c, 'wall_s': time.perf_counter() - w}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _agreement(label: str, project: dict[str, Any], floor: dict[str, float], threshold: float):
    floor_drifted = sorted(c for c, s in floor.items() if s >= threshold)
    got = project["drifted_columns"]
    diffs = [abs(v["score"] - floor[c]) for c, v in project["columns"].items()]
    return {
        "label": label,
        "agree": got == floor_drifted,
        "project_drifted": got,
        "floor_drifted": floor_drifted,
        "max_score_diff": max(diffs) if diffs else 0.0,
        "sampled_from": project["sampled_from"],
    }


def measure(columns: list[str], rows: int, reps: int, mon: Any) -> dict[str, Any]:
    """Time the project's drift (sampled as the spec says, and unsampled), save_html and the
    floor, interleaved ``reps`` times; returns every timing and the sanity comparisons."""
    from include.monitoring import reports

    if mon.drift_method != "wasserstein":
        raise ValueError(f"the floor is normed Wasserstein; the spec says {mon.drift_method!r}")
    reference, current, shifted = frames(columns, rows)
    unsampled = dataclasses.replace(mon, max_rows=max(rows, mon.max_rows))
    warm_ref, warm_cur, _ = frames(columns, 1_000, seed=SEED + 1)
    reports.data_drift(warm_ref, warm_cur, columns, mon)  # untimed: first-use costs
    timings: dict[str, list[float]] = {
        k: []
        for k in (
            "project_cpu_s",
            "project_wall_s",
            "unsampled_cpu_s",
            "unsampled_wall_s",
            "html_cpu_s",
            "html_wall_s",
            "floor_cpu_s",
            "floor_wall_s",
        )
    }
    html_bytes = 0
    with tempfile.TemporaryDirectory(prefix="mlops-bench-drift-") as tmp:
        html = Path(tmp) / "data_drift.html"
        for _ in range(reps):  # interleaved: machine noise hits every side alike
            project, cpu, wall = _timed(
                lambda: reports.data_drift(reference, current, columns, mon)
            )
            timings["project_cpu_s"].append(cpu)
            timings["project_wall_s"].append(wall)
            _, cpu, wall = _timed(lambda p=project: p.snapshot.save_html(str(html)))
            timings["html_cpu_s"].append(cpu)
            timings["html_wall_s"].append(wall)
            html_bytes = html.stat().st_size
            full, cpu, wall = _timed(
                lambda: reports.data_drift(reference, current, columns, unsampled)
            )
            timings["unsampled_cpu_s"].append(cpu)
            timings["unsampled_wall_s"].append(wall)
            floor, cpu, wall = _timed(lambda: floor_scores(reference, current, columns))
            timings["floor_cpu_s"].append(cpu)
            timings["floor_wall_s"].append(wall)
        # The same two calls with the BLAS/OpenMP pools held to one thread: idle pool threads
        # spin after each call and count as process CPU; this shows how much of it is that.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            _, pinned_project, _ = _timed(
                lambda: reports.data_drift(reference, current, columns, mon)
            )
            _, pinned_floor, _ = _timed(lambda: floor_scores(reference, current, columns))
    threshold = mon.drift_threshold
    return {
        "rows": rows,
        "columns": len(columns),
        "reps": reps,
        "max_rows": mon.max_rows,
        "shifted": shifted,
        **timings,
        "pinned_project_cpu_s": pinned_project,
        "pinned_floor_cpu_s": pinned_floor,
        "html_bytes": html_bytes,
        "floor_scores": {c: round(s, 6) for c, s in floor.items()},
        "project_summary": {k: v for k, v in project.summary.items() if k != "columns"},
        "sanity": [
            _agreement("project (spec max_rows)", project.summary, floor, threshold),
            _agreement("project unsampled", full.summary, floor, threshold),
        ],
    }


def run(size: Size) -> dict[str, Any]:
    """Measure, print and return the drift section (``figures``: summary rows)."""
    from include.features import schema
    from include.spec import load_spec

    spec = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
    mon = spec.monitoring
    columns = schema.model_features(schema.feature_spec(spec))
    n_rows, reps = SIZES[size]
    if mon.max_rows >= n_rows:
        mon = dataclasses.replace(mon, max_rows=n_rows // 2)
    print(
        f"\n== Drift: {n_rows:,} current x {len(columns)} features vs a {n_rows:,}-row reference, "
        f"{mon.drift_method} >= {mon.drift_threshold} (median of {reps}) =="
    )
    imported = import_cost()
    got = measure(columns, n_rows, reps, mon)
    m = {k: median(v) for k, v in got.items() if k.endswith("_s") and isinstance(v, list)}
    floor_cpu = m["floor_cpu_s"]
    sampled = got["project_summary"]["sampled_from"]
    rows = [
        (f"project: data_drift (max_rows {mon.max_rows:,})", "project"),
        (f"project: data_drift unsampled ({n_rows:,})", "unsampled"),
        ("project: snapshot.save_html", "html"),
        ("floor: scipy wasserstein / std, per column", "floor"),
    ]
    for label, key in rows:
        cpu, wall = m[f"{key}_cpu_s"], m[f"{key}_wall_s"]
        ratio = f"{cpu / floor_cpu:6.2f}x floor" if key != "floor" else ""
        print(f"  {label:<46} CPU {fmt(cpu, 's'):>9}  wall {fmt(wall, 's'):>9}  {ratio}")
    pinned = got["pinned_project_cpu_s"] / got["pinned_floor_cpu_s"]
    print(
        f"  BLAS/OpenMP pools at 1 thread: data_drift CPU {fmt(got['pinned_project_cpu_s'], 's')}, "
        f"floor CPU {fmt(got['pinned_floor_cpu_s'], 's')}, {pinned:.2f}x floor (idle pool threads "
        "spin and count as CPU above)"
    )
    print(
        f"  evidently import (fresh process, once per task): CPU {fmt(imported['cpu_s'], 's')}, "
        f"wall {fmt(imported['wall_s'], 's')}; HTML report {got['html_bytes'] / 1e6:.1f} MB"
    )
    print(
        f"  sampled: {'yes' if any(sampled.values()) else 'no'} "
        f"(reference from {sampled['reference']}, current from {sampled['current']}); "
        f"shifted columns: {', '.join(got['shifted'])}"
    )
    for s in got["sanity"]:
        verdict = "AGREE" if s["agree"] else "DISAGREE"
        print(
            f"  {verdict:<8} {s['label']:<26} drifted {len(s['project_drifted'])} "
            f"vs floor {len(s['floor_drifted'])}, max |score - floor| {s['max_score_diff']:.2g}"
        )
    shape = f"{n_rows // 1000}k x {len(columns)}"
    return {
        **got,
        "import": imported,
        "medians": m,
        "figures": [
            Figure(
                "drift",
                f"data_drift {shape} (spec max_rows), CPU",
                m["project_cpu_s"],
                "s",
                TARGET_CPU_S,
                note=f"sampled from {sampled}",
            ),
            Figure(
                "drift",
                "data_drift (spec max_rows) / scipy floor",
                m["project_cpu_s"] / floor_cpu,
                "x",
                TARGET_RATIO,
            ),
            Figure(
                "drift",
                f"data_drift {shape} unsampled, CPU",
                m["unsampled_cpu_s"],
                "s",
                TARGET_CPU_S,
            ),
            Figure(
                "drift",
                "data_drift unsampled / scipy floor",
                m["unsampled_cpu_s"] / floor_cpu,
                "x",
                TARGET_RATIO,
            ),
            Figure("drift", "data_drift / floor, pools at 1 thread", pinned, "x", TARGET_RATIO),
            Figure("drift", "scipy floor, CPU", floor_cpu, "s"),
            Figure("drift", "snapshot.save_html, CPU", m["html_cpu_s"], "s"),
            Figure("drift", "evidently import (fresh process), CPU", imported["cpu_s"], "s"),
        ],
    }


if __name__ == "__main__":
    run(size_from_argv(sys.argv))
