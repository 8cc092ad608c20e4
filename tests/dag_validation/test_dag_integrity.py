"""Tier 1, DAG integrity: every DAG imports and follows the house policies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
HEAVY = [
    "pandas",
    "numpy",
    "pyarrow",
    "great_expectations",
    "feast",
    "mlflow",
    "evidently",
    "xgboost",
    "torch",
    "bentoml",
    "sklearn",
]
# boto3 is not listed: Airflow loads the amazon provider's S3 URI handler (and boto3) as soon
# as a DAG declares an Asset with a non-file URI, which production's s3:// assets are.


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_file_imports_without_errors(bag) -> None:
    assert bag.import_errors == {}
    assert len(bag.dag_ids) == len(DAG_FILES), "one DAG per file"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_id_is_the_file_stem(bag, path) -> None:
    assert path.stem in bag.dag_ids


def test_every_dag_has_owner_tags_doc_and_no_catchup_surprise(bag) -> None:
    for dag_id, dag in bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 80, f"{dag_id} has no useful doc_md"
        for task in dag.tasks:
            assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id}: owner"


def test_every_task_retries_and_alerts_on_failure(bag) -> None:
    from include.orchestration.alerts import AlertNotifier

    for dag_id, dag in bag.dags.items():
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries={task.retries}"
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}: no timeout"
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(isinstance(c, AlertNotifier) for c in callbacks), (
                f"{dag_id}.{task.task_id} sends no failure alert"
            )


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_file_imports_no_heavy_library(path) -> None:
    """Heavy imports belong inside tasks: DAG files are re-parsed constantly."""
    code = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
