"""DAG parse cost: what the DAG processor pays per file, and what a fresh process pays.

Two measurements per file in ``dags/``:

* **warm DagBag**: one ``DagBag`` over the folder warms every import, then
  ``bag.process_file(path, only_if_updated=False)`` is timed repeatedly (median, p90).
  Target: <= 0.3 s per file.
* **fresh process**: ``python -c "import runpy,sys; runpy.run_path(sys.argv[1])" <file>``
  (the file runs without its ``__main__`` block) against ``python -c "import airflow.sdk"``,
  interleaved, after one untimed warm-up each; medians and their ratio. Target: <= 1.5x.
  Both commands get the same environment (:func:`bench.common.isolated_env`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Figure, fmt, median, percentile, quiet_logs

WARM_TARGET_S = 0.3
FRESH_RATIO_TARGET = 1.5
RUN_FILE = "import runpy,sys; runpy.run_path(sys.argv[1])"
IMPORT_SDK = "import airflow.sdk"


@dataclass
class FileParse:
    """Parse figures of one DAG file."""

    file: str
    dag_ids: list[str]
    warm_s: list[float]
    fresh_s: list[float]
    errors: list[str] = field(default_factory=list)

    @property
    def warm_median(self) -> float:
        return median(self.warm_s)

    @property
    def warm_p90(self) -> float:
        return percentile(self.warm_s, 90)

    @property
    def fresh_median(self) -> float:
        return median(self.fresh_s) if self.fresh_s else float("nan")


def dag_files(dags_dir: Path = REPO_ROOT / "dags") -> list[Path]:
    return sorted(p for p in dags_dir.glob("*.py") if not p.name.startswith("_"))


def time_warm_dagbag(files: list[Path], reps: int) -> dict[Path, tuple[list[str], list[float]]]:
    """(dag ids, seconds per ``process_file``) per file, in a DagBag built once."""
    from airflow.dag_processing.dagbag import DagBag

    quiet_logs()
    bag = DagBag(dag_folder=str(files[0].parent))
    if bag.import_errors:
        raise RuntimeError(f"the DAG folder does not import cleanly: {bag.import_errors}")
    out: dict[Path, tuple[list[str], list[float]]] = {}
    for path in files:
        times: list[float] = []
        dag_ids: list[str] = []
        for _ in range(reps):
            start = time.perf_counter()
            found = bag.process_file(str(path), only_if_updated=False)
            times.append(time.perf_counter() - start)
            dag_ids = [d.dag_id for d in found]
        out[path] = (dag_ids, times)
    return out


def _run_once(code: str, args: list[str], env: dict[str, str]) -> tuple[float, str | None]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    error = None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["?"])[-1]
    return elapsed, error


def time_fresh_processes(
    files: list[Path], reps: int, env: dict[str, str], warmup: bool = True
) -> tuple[list[float], dict[Path, tuple[list[float], list[str]]]]:
    """Seconds per fresh ``import airflow.sdk`` and per fresh run of each file, interleaved
    (sdk, file1, file2, ... per round) so machine noise spreads over both sides."""
    commands = [(IMPORT_SDK, []), *[(RUN_FILE, [str(f)]) for f in files]]
    for code, args in commands if warmup else []:
        _run_once(code, args, env)  # warm-up: bytecode cache and OS page cache
    baseline: list[float] = []
    per_file: dict[Path, tuple[list[float], list[str]]] = {f: ([], []) for f in files}
    for _ in range(reps):
        elapsed, error = _run_once(IMPORT_SDK, [], env)
        if error:
            raise RuntimeError(f"`python -c '{IMPORT_SDK}'` failed: {error}")
        baseline.append(elapsed)
        for path in files:
            elapsed, error = _run_once(RUN_FILE, [str(path)], env)
            times, errors = per_file[path]
            if error:
                errors.append(error)
            else:
                times.append(elapsed)
    return baseline, per_file


def run(
    env: dict[str, str],
    *,
    warm_reps: int,
    fresh_reps: int,
    fresh_files: int | None = None,
    fresh_warmup: bool = True,
) -> dict[str, Any]:
    """Measure, print and return the parse section (``figures`` holds the summary rows).
    A smoke run: only the first ``fresh_files`` files in fresh processes, no warm-up."""
    files = dag_files()
    print(f"\n== DAG parse cost ({len(files)} files in dags/) ==", flush=True)
    warm = time_warm_dagbag(files, warm_reps)
    baseline, fresh = time_fresh_processes(files[:fresh_files], fresh_reps, env, fresh_warmup)
    sdk = median(baseline)
    results = [FileParse(p.name, warm[p][0], warm[p][1], *fresh.get(p, ([], []))) for p in files]
    figures: list[Figure] = []
    print(f"warm DagBag.process_file, {warm_reps} reps per file (target <= {WARM_TARGET_S} s):")
    for r in results:
        print(
            f"  {r.file:<32} median {fmt(r.warm_median, 's'):>9}  p90 {fmt(r.warm_p90, 's'):>9}"
            f"  ({r.warm_median / WARM_TARGET_S:.3f} of target)  dags={r.dag_ids}"
        )
        figures.append(
            Figure("parse", f"warm DagBag {r.file} median", r.warm_median, "s", WARM_TARGET_S)
        )
        figures.append(Figure("parse", f"warm DagBag {r.file} p90", r.warm_p90, "s", WARM_TARGET_S))
    print(
        f"fresh process, {fresh_reps} reps each, medians (target <= {FRESH_RATIO_TARGET}x):\n"
        f"  {'python -c ' + repr(IMPORT_SDK):<32} {fmt(sdk, 's'):>9}"
        f"  (all: {', '.join(f'{t:.2f}' for t in baseline)})"
    )
    figures.append(Figure("parse", "fresh `import airflow.sdk` median", sdk, "s"))
    for r in results:
        if r.errors:
            print(f"  {r.file:<32} FAILED to run: {r.errors[-1]}")
            continue
        if not r.fresh_s:  # not run fresh (a smoke run)
            continue
        ratio = r.fresh_median / sdk
        print(
            f"  {'runpy ' + r.file:<32} {fmt(r.fresh_median, 's'):>9}  {ratio:.2f}x sdk"
            f"  (all: {', '.join(f'{t:.2f}' for t in r.fresh_s)})"
        )
        figures.append(
            Figure("parse", f"runpy {r.file} / import airflow.sdk", ratio, "x", FRESH_RATIO_TARGET)
        )
    return {
        "import_airflow_sdk_s": baseline,
        "import_airflow_sdk_median_s": sdk,
        "files": [
            {
                "file": r.file,
                "dag_ids": r.dag_ids,
                "warm_dagbag_s": r.warm_s,
                "warm_dagbag_median_s": r.warm_median,
                "warm_dagbag_p90_s": r.warm_p90,
                "fresh_runpy_s": r.fresh_s,
                "fresh_runpy_median_s": r.fresh_median if r.fresh_s else None,
                "fresh_ratio_to_sdk": r.fresh_median / sdk if r.fresh_s else None,
                "errors": r.errors,
            }
            for r in results
        ],
        "figures": figures,
    }
