"""One DAG per use case: a DAG file builds its DAG for each use case the platform runs.

    dags/train_model.py:  dag = build_per_usecase(build, globals())

With one use case (the default) the DAG keeps its plain id (``train_model``); with several
(``MLOPS_USECASES``) each gets ``<use case>.<id>`` (``flights.train_model``), a tag with the
use case's name (the UI's tag filter shows one use case), its own Assets
(``include.orchestration.assets.assets_of``), and tasks that work for it
(``include.orchestration.alerts.default_args``). Pausing one use case's DAGs leaves the
others running; removing it from ``MLOPS_USECASES`` removes its DAGs and keeps its data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.sdk import DAG

from include.config import UseCase, usecases


def build_per_usecase(build: Callable[[UseCase], DAG], namespace: dict[str, Any]) -> DAG:
    """Build ``build(use case)`` for every use case into the DAG file's ``namespace`` (the
    DagBag collects them there); returns the first use case's DAG."""
    built = [build(uc) for uc in usecases()]
    for uc, dag in zip(usecases(), built, strict=True):
        namespace[f"dag_{uc.name}"] = dag
    return built[0]


def usecase_tags(usecase: UseCase) -> list[str]:
    """The tag that groups one use case's DAGs (none with one use case)."""
    return [usecase.name] if usecase.scoped else []
