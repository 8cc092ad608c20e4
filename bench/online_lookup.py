"""The serving path's online feature lookup: ``serving.online`` against Feast's SDK read.

One transaction per call (the scoring API's common case) against the same SQLite online
store, in the same process:

* **project**: ``OnlineFeatures.lookup([row])`` — both views' rows, decoded, plus the
  on-demand features (:mod:`include.features.request_time`);
* **Feast**: ``FeatureStore.get_online_features(features=<fraud_detection_v1>,
  entity_rows=[row]).to_dict()`` with the service fetched once (what
  ``include.features.training_set.online_features`` does per call, minus its set-up).
* **project, no Feast**: the project's calls again, in a fresh process that imports only
  ``serving.online`` (the serving image): in the shared process the garbage collector also
  walks Feast's and pandas' objects, which shows in the project's p99.

Rounds of 100 calls alternate between the two after an untimed warm-up of each, so machine
noise (2 shared cores) hits both alike; each call takes the next transaction of a pool of
real ones (the newest lake partition). Printed: p50/p99 per side and their ratio. Target
(performance-anchors.md: a whole request p99 <= 5 ms): the lookup's p99 well under 1 ms.

Import cost: ``python -X importtime -c "import serving.online"`` in fresh processes with the
bytecode cache on (median cumulative time of ``serving.online``), and whether feast, pandas,
pyarrow or redis were imported (they must not be). ``import feast`` once, for reference.

Store: a fresh scratch data root with a few simulated days ingested into the lake, the feature
tables computed, the definitions applied and materialized (``--quick``: fewer rows), so it runs
from a fresh clone; or an existing data root (``--data-root``, read only; ``--spec`` if that
root uses another spec, e.g. the test platform's). Run alone: ``python -m bench.online_lookup
[--quick] [--data-root DIR] [--spec FILE]``; in the harness: ``python -m bench --only online``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Figure, Size, percentile

P99_TARGET_S = 0.001
ROUND = 100
HEAVY = ("feast", "pandas", "pyarrow", "redis")
# size -> (calls per side, warm-up calls, import reps, store days, rows a day)
SIZES: dict[Size, tuple[int, int, int, int, int]] = {
    "smoke": (200, 50, 1, 2, 500),
    "quick": (1000, 200, 3, 2, 500),
    "default": (2000, 200, 5, 4, 2000),
}
_CHILD = (
    "import json, sys; from bench import online_lookup as b; b.alone_child(json.loads(sys.argv[1]))"
)


def _build_store(days: int, rows: int) -> None:
    """Simulated days (ending yesterday, so rows are within the TTL) into the lake of the
    current ``MLOPS_DATA_ROOT``, their feature tables, apply and materialize."""
    from devtools.simulator import simulate_day, simulate_labels
    from include import layout
    from include.config import get_settings
    from include.data import lake
    from include.spec import load_spec
    from include.steps import materialize_features as pipeline

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    events, labels_feed = spec.names.events_feed, spec.names.labels_feed
    last = datetime.now(UTC).date() - timedelta(days=1)
    window = [last - timedelta(days=days - 1 - i) for i in range(days)]
    for day in window:
        batch = simulate_day(spec, day, rows=rows).transactions
        lake.stage(batch, layout.partition_uri(settings.lake_uri, events, day))
        labels = simulate_labels(spec, day, rows=rows, since=window[0])
        if len(labels):
            lake.stage(labels, layout.partition_uri(settings.lake_uri, labels_feed, day))
    names = [d.isoformat() for d in window]
    pipeline.compute_tables(names)
    pipeline.apply_definitions()
    pipeline.materialize_partitions(names)


def _requests(pool: int) -> list[dict[str, Any]]:
    """Request rows for up to ``pool`` transactions of the newest lake partition: the spec's
    join keys, request fields and event time (``serving.online``'s request row)."""
    from include.config import get_settings
    from include.data import lake
    from include.features import schema, store

    settings = get_settings()
    fspec = store.feature_spec_from(settings)
    day = lake.partitions(settings.lake_uri, fspec.events_feed)[-1]
    tx = lake.read_partition(settings.lake_uri, fspec.events_feed, day)
    tx = tx.sample(min(pool, len(tx)), random_state=1)
    keys = {v.join_key: int if v.key_type == "int" else str for v in fspec.views}
    fields = {name: int if kind == "int" else float for name, kind in fspec.request_fields.items()}
    rows = []
    for _, r in tx.iterrows():
        row: dict[str, Any] = {c: cast(r[c]) for c, cast in {**keys, **fields}.items()}
        row[fspec.event_ts] = r[fspec.event_ts].to_pydatetime()
        # Feast's request source names the event time TIMESTAMP (the same name in fraud.yaml).
        row.setdefault(schema.TIMESTAMP, row[fspec.event_ts])
        rows.append(row)
    return rows


def _timed(
    sides: dict[str, Callable[[dict[str, Any]], Any]], rows: list[dict], calls: int, warm: int
) -> dict[str, list[float]]:
    """Seconds per call of each side, in alternating rounds of ROUND calls."""
    for fn in sides.values():
        for i in range(warm):
            fn(rows[i % len(rows)])
    times: dict[str, list[float]] = {name: [] for name in sides}
    clock = time.perf_counter
    for start in range(0, calls, ROUND):
        for name, fn in sides.items():
            out = times[name]
            for i in range(start, min(start + ROUND, calls)):
                row = rows[i % len(rows)]
                t0 = clock()
                fn(row)
                out.append(clock() - t0)
    return times


def alone_child(args: dict[str, Any]) -> None:
    """In a fresh process that imports only ``serving.online`` (as the serving image does, no
    Feast or pandas objects for the garbage collector to walk): print the lookup's seconds."""
    from serving.online import OnlineFeatures

    ts_key = args["ts_key"]
    rows = json.loads(Path(args["rows"]).read_text())
    for row in rows:
        row[ts_key] = datetime.fromisoformat(row[ts_key])
    with OnlineFeatures.open() as reader:
        times = _timed({"alone": lambda row: reader.lookup([row])}, rows, args["calls"], 200)
    print(json.dumps(times["alone"]))


def _alone(rows: list[dict[str, Any]], ts_key: str, calls: int, scratch: Path) -> list[float]:
    path = scratch / "requests.json"
    path.write_text(json.dumps([{**r, ts_key: r[ts_key].isoformat()} for r in rows]))
    code = _CHILD
    args = {"rows": str(path), "ts_key": ts_key, "calls": calls}
    env = {**_import_env(), **{k: v for k, v in os.environ.items() if k.startswith("MLOPS_")}}
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _import_child(module: str, env: dict[str, str]) -> tuple[float, list[str]]:
    """Cumulative seconds of ``import module`` (-X importtime) in a fresh process and the
    heavy packages it pulled in."""
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    pattern = re.compile(rf"\|\s*(\d+)\s*\|\s*{re.escape(module)}\s*$")
    cumulative = [int(m.group(1)) for m in map(pattern.search, proc.stderr.splitlines()) if m]
    heavy = [m for m in proc.stdout.strip().split(",") if m]
    return cumulative[-1] / 1e6, heavy


def _import_env() -> dict[str, str]:
    from bench.common import PYCACHE

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"PYTHONPATH": str(REPO_ROOT), "PYTHONPYCACHEPREFIX": str(PYCACHE)})
    return env


