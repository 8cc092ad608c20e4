"""``python -m bench.compare``: a results JSON against the committed baseline, figure by figure.

The harness measures and never judges; this is the regression watch on top of it. The rule is
the harness's: only a ratio taken within one run is compared (unit ``x``: a cost over its
floor measured beside it, 2 threads over 1, MLflow's share, a quality over its holdout), since
both of its sides see the same machine load. Absolute figures (seconds, rows/s, also when they
have a target: ``value / target`` of a time is that time scaled by a constant) move with the
load of a shared machine; they are listed for information only. A baseline entry can change
that (``"compare": true`` or ``false``), and its ``tolerance``.

A compared figure got worse when it moved the wrong way (``better``: lower or higher) by more
than its tolerance, as a factor: ``value / baseline > 1 + tolerance`` (the inverse for
higher-is-better). Exit code 1 if any did, or if the results record a crashed section; 0
otherwise. A figure missing on either side is reported, never a failure (``--only`` runs,
renamed figures).

    python -m bench.compare [results.json] [--baseline bench/baseline.json]
    python -m bench.compare results.json --write-baseline --note "quick, 2-core dev machine"

``--write-baseline`` makes the baseline from the results (their figures and run metadata),
keeping the ``tolerance``/``compare``/``why`` a reviewer set on figures of the old one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, better_by_unit, fmt

BASELINE = REPO_ROOT / "bench" / "baseline.json"
RESULTS = REPO_ROOT / "bench" / "results" / "latest.json"
DEFAULT_TOLERANCE = 0.25
OVERRIDES = ("tolerance", "compare", "why")  # what a reviewer sets by hand on a figure
META_KEYS = ("commit", "started", "size", "cpus", "python", "platform", "wall_s", "versions")


@dataclass(frozen=True)
class Row:
    """One figure's comparison. ``worse_by``: the factor it moved the wrong way (> 1 worse)."""

    key: str
    status: str  # worse, ok, better, info, not finite, only in baseline, only in results
    value: float | None = None
    baseline: float | None = None
    unit: str = ""
    tolerance: float | None = None
    worse_by: float | None = None


def figure_key(figure: Mapping[str, Any]) -> str:
    return f"{figure['section']}: {figure['name']}"


