"""Warm task processes: import the heavy libraries once, before the task processes fork.

An Airflow task runs in a process forked from its worker (a Celery pool process, or a
LocalExecutor worker). A fresh worker makes every task import pandas, pyarrow, Great
Expectations, MLflow, Feast, XGBoost, scikit-learn, PyTorch and boto3 itself: for a
10k-row batch that import is most of the task's time. Imported once in the process the
workers fork from, they are in every task process from its first instruction, and the
pages are shared copy-on-write.

Both executors of the project use this: ``celery_preload`` (production profile, before the
Celery pool forks) and ``local_executor`` (embedded ``make run``, before the LocalExecutor
forks its workers). ``MLOPS_PRELOAD=false`` turns it off (``MLOPS_CELERY_PRELOAD=false``
still does for Celery).

The libraries are imported, not used: no thread pool or connection exists yet when the
workers fork. ``OMP_WAIT_POLICY`` is set first (include/training/threads.py says why).
"""

from __future__ import annotations

import importlib
import logging
import os
import time

log = logging.getLogger(__name__)

HEAVY = (
    "pandas",
    "pyarrow.parquet",
    "great_expectations",
    "mlflow",
    "feast",
    "feast.infra.offline_stores.duckdb",  # ibis + DuckDB: training sets, batch scores
    "xgboost",
    "sklearn.metrics",
    "torch",
    "boto3",
)


def enabled(*switches: str) -> bool:
    """False when ``MLOPS_PRELOAD`` or one of ``switches`` (environment names) is "false"."""
    return all(
        os.environ.get(name, "true").strip().lower() != "false"
        for name in ("MLOPS_PRELOAD", *switches)
    )


def preload(names: tuple[str, ...] = HEAVY) -> dict[str, float]:
    """Import ``names``; returns the seconds each took (a failure is logged, not raised:
    the task then imports it itself, as without the preload)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    took = {}
    for name in names:
        start = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - an optimisation must not stop the worker
            log.warning("preload: %s not imported (%s)", name, exc)
            continue
        took[name] = round(time.perf_counter() - start, 2)
    return took
