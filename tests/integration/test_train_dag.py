"""Tier 3: the whole loop so far, ingest → features → train → gate, with ``dag.test()``.

Days are ingested through the real ingest steps (validation included, without the DAG's
per-run overhead), features materialized by the ``materialize_features`` DAG, then
``train_model`` runs twice: on real labels (a champion appears, with lineage tags and a
comparison report) and on shuffled labels (rejected with one mail, champion unchanged: C1).
"""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from devtools.simulator import land
from include import storage
from include.data import lake
from include.spec import load_spec
from include.steps import ingest
from tests.conftest import ROOT, Mailbox
from tests.integration.conftest import run_dag, task_states
from tests.integration.test_ingest_dag import _asset_events

pytestmark = pytest.mark.e2e
FIRST = date(2026, 10, 20)
DAYS = [FIRST + timedelta(days=i) for i in range(8)]
ROWS = 1500


@pytest.fixture
def small_spec(data_root, monkeypatch) -> Path:
    """The bundled spec with thresholds for a small test window."""
    raw = yaml.safe_load((ROOT / "usecase" / "fraud.yaml").read_text())
    raw["model"].update(
        min_training_rows=500,
        min_positives=20,
        tuning_budget=1,
        min_slice_rows=100_000,
        minimums={"pr_auc": 0.05, "roc_auc": 0.6},
    )
    # Labels mature in 2 days, so 8 simulated days give ~6 matured days: each part of the time
    # split (train / validation / holdout) then spans a whole day, nights included (fraud
    # clusters at night).
    raw["labels"] = {"delay_days": {"min": 1, "max": 2}, "maturity_days": 2}
    path = data_root.parent / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("MLOPS_USECASE_SPEC", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{data_root / 'mlflow.db'}")
    return path


def _ingest(spec) -> None:
    for day in DAYS:
        for feed in ("transactions", "labels"):
            if land(spec, feed, day, rows=ROWS):
                summary = ingest.validate(feed, day.isoformat(), f"test__{day}")
                assert summary["success"], summary
                ingest.publish(summary)


def _shuffle_labels(lake_uri: str) -> None:
    """Corrupt the labels of the training period; the two newest label days (which label
    the holdout's transactions) stay true, so the gate judges both models on real labels."""
    rng = np.random.default_rng(0)
    for day in lake.partition_row_counts(lake_uri, "labels"):
        if date.fromisoformat(day) >= DAYS[-2]:
            continue
        uri = lake.partition_uri(lake_uri, "labels", date.fromisoformat(day))
        frame = pd.read_parquet(io.BytesIO(storage.read_bytes(uri)))
        frame["is_fraud"] = rng.permutation(frame["is_fraud"].to_numpy())
        storage.write_bytes(uri, lake.to_parquet_bytes(frame))


def _expected_git_commit() -> str:
    """The commit the lineage must name for this checkout, worked out like the training step
    does: HEAD's 12-character hash, ``-dirty`` while tracked files have uncommitted changes.
    (``--no-optional-locks``: a test never writes the repository's index.)"""

    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short=12", "HEAD") + ("-dirty" if dirty else "")


def test_C1_champion_with_lineage_then_a_worse_retrain_is_rejected(
    small_spec, data_root, mailbox: Mailbox, dagbag
) -> None:
    from mlflow import MlflowClient

    spec = load_spec()
    _ingest(spec)
    feat = run_dag(dagbag, "materialize_features", start_date=str(DAYS[0]), end_date=str(DAYS[-1]))
    assert str(feat.state) == "success", task_states(feat)

    # when the model is trained on the real labels (others may edit the tree meanwhile: the
    # commit is read before and after the run, and the tag must be one of the two)
    commits = {_expected_git_commit()}
    first = run_dag(dagbag, "train_model", tuning_budget=1)
    commits.add(_expected_git_commit())
    assert str(first.state) == "success", task_states(first)
    assert task_states(first)["publish_champion"] == "success"
    client = MlflowClient()
    name = spec.model.registered_name
    champion = client.get_model_version_by_alias(name, "champion")
    # then the champion carries its lineage and the comparison report
    tags = champion.tags
    for key in (
        "data_partitions",
        "feature_service",
        "validation_result_ids",
        "git_commit",
        "dag_run_id",
    ):
        assert any(k.endswith(key) and v for k, v in tags.items()), (key, tags)
    # the commit is the checkout's real one, never the "unknown" of a failed git call
    assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", tags["lineage.git_commit"]), tags
    assert tags["lineage.git_commit"] in commits, (tags["lineage.git_commit"], commits)
    assert tags["lineage.dag_run_id"] == first.run_id
    assert tags.get("gate.report", "").startswith("runs:/")
    # and this run (not another test's) announced the promotion, once
    events = _asset_events("champion_model", first)
    assert len(events) == 1, events
    assert str(events[0]["version"]) == str(champion.version)
    assert events[0]["alias"] == "champion"
    assert mailbox.messages == []

    # when it is retrained on shuffled labels
    _shuffle_labels(str(data_root / "lake"))
    second = run_dag(dagbag, "train_model", tuning_budget=1)
    # then the challenger is rejected, the champion stays, one mail says why
    assert str(second.state) == "success", task_states(second)
    assert task_states(second)["report_rejection"] == "success"
    assert task_states(second)["publish_champion"] == "skipped"
    assert _asset_events("champion_model", second) == []  # no promotion announced
    assert str(client.get_model_version_by_alias(name, "champion").version) == str(champion.version)
    assert len(mailbox.messages) == 1, mailbox.subjects()
    assert "RETRAIN REJECTED" in mailbox.messages[0]["Subject"]
    assert "beats_champion" in Mailbox.body(mailbox.messages[0])


def test_training_is_skipped_not_failed_before_labels_mature(
    small_spec, data_root, mailbox, dagbag
):
    spec = load_spec()
    for feed in ("transactions", "labels"):
        if land(spec, feed, DAYS[0], rows=ROWS):
            summary = ingest.validate(feed, DAYS[0].isoformat(), "test__young")
            ingest.publish(summary)
    run = run_dag(dagbag, "train_model")
    assert str(run.state) == "success"
    assert task_states(run)["build_training_set"] == "skipped"
    assert mailbox.messages == []
