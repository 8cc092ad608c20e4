"""``python -m bench``: run the benchmark sections, print them and a summary, save JSON.

Options: ``--quick`` (100k rows instead of 1M, 3 fresh-process reps instead of 5) and
``--only <section>`` (parse, gx, materialize, training, scoring, online, serving,
drift, staleness).
Everything runs in a scratch folder that is deleted at the end; the
summary goes to ``bench/results/latest.json`` (gitignored). Figures are printed next to
their targets; the harness never judges them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import (
    QUIET_AIRFLOW,
    REPO_ROOT,
    Figure,
    apply_env,
    fmt,
    isolated_env,
    quiet_logs,
)

RESULTS = REPO_ROOT / "bench" / "results" / "latest.json"
SECTIONS = (
    "parse",
    "gx",
    "materialize",
    "training",
    "scoring",
    "online",
    "serving",
    "drift",
    "staleness",
)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure DAG parse cost, GX validation, Feast materialization, "
        "training and batch scoring against their floors.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="100k rows instead of 1M, 3 reps instead of 5"
    )
    parser.add_argument("--only", choices=SECTIONS, help="run one section only")
    parser.add_argument("--rows", type=int, help="rows of the GX batch (overrides --quick)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON path (default {RESULTS})")
    return parser.parse_args(argv)


def _meta(args: argparse.Namespace, rows: int, fresh_reps: int) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    versions = {}
    for dist in ("apache-airflow", "great-expectations", "pandas", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "only": args.only,
        "rows": rows,
        "fresh_reps": fresh_reps,
        "versions": versions,
    }


def _summary(figures: list[Figure]) -> str:
    header = f"{'section':<7} {'figure':<48} {'value':>10} {'target':>12} {'of target':>10}"
    lines = ["", "== summary (value / target: below 1 is inside the target) ==", header]
    lines.append("-" * len(header))
    for f in figures:
        target = f"<= {fmt(f.target, f.unit)}" if f.target is not None else ""
        of = f"{f.of_target:.2f}" if f.of_target is not None else ""
        lines.append(
            f"{f.section:<7} {f.name:<48} {fmt(f.value, f.unit):>10} {target:>12} {of:>10}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    fresh_reps = 3 if args.quick else 5
    warm_reps = 10 if args.quick else 20
    gx_reps = 3
    started = time.perf_counter()
    meta = _meta(args, rows, fresh_reps)
    print(
        f"bench: python {meta['python']}, {meta['cpus']} cpus, commit {meta['commit']}, "
        f"{'quick' if args.quick else 'default'} run"
    )
    report: dict[str, Any] = {"meta": meta, "sections": {}, "errors": {}}
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        scratch = Path(tmp)
        env = isolated_env(scratch)
        apply_env(env)
        os.environ.update(QUIET_AIRFLOW)
        quiet_logs()
        # Temp dirs made by libraries (GX's ephemeral docs site) go away with the scratch.
        (scratch / "tmp").mkdir()
        tempfile.tempdir = str(scratch / "tmp")
        for section in SECTIONS:
            if args.only and section != args.only:
                continue
            try:
                if section == "parse":
                    from bench import parse

                    result = parse.run(env, warm_reps=warm_reps, fresh_reps=fresh_reps)
                elif section == "materialize":
                    from bench import materialize

                    result = materialize.run(args.quick)
                elif section == "training":
                    from bench import training

                    result = training.run(args.quick)
                elif section == "scoring":
                    from bench import scoring

                    result = scoring.run(args.quick)
                elif section == "online":
                    from bench import online_lookup

                    result = online_lookup.run(args.quick)
                elif section == "serving":
                    from bench import serving

                    result = serving.run(args.quick)
                elif section == "drift":
                    from bench import drift

                    result = drift.run(args.quick)
                elif section == "staleness":
                    from bench import staleness

                    result = staleness.run(args.quick)
                else:
                    from bench import validation
                    from include.spec import load_spec

                    spec = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
                    result = validation.run(spec, scratch, rows=rows, reps=gx_reps)
            except Exception as exc:  # a broken section must not hide the other's figures
                traceback.print_exc()
                print(f"section {section} failed: {exc}", file=sys.stderr)
                report["errors"][section] = f"{type(exc).__name__}: {exc}"
                continue
            figures += result.pop("figures")
            report["sections"][section] = result
        tempfile.tempdir = None
    report["summary"] = [f.to_dict() for f in figures]
    report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    print(_summary(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwall time {report['meta']['wall_s']} s; results written to {args.out}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
