"""Feast materialization into SQLite against a plain parquet→SQLite insert floor.

One table of N entities of the spec's widest feature view (one row each, its real columns:
for the fraud spec ``customer_transaction_stats``, 13 features + the ``customer_as_of``
stamp) is written as a feature partition in a scratch data root, the project's definitions
are applied, then timed in the same process:

* **floor**: ``pd.read_parquet`` + ``sqlite3.executemany`` of the same wide rows into a fresh
  SQLite file (one row per entity, one column per feature, one transaction);
* **floor in the online layout**: the same values as one row per (entity, feature), keyed
  and indexed like Feast's SQLite table — the write volume any Feast SQLite store has;
* **project**: ``include.features.store.materialize`` (pruned view + ``store.materialize`` into
  the guarded online store, ``online_write_batch_size`` from the store module);
* **stock**: the same ``store.materialize`` into Feast's stock SQLite store (for reference).

Rows/s = entities written / seconds (median of the reps; a fresh online DB per rep). Target
(performance-anchors.md): the project's materialization ≤ 2x the floor's time. Feast import
and ``apply`` are not timed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import Figure, Size, fmt, median, size_from_argv
from include.features.schema import TIMESTAMP, View

RATIO_TARGET = 2.0
DAY = date(2026, 3, 1)
# size -> (entities, reps)
SIZES: dict[Size, tuple[int, int]] = {
    "smoke": (1_000, 1),
    "quick": (20_000, 3),
    "default": (100_000, 3),
}


def _view() -> View:
    """The view measured: the spec's widest (most feature columns, first on a tie)."""
    from include.features import store

    views = store.feature_spec_from().views
    return max(views, key=lambda v: len(v.features))


def _keys(n: int, key_type: str) -> np.ndarray:
    ids = np.arange(1, n + 1, dtype="int64")
    return ids if key_type == "int" else np.array([f"k{i}" for i in ids], dtype=object)


def _table(view: View, n: int) -> pd.DataFrame:
    """N entities, one row each, stamped within DAY, with the view's column types (the
    layout of ``include.features.compute``: join key, event time, then the view's columns)."""
    rng = np.random.default_rng(11)
    stamps = pd.Timestamp(DAY, tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400_000, n), "ms")
    frame = pd.DataFrame({view.join_key: _keys(n, view.key_type), TIMESTAMP: stamps})
    for name, kind in view.columns.items():
        if kind == "int":
            frame[name] = rng.integers(0, 100, n).astype("int64")
        elif kind == "float":
            frame[name] = rng.random(n) * 100
        else:
            frame[name] = stamps
    return frame


def _timestamps(view: View) -> list[str]:
    return [TIMESTAMP, *(c for c, kind in view.columns.items() if kind == "timestamp")]


def _floor(view: View, path: Path, db: Path) -> float:
    """Seconds to read the partition and insert it as wide rows into SQLite."""
    start = time.perf_counter()
    frame = pd.read_parquet(path)
    for col in _timestamps(view):
        frame[col] = frame[col].astype("int64")
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    with sqlite3.connect(db) as conn:
        conn.execute(f'CREATE TABLE t ({cols}, PRIMARY KEY ("{view.join_key}"))')
        conn.executemany(
            f"INSERT OR REPLACE INTO t VALUES ({', '.join('?' * len(frame.columns))})",
            frame.itertuples(index=False, name=None),
        )
    return time.perf_counter() - start


def _key_bytes(key: Any) -> bytes:
    return key.encode() if isinstance(key, str) else int(key).to_bytes(8, "little")


