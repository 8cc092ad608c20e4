"""``python -m bench``: run the benchmark sections, print them and a summary, save JSON.

Options: ``--quick`` (100k rows instead of 1M, 3 fresh-process reps instead of 5; the size
of the committed baseline), ``--smoke`` (every section's whole path on its smallest input, one
rep: proves the harness runs, its figures mean nothing), ``--only <section>`` (parse, gx,
materialize, training, scoring, online, serving, drift, staleness; repeatable) and
``--out <file>``. Everything runs in a scratch folder that is deleted at the end; the
summary goes to ``bench/results/latest.json`` (gitignored) or ``--out``. Figures are printed
next to their targets; the harness never judges them (``python -m bench.compare`` compares
them with the baseline).
"""

from __future__ import annotations

import argparse
import importlib
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
    Size,
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
# Per size: rows of the GX batch, GX rounds, warm DagBag reps, fresh-process reps, DAG files
# run in fresh processes (None: every file).
SIZE_PARAMS: dict[Size, dict[str, Any]] = {
    "smoke": {"gx_rows": 2_000, "gx_reps": 1, "warm_reps": 2, "fresh_reps": 1, "fresh_files": 1},
    "quick": {
        "gx_rows": 100_000,
        "gx_reps": 3,
        "warm_reps": 10,
        "fresh_reps": 3,
        "fresh_files": None,
    },
    "default": {
        "gx_rows": 1_000_000,
        "gx_reps": 3,
        "warm_reps": 20,
        "fresh_reps": 5,
        "fresh_files": None,
    },
}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure DAG parse cost, GX validation, Feast materialization, "
        "training and batch scoring against their floors.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="100k rows instead of 1M, 3 reps instead of 5"
    )
    size.add_argument(
        "--smoke",
        action="store_true",
        help="the smallest input that runs every path, one rep (a test of the harness)",
    )
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run this section only (repeatable)"
    )
    parser.add_argument("--rows", type=int, help="rows of the GX batch (overrides the size)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON path (default {RESULTS})")
    args = parser.parse_args(argv)
    args.size = "smoke" if args.smoke else "quick" if args.quick else "default"
    return args


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
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "size": args.size,
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


def _run_section(
    section: str, args: argparse.Namespace, env: dict[str, str], scratch: Path, rows: int
) -> dict[str, Any]:
    """One section's result (its ``figures`` are the summary rows)."""
    size: Size = args.size
    params = SIZE_PARAMS[size]
    if section == "parse":
        from bench import parse

        return parse.run(
            env,
            warm_reps=params["warm_reps"],
            fresh_reps=params["fresh_reps"],
            fresh_files=params["fresh_files"],
            fresh_warmup=size != "smoke",
        )
    if section == "gx":
        from bench import validation
        from include.spec import load_spec

        spec = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
        return validation.run(spec, scratch, rows=rows, reps=params["gx_reps"])
    if section == "staleness":
        from bench import staleness

        # Its curve files (.json, .md, .png) go next to the harness's JSON.
        return staleness.run(size, staleness.results_path(size, args.out.parent))
    module = {"online": "online_lookup"}.get(section, section)
    return importlib.import_module(f"bench.{module}").run(size)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    rows = args.rows or SIZE_PARAMS[args.size]["gx_rows"]
    started = time.perf_counter()
    meta = _meta(args, rows, SIZE_PARAMS[args.size]["fresh_reps"])
    print(
        f"bench: python {meta['python']}, {meta['cpus']} cpus, commit {meta['commit']}, "
        f"{args.size} run"
    )
    report: dict[str, Any] = {"meta": meta, "sections": {}, "errors": {}}
    figures: list[Figure] = []
    section_s: dict[str, float] = {}
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
            if args.only and section not in args.only:
                continue
            section_started = time.perf_counter()
            try:
                result = _run_section(section, args, env, scratch, rows)
            except Exception as exc:  # a broken section must not hide the other's figures
                traceback.print_exc()
                print(f"section {section} failed: {exc}", file=sys.stderr)
                report["errors"][section] = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                section_s[section] = round(time.perf_counter() - section_started, 1)
            produced: list[Figure] = result.pop("figures")
            figures += produced
            # Which summary rows are this section's (by key: "<label>: <name>").
            report["sections"][section] = {**result, "figures": [f.key for f in produced]}
        tempfile.tempdir = None
    report["summary"] = [f.to_dict() for f in figures]
    report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    report["meta"]["section_wall_s"] = section_s
    print(_summary(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    per_section = ", ".join(f"{name} {seconds:g}" for name, seconds in section_s.items())
    print(f"\nwall time {report['meta']['wall_s']} s ({per_section}); results in {args.out}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
