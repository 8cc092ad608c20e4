"""The embedded platform's executor: Airflow's LocalExecutor with warm task processes.

``make run`` sets ``[core] executor`` to this class (scripts/embedded_env.sh). It is the
LocalExecutor unchanged, except that before the scheduler forks its ``[core] parallelism``
workers it imports the heavy libraries the tasks use (``include.orchestration.preload``), as
the production profile's Celery workers do before their pool forks. Every task process is
forked from a worker (the Task SDK's supervisor forks on Linux), so each starts with pandas,
Great Expectations, MLflow, Feast, XGBoost and PyTorch loaded: the scheduler pays the import
once (about 10 s of CPU), instead of every task paying it.

Nothing is imported at module level beyond the LocalExecutor: the API server and the DAG
processor load this class too, to know the executor's name, and stay light.
``MLOPS_PRELOAD=false`` gives the plain LocalExecutor's behaviour.
"""

from __future__ import annotations

import logging
import time

from airflow.executors.local_executor import LocalExecutor

from include.orchestration.preload import HEAVY, enabled, preload

log = logging.getLogger(__name__)


class WarmLocalExecutor(LocalExecutor):
    """LocalExecutor whose workers fork from a process that imported the task libraries."""

    modules: tuple[str, ...] = HEAVY
    preloaded: dict[str, float] | None = None  # once per process (a restarted executor keeps it)

    def start(self) -> None:
        # Only with fork do the workers (and the task processes they fork) inherit the
        # imports; with spawn the preload would only cost the scheduler memory.
        if self.is_mp_using_fork and enabled() and WarmLocalExecutor.preloaded is None:
            began = time.perf_counter()
            WarmLocalExecutor.preloaded = preload(self.modules)
            self.log.info(
                "preloaded the task libraries in %.1f s before forking the workers: %s",
                time.perf_counter() - began,
                WarmLocalExecutor.preloaded,
            )
        super().start()
