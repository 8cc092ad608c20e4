"""The Celery configuration of the production stack: Airflow's own, plus one saving.

``[celery] celery_config_options`` points here. Airflow's default configuration is used as is
(``CELERY_CONFIG``). In addition, a Celery *worker* (``airflow celery worker``) imports the
heavy libraries its tasks use once, before its pool forks (``include.orchestration.preload``):
each task process Airflow forks from a pool process then starts with them loaded instead of
importing them again. Measured on the production profile (bench/production.py,
deploy/README.md): the import is most of a short task's CPU time. The scheduler, which reads
this module to send tasks, imports none.
"""

from __future__ import annotations

import logging
import sys

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from include.orchestration.preload import HEAVY, enabled, preload

log = logging.getLogger(__name__)

CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)

__all__ = ["CELERY_CONFIG", "HEAVY", "is_worker", "preload"]


def is_worker(argv: list[str]) -> bool:
    """``airflow celery worker ...`` (not the scheduler, not ``celery inspect``)."""
    return argv[1:3] == ["celery", "worker"]


if is_worker(sys.argv) and enabled("MLOPS_CELERY_PRELOAD"):
    PRELOADED = preload()
    log.info("celery preload: %s", PRELOADED)
