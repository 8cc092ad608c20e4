"""Warm task processes on the embedded platform (issue 20): the LocalExecutor's workers fork
from a scheduler that imported the task libraries, so every task process starts with them.

Observed in the real forked workers: each records, as it starts, which of the modules were
already in its ``sys.modules`` (a fork handler, run in the child before any task).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.orchestration.local_executor import WarmLocalExecutor
from tests.conftest import ROOT

# Standard-library modules nothing here imports: their presence in a worker is the preload's.
PROBE = ("wave", "colorsys")
# Where the fork handler records (set only while a fixture runs: a handler cannot be removed).
_RECORD: list[Path] = []


def _seen_in_child() -> None:
    if _RECORD:
        loaded = [m for m in PROBE if m in sys.modules]
        (_RECORD[0] / str(os.getpid())).write_text(json.dumps(loaded))


os.register_at_fork(after_in_child=_seen_in_child)


@pytest.fixture
def forked_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Start a real WarmLocalExecutor (2 workers); returns what each worker saw at its fork."""
    for name in PROBE:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(WarmLocalExecutor, "modules", PROBE)
    monkeypatch.setattr(WarmLocalExecutor, "preloaded", None)
    record = tmp_path / "forks"
    record.mkdir()

    def start() -> list[list[str]]:
        executor = WarmLocalExecutor(parallelism=2)
        _RECORD.append(record)
        try:
            executor.start()
            assert len(executor.workers) == 2
        finally:
            _RECORD.clear()
            executor.end()
        return [json.loads(p.read_text()) for p in sorted(record.iterdir())]

    yield start
    _RECORD.clear()


def test_the_workers_fork_with_the_task_libraries_already_imported(forked_workers) -> None:
    seen = forked_workers()
    assert len(seen) == 2
    assert seen == [list(PROBE), list(PROBE)]
    assert set(WarmLocalExecutor.preloaded or {}) == set(PROBE)


def test_mlops_preload_false_gives_the_plain_local_executor(forked_workers, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_PRELOAD", "false")
    seen = forked_workers()
    assert seen == [[], []]
    assert WarmLocalExecutor.preloaded is None


def test_make_run_uses_it_and_loading_it_imports_no_heavy_library() -> None:
    """The API server and the DAG processor load the executor class to know its name."""
    env_sh = (ROOT / "scripts" / "embedded_env.sh").read_text()
    assert "include.orchestration.local_executor.WarmLocalExecutor" in env_sh
    code = (
        "import json, sys\n"
        "from airflow.executors.executor_loader import ExecutorLoader\n"
        "cls, _ = ExecutorLoader.import_executor_cls("
        "ExecutorLoader.get_executor_names()[0])\n"
        "heavy = ('pandas', 'great_expectations', 'feast', 'mlflow', 'torch', 'xgboost')\n"
        "print(json.dumps([cls.__name__, [m for m in heavy if m in sys.modules]]))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW__CORE__EXECUTOR": (
            "WarmLocalExecutor:include.orchestration.local_executor.WarmLocalExecutor"
        ),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["WarmLocalExecutor", []]
