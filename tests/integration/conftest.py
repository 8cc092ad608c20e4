"""End-to-end fixtures: the Airflow metadata DB and the DagBag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, Mailbox  # noqa: F401 (re-exported for the tests)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def run_dag(dagbag, dag_id: str, **conf):
    """Run a DAG in-process with ``dag.test()``; returns the DagRun."""
    return dagbag.get_dag(dag_id).test(run_conf=conf or None)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def landing_dir(root: Path, feed: str, day: str) -> Path:
    return root / "landing" / feed / day


@pytest.fixture(scope="session")
def trained_platform(tmp_path_factory: pytest.TempPathFactory):
    """A champion, its holdout and a filled online store, built once per session
    (tests/platform.py). Read-only: copy it (``copy_platform``) to change it."""
    from tests.platform import build_platform

    return build_platform(tmp_path_factory.mktemp("platform") / "data")


@pytest.fixture
def platform(trained_platform, monkeypatch):
    """The session's trained platform, with this test's environment pointing at it."""
    from tests.platform import use_platform

    return use_platform(trained_platform, monkeypatch)