def figures_of(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A results file's summary rows by key."""
    return {figure_key(f): dict(f) for f in results.get("summary", [])}


def _worse_by(value: float, base: float, better: str) -> float:
    """How many times worse ``value`` is than ``base`` (1: the same; below 1: better)."""
    worse, good = (value, base) if better == "lower" else (base, value)
    if good == 0:
        return 1.0 if worse == 0 else math.inf
    return worse / good


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def compare(results: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Row]:
    """Every figure of either side, compared where both have it (see the module docstring)."""
    got = figures_of(results)
    base: Mapping[str, Mapping[str, Any]] = baseline.get("figures", {})
    default = float(baseline.get("default_tolerance", DEFAULT_TOLERANCE))
    rows = [
        Row(key, "only in baseline", baseline=b.get("value"), unit=b.get("unit", ""))
        for key, b in base.items()
    ]
    rows = [r for r in rows if r.key not in got]
    for key, fig in got.items():
        if key not in base:
            rows.append(Row(key, "only in results", value=fig.get("value"), unit=fig["unit"]))
            continue
        b = base[key]
        value, ref, unit = fig.get("value"), b.get("value"), fig["unit"]
        tolerance = float(b.get("tolerance", default))
        if not b.get("compare", unit == "x"):
            rows.append(Row(key, "info", value, ref, unit))
        elif not _finite(value) or not _finite(ref):
            rows.append(Row(key, "not finite", value, ref, unit, tolerance))
        else:
            better = b.get("better") or fig.get("better") or better_by_unit(unit)
            factor = _worse_by(float(value), float(ref), better)
            status = "worse" if factor > 1 + tolerance else "ok"
            if factor < 1 / (1 + tolerance):
                status = "better"
            rows.append(Row(key, status, value, ref, unit, tolerance, factor))
    return rows


def failed(rows: Sequence[Row], results: Mapping[str, Any]) -> bool:
    """A figure worse beyond its tolerance (or no longer a number), or a crashed section."""
    return bool(results.get("errors")) or any(r.status in ("worse", "not finite") for r in rows)


def _num(value: float | None, unit: str) -> str:
    if not _finite(value):
        return str(value) if value is not None else "-"
    return f"{value:.3g}x" if unit == "x" else fmt(float(value), unit)


def _change(worse_by: float) -> str:
    if math.isinf(worse_by):
        return "worse (from zero)"
    if worse_by >= 1:
        return f"{(worse_by - 1) * 100:.0f} % worse"
    return f"{(1 - worse_by) * 100:.0f} % better"


def render(
    rows: Sequence[Row],
    results: Mapping[str, Any],
    baseline: Mapping[str, Any],
    info: bool = False,
) -> str:
    """The report: run identities, worse figures first, then the rest by kind (the
    information-only figures as a count unless ``info``)."""
    rm, bm = results.get("meta", {}), baseline.get("meta", {})
    lines = [
        f"results:  commit {rm.get('commit')}, {rm.get('size')} run, {rm.get('started')}",
        f"baseline: commit {bm.get('commit')}, {bm.get('size')} run, {bm.get('started')}"
        + (f" ({baseline['note']})" if baseline.get("note") else ""),
    ]
    if rm.get("size") != bm.get("size"):
        lines.append("NOTE: the runs differ in size; figures of the same name are not alike")
    for section, error in results.get("errors", {}).items():
        lines.append(f"CRASHED  {section}: {error}")
    order = ("worse", "not finite", "better", "ok", "info", "only in results", "only in baseline")
    for status in order:
        group = [r for r in rows if r.status == status]
        if not group:
            continue
        if status == "info" and not info:
            lines.append(
                f"-- info ({len(group)}): absolute figures, not compared (--info lists them)"
            )
            continue
        lines.append(f"-- {status} ({len(group)})")
        for r in sorted(group, key=lambda r: r.key):
            change = ""
            if r.worse_by is not None:
                change = f"  {_change(r.worse_by)} (tolerance {r.tolerance:.0%})"
            lines.append(
                f"  {r.key:<62} {_num(r.baseline, r.unit):>11} -> {_num(r.value, r.unit):<11}"
                f"{change}"
            )
    worse = sum(r.status in ("worse", "not finite") for r in rows)
    crashed = len(results.get("errors", {}))
    lines.append(
        f"{worse} figure(s) worse beyond tolerance, {crashed} crashed section(s): "
        + ("REGRESSION" if failed(rows, results) else "no regression")
    )
    return "\n".join(lines)


def make_baseline(
    results: Mapping[str, Any], previous: Mapping[str, Any] | None, note: str
) -> dict[str, Any]:
    """A baseline from a results file, keeping the hand-set overrides of ``previous``."""
    if results.get("errors"):
        raise ValueError(f"the results have crashed sections {sorted(results['errors'])}")
    old = (previous or {}).get("figures", {})
    figures = {}
    for key, fig in figures_of(results).items():
        entry = {k: fig.get(k) for k in ("value", "unit", "target", "better")}
        entry.update({k: old[key][k] for k in OVERRIDES if k in old.get(key, {})})
        figures[key] = entry
    return {
        "note": note or (previous or {}).get("note", ""),
        "meta": {k: results.get("meta", {}).get(k) for k in META_KEYS},
        "default_tolerance": (previous or {}).get("default_tolerance", DEFAULT_TOLERANCE),
        "figures": figures,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("results", type=Path, nargs="?", default=RESULTS)
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument(
        "--write-baseline", action="store_true", help="write the baseline from the results"
    )
    parser.add_argument("--note", default="", help="with --write-baseline: machine, load, why")
    parser.add_argument("--info", action="store_true", help="list the absolute figures too")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    previous = json.loads(args.baseline.read_text()) if args.baseline.exists() else None
    if args.write_baseline:
        baseline = make_baseline(results, previous, args.note)
        args.baseline.write_text(json.dumps(baseline, indent=2) + "\n")
        print(f"wrote {args.baseline}: {len(baseline['figures'])} figures")
        return 0
    if previous is None:
        print(f"no baseline at {args.baseline}", file=sys.stderr)
        return 2
    rows = compare(results, previous)
    print(render(rows, results, previous, args.info))
    return 1 if failed(rows, results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