def _floor_long(view: View, path: Path, db: Path) -> float:
    """Seconds to read the partition and insert it in the online store's layout: one row per
    (entity, feature) with its stamp, keyed and indexed like Feast's SQLite table."""
    start = time.perf_counter()
    frame = pd.read_parquet(path)
    ts = (frame[TIMESTAMP].astype("int64") // 1_000_000_000).to_numpy()
    keys = [_key_bytes(k) for k in frame[view.join_key]]
    for col in _timestamps(view)[1:]:
        frame[col] = frame[col].astype("int64") // 1_000_000_000
    features = [c for c in frame.columns if c not in (view.join_key, TIMESTAMP)]
    values = frame[features].astype("float64").to_numpy()
    rows = [
        (keys[i], name, float(values[i, j]), int(ts[i]))
        for i in range(len(frame))
        for j, name in enumerate(features)
    ]
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE t (entity_key BLOB, feature_name TEXT, value REAL, event_ts INTEGER,"
            " PRIMARY KEY (entity_key, feature_name))"
        )
        conn.execute("CREATE INDEX t_ek ON t (entity_key)")
        conn.executemany("INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?)", rows)
    return time.perf_counter() - start


def _materialize(view_name: str, data_root: Path, stock: bool) -> float:
    """Seconds of one materialization of DAY into a fresh online DB."""
    from feast import FeatureStore

    from include.config import get_settings
    from include.features import store

    settings = get_settings()
    online = data_root / "feast" / "online.db"
    online.unlink(missing_ok=True)
    fs = store.feature_store()
    view = fs.get_feature_view(view_name)
    if stock:
        cfg = store.repo_config()
        cfg = cfg.__class__(
            **{
                **cfg.model_dump(by_alias=True, exclude={"online_config", "online_store"}),
                "online_store": {"type": "sqlite", "path": str(online)},
            }
        )
        fs = FeatureStore(config=cfg)
    fs._get_provider().online_store.update(fs.config, [], [view], [], [], False)
    start_ts = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    end_ts = start_ts + timedelta(days=1, hours=1)
    start = time.perf_counter()
    if stock:
        with store.pruned_view(
            settings.features_uri, store.scratch_dir(settings), DAY, DAY, views=[view_name]
        ) as pruned:
            fs.config.repo_path = pruned.path
            fs.materialize(start_date=start_ts, end_date=end_ts, feature_views=[view.name])
    else:
        store.materialize(start_ts, end_ts)
    return time.perf_counter() - start


def run(size: Size) -> dict[str, Any]:
    """Measure, print and return the materialization section (``figures``: summary rows)."""
    n, reps = SIZES[size]
    print(
        f"\n== Feast materialize into SQLite vs insert floor ({n:,} entities, median of {reps}) =="
    )
    old_root = os.environ.get("MLOPS_DATA_ROOT")
    scratch = Path(tempfile.mkdtemp(prefix="mlops-bench-mat-"))
    try:
        os.environ["MLOPS_DATA_ROOT"] = str(scratch / "data")
        from include.config import get_settings
        from include.features import store, tables

        data_root = scratch / "data"
        view = _view()
        print(f"view {view.name}: {len(view.features)} features + {view.as_of}")
        frame = _table(view, n)
        # write_table takes a URI (str): the settings' features root, where the store reads.
        features_uri = str(get_settings().features_uri)
        part = tables.write_table(frame, features_uri, view.name, DAY)["path"]
        t0 = time.perf_counter()
        store.apply_definitions()
        print(f"apply (import + registry) {time.perf_counter() - t0:.1f} s, not counted")
        floor_s = [_floor(view, Path(part), scratch / f"floor-{i}.db") for i in range(reps)]
        long_s = [_floor_long(view, Path(part), scratch / f"long-{i}.db") for i in range(reps)]
        _materialize(view.name, data_root, stock=False)  # untimed warm-up (first-use costs)
        project_s = [_materialize(view.name, data_root, stock=False) for _ in range(reps)]
        stock_runs = reps if size == "quick" else 1
        stock_s = [_materialize(view.name, data_root, stock=True) for _ in range(stock_runs)]
    finally:
        if old_root is None:
            os.environ.pop("MLOPS_DATA_ROOT", None)
        else:
            os.environ["MLOPS_DATA_ROOT"] = old_root
        shutil.rmtree(scratch, ignore_errors=True)
    floor, project, stock = median(floor_s), median(project_s), median(stock_s)
    long_floor = median(long_s)
    ratio = project / floor
    lines = [
        ("floor: read_parquet + executemany", floor),
        ("floor in the online layout (x features)", long_floor),
        ("project: guarded store.materialize", project),
        ("reference: stock SQLite store", stock),
    ]
    for label, seconds in lines:
        print(f"  {label:<38} {fmt(seconds, 's'):>9}  {n / seconds:>9,.0f} rows/s")
    print(
        f"  project / floor {ratio:.2f}x (target <= {RATIO_TARGET:g}x); project / layout floor "
        f"{project / long_floor:.2f}x; stock / floor {stock / floor:.2f}x; "
        f"online_write_batch_size={store.ONLINE_WRITE_BATCH_SIZE}"
    )
    return {
        "view": view.name,
        "entities": n,
        "reps": reps,
        "floor_s": floor_s,
        "project_s": project_s,
        "stock_s": stock_s,
        "layout_floor_s": long_s,
        "rows_per_s": {
            "floor": n / floor,
            "layout_floor": n / long_floor,
            "project": n / project,
            "stock": n / stock,
        },
        "figures": [
            Figure("feast", "materialize rows/s (project)", n / project, "rows/s"),
            Figure("feast", "materialize / insert floor", ratio, "x", RATIO_TARGET),
            Figure(
                "feast",
                "materialize / insert floor, online layout",
                project / long_floor,
                "x",
                RATIO_TARGET,
            ),
            Figure("feast", "stock SQLite store / insert floor", stock / floor, "x"),
        ],
    }


if __name__ == "__main__":
    import sys

    run(size_from_argv(sys.argv))