def run(size: Size, data_root: Path | None = None, spec: Path | None = None) -> dict[str, Any]:
    """Measure, print and return the online lookup section (``figures``: summary rows)."""
    calls, warm, reps, days, rows = SIZES[size]
    saved = {k: v for k, v in os.environ.items() if k.startswith("MLOPS_")}
    scratch = Path(tempfile.mkdtemp(prefix="mlops-bench-online-"))
    built = data_root is None
    try:
        if built:  # nothing of a developer's set-up (registry, store, URIs) may be written to
            for var in saved:
                os.environ.pop(var, None)
        os.environ["MLOPS_DATA_ROOT"] = str(data_root or scratch / "data")
        if spec is not None:
            os.environ["MLOPS_USECASE_SPEC"] = str(spec)
        print(f"\n== online feature lookup, 1 transaction per call ({calls} calls per side) ==")
        if built:
            t0 = time.perf_counter()
            _build_store(days, rows)
            print(f"built a store: {days} days x {rows} rows ({time.perf_counter() - t0:.0f} s)")
        import warnings

        from include.features import store
        from serving.online import OnlineFeatures

        requests = _requests(500)
        reader = OnlineFeatures.open()
        fs = store.feature_store()
        service = fs.get_feature_service(reader.fspec.feature_service)

        def feast(row: dict[str, Any]) -> Any:
            return fs.get_online_features(features=service, entity_rows=[row]).to_dict()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # Feast's ODFV notice
            times = _timed(
                {"project": lambda row: reader.lookup([row]), "feast": feast},
                requests,
                calls,
                warm,
            )
        reader.close()
        times["alone"] = _alone(requests, reader.fspec.event_ts, calls, scratch)
    finally:
        for var in [k for k in os.environ if k.startswith("MLOPS_")]:
            del os.environ[var]
        os.environ.update(saved)
        shutil.rmtree(scratch, ignore_errors=True)
    env = _import_env()
    _import_child("serving.online", env)  # untimed: fills the bytecode cache
    imports = [_import_child("serving.online", env) for _ in range(reps)]
    import_s = statistics.median(s for s, _ in imports)
    heavy = sorted({m for _, found in imports for m in found})
    feast_import_s, _ = _import_child("feast", env)
    stats = {
        side: {"p50": percentile(ts, 50), "p99": percentile(ts, 99), "mean": statistics.fmean(ts)}
        for side, ts in times.items()
    }
    for side, s in stats.items():
        print(
            f"  {side:<8} p50 {s['p50'] * 1e6:8.1f} us   p99 {s['p99'] * 1e6:8.1f} us   "
            f"mean {s['mean'] * 1e6:8.1f} us"
        )
    p50_ratio = stats["feast"]["p50"] / stats["project"]["p50"]
    p99_ratio = stats["feast"]["p99"] / stats["project"]["p99"]
    print(
        f"  Feast / project: p50 {p50_ratio:.1f}x, p99 {p99_ratio:.1f}x; project p99 target "
        f"<= {P99_TARGET_S * 1e3:g} ms ('alone': a process without Feast, as in serving)"
    )
    print(
        f"  import serving.online {import_s * 1e3:.0f} ms (median of {reps}, bytecode cache), "
        f"heavy packages imported: {heavy or 'none'}; import feast {feast_import_s:.1f} s"
    )
    return {
        "calls": calls,
        "store": "built" if built else str(data_root),
        "times_s": times,
        "stats_s": stats,
        "import_s": [s for s, _ in imports],
        "import_heavy": heavy,
        "import_feast_s": feast_import_s,
        "figures": [
            Figure("online", "lookup p50 (project)", stats["project"]["p50"], "s"),
            Figure("online", "lookup p99 (project)", stats["project"]["p99"], "s", P99_TARGET_S),
            Figure(
                "online", "lookup p99 (project, no Feast)", stats["alone"]["p99"], "s", P99_TARGET_S
            ),
            Figure("online", "lookup p99 (Feast get_online_features)", stats["feast"]["p99"], "s"),
            Figure("online", "Feast / project lookup p50", p50_ratio, "x", better="higher"),
            Figure("online", "import serving.online", import_s, "s"),
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.online_lookup", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="1,000 calls, a smaller store")
    size.add_argument("--smoke", action="store_true", help="200 calls, a smaller store")
    parser.add_argument("--data-root", type=Path, help="an existing data root (read only)")
    parser.add_argument("--spec", type=Path, help="the use-case spec of that data root")
    args = parser.parse_args(argv)
    run("smoke" if args.smoke else "quick" if args.quick else "default", args.data_root, args.spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
