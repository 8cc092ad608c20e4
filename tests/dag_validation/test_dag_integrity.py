"""Tier 1, DAG integrity: every DAG imports and follows the house policies."""

from __future__ import annotations

import json
import os
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


def _expected_catchup(dag_id: str, ingest_catchup: bool) -> bool:
    """Catchup is off, except an ingest DAG's, which follows MLOPS_INGEST_CATCHUP."""
    return ingest_catchup if dag_id.startswith("ingest_") else False


def test_every_dag_has_owner_tags_doc_and_no_catchup_surprise(bag) -> None:
    from include.config import get_settings

    # given the test session, where MLOPS_INGEST_CATCHUP is unset (tests/conftest.py)
    assert "MLOPS_INGEST_CATCHUP" not in os.environ
    ingest_catchup = get_settings().ingest_catchup
    assert ingest_catchup is False
    assert any(dag_id.startswith("ingest_") for dag_id in bag.dag_ids)
    for dag_id, dag in bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 80, f"{dag_id} has no useful doc_md"
        # then no DAG catches up: not even an ingest DAG while the setting is unset
        assert dag.catchup is _expected_catchup(dag_id, ingest_catchup), f"{dag_id} catches up"
        for task in dag.tasks:
            assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id}: owner"


def test_ingest_catchup_follows_the_setting_and_nothing_else_does() -> None:
    # given MLOPS_INGEST_CATCHUP=true, when the dags folder is parsed in a fresh process
    code = (
        "import json, sys; from airflow.dag_processing.dagbag import DagBag; "
        "bag = DagBag(dag_folder=sys.argv[1]); assert not bag.import_errors, bag.import_errors; "
        "print(json.dumps({i: d.catchup for i, d in bag.dags.items()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "dags")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MLOPS_INGEST_CATCHUP": "true"},
    )
    catchup = json.loads(out.stdout.strip().splitlines()[-1])
    # then the ingest DAGs catch up and every other DAG still does not
    assert len(catchup) == len(DAG_FILES)
    assert catchup == {dag_id: _expected_catchup(dag_id, True) for dag_id in catchup}
    assert any(catchup.values()), "no ingest DAG follows MLOPS_INGEST_CATCHUP"


# A second concurrent run of these would be wrong, not just slow (see each DAG's comment).
ONE_RUN_AT_A_TIME = {
    "ingest_transactions": "the re-delivery check compares with neighbouring partitions",
    "ingest_labels": "the re-delivery check compares with neighbouring partitions",
    "materialize_features": "two runs would race on the same partitions and online rows",
    "train_model": "promotions are serialized",
    "deploy_model": "the deployment pointer has one writer; a switch must not race a rollback",
    "accept_batch": "one acceptance at a time: each puts files back in the landing zone",
    "erase_subject": "two erasures rewriting the same files would put back each other's rows",
}

# Tasks that fail for good on the first try: a retry repeats the same verdict (and the cost).
NO_RETRY = {
    ("deploy_model", "check_candidate"): "the checks are deterministic; the mail says retry",
    ("deploy_model", "switch"): "a failed switch restored the pointer; retrying is a decision",
    ("deploy_model", "watch"): "a failed watch rolled back; retrying would redeploy blindly",
    ("retire_model", "retire_version"): "a refusal (champion, serving) repeats on every try",
    ("accept_batch", "find_quarantined"): "a refusal (spec rules broken, accepted) repeats",
    ("erase_subject", "pseudonymise_subject"): "a refusal (no pii column, no key) repeats",
}


def test_dags_that_must_not_overlap_run_one_at_a_time(bag) -> None:
    # given every DAG that must not overlap: the listed ones and any ingest_* DAG
    must = set(ONE_RUN_AT_A_TIME) | {d for d in bag.dag_ids if d.startswith("ingest_")}
    assert must <= set(bag.dag_ids), sorted(must - set(bag.dag_ids))
    # then each allows exactly one active run
    for dag_id in sorted(must):
        assert bag.dags[dag_id].max_active_runs == 1, (
            f"{dag_id} max_active_runs={bag.dags[dag_id].max_active_runs}: "
            f"{ONE_RUN_AT_A_TIME.get(dag_id, 'ingest')}"
        )


def test_every_task_retries_and_alerts_on_failure(bag) -> None:
    from include.orchestration.alerts import AlertNotifier

    for dag_id, dag in bag.dags.items():
        for task in dag.tasks:
            if (dag_id, task.task_id) in NO_RETRY:
                assert task.retries == 0, (
                    f"{dag_id}.{task.task_id}: {NO_RETRY[dag_id, task.task_id]}"
                )
            else:
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
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
