"""The Celery configuration of the production stack: Airflow's own, plus one saving.

``[celery] celery_config_options`` points here. Airflow's default configuration is used as is
(``CELERY_CONFIG``). In addition, a Celery *worker* (``airflow celery worker``) imports the
heavy libraries its tasks use (pandas, pyarrow, Great Expectations, MLflow, Feast, XGBoost,
scikit-learn, PyTorch, boto3) once, before its pool forks: each task process Airflow forks
from a pool process then starts with them loaded instead of importing them again. Measured
on the production profile (bench/production.py, deploy/README.md): the import is most of a
short task's CPU time. The scheduler, which reads this module to send tasks, imports none.

The libraries are imported, not used: no thread pool or connection exists yet when the
pool forks. ``OMP_WAIT_POLICY`` is set first (include/training/threads.py says why).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

log = logging.getLogger(__name__)

CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)

HEAVY = (
    "pandas",
    "pyarrow.parquet",
    "great_expectations",
    "mlflow",
    "feast",
    "xgboost",
    "sklearn.metrics",
    "torch",
    "boto3",
)


def is_worker(argv: list[str]) -> bool:
    """``airflow celery worker ...`` (not the scheduler, not ``celery inspect``)."""
    return argv[1:3] == ["celery", "worker"]


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
            log.warning("celery preload: %s not imported (%s)", name, exc)
            continue
        took[name] = round(time.perf_counter() - start, 2)
    return took


if is_worker(sys.argv) and os.environ.get("MLOPS_CELERY_PRELOAD", "true").lower() != "false":
    PRELOADED = preload()
    log.info("celery preload: %s", PRELOADED)
