"""Tier 3: ``erase_subject`` end to end with ``dag.test()`` on a private copy of the trained
platform (tests/platform.py): its lake, landing zone, feature tables, SQLite online store,
training set and MLflow registry, plus a day scored by the batch scorer, requests captured
by the service's capture writer and a batch quarantined by the ingest steps, all holding
one person's rows. Then the person is erased: every location loses exactly their rows,
the record says so (and what it could not reach), the raw id appears in no log, XCom or
record, and a second run changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from include.config import get_settings
from include.features import schema
from include.privacy.keys import load_key
from include.privacy.pseudonym import Pseudonymiser
from include.spec import load_spec
from tests.integration.conftest import run_dag, task_states
from tests.platform import Platform, copy_platform, use_platform

pytestmark = pytest.mark.e2e
DAG = "erase_subject"


def _frames(folder: Path, pattern: str) -> dict[Path, pd.DataFrame]:
    read = pd.read_parquet if pattern.endswith(".parquet") else _read_csv
    return {p: read(p) for p in sorted(folder.glob(pattern))}


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _landing_rows(root: Path, feed: str) -> pd.DataFrame:
    return pd.concat(_frames(root / "landing" / feed, "*/*.csv").values(), ignore_index=True)


class World:
    """Where the subject's rows are, counted the same way before and after the erasure."""

    def __init__(self, root: Path, raw_id: str, pseudonym: str, tx_ids: set[str]) -> None:
        self.root, self.raw_id, self.pseudonym, self.tx_ids = root, raw_id, pseudonym, tx_ids
        spec = load_spec()
        self.events, self.labels = spec.events_feed, spec.labels_feed
        self.person = spec.events_feed.pii_columns[0]
        self.key = spec.events_feed.key
        fspec = schema.feature_spec(spec)
        self.project = fspec.project
        self.view = next(v.name for v in fspec.views if v.join_key == self.person)

    def _count(self, frames: dict[Path, pd.DataFrame], column: str, values: set[str]) -> tuple:
        mine = sum(int(f[column].astype(str).isin(values).sum()) for f in frames.values())
        return mine, sum(len(f) for f in frames.values())

    def counts(self) -> dict[str, tuple[int, int]]:
        """Location -> (the subject's rows, all rows)."""
        lake, me, txs = self.root / "lake", {self.pseudonym}, self.tx_ids
        capture = [
            json.loads(line)
            for p in sorted((lake / "capture").glob("*/*.jsonl"))
            for line in p.read_text().splitlines()
        ]
        quarantined = _frames(lake / "quarantine" / self.events.name, "*/*/raw/*.csv")
        return {
            "lake_events": self._count(
                _frames(lake / "validated" / self.events.name, "*/*.parquet"), self.person, me
            ),
            "lake_labels": self._count(
                _frames(lake / "validated" / self.labels.name, "*/*.parquet"), self.key, txs
            ),
            "features": self._count(
                _frames(self.root / "features" / self.view, "*/*.parquet"), self.person, me
            ),
            "online_store": self._online(),
            "predictions": self._count(_frames(lake / "predictions", "*/*.parquet"), self.key, txs),
            "capture": (sum(r["transaction_id"] in txs for r in capture), len(capture)),
            "training_sets": self._count(
                _frames(lake / "training_sets", "*.parquet"), self.person, me
            ),
            "landing_events": self._count(
                {0: _landing_rows(self.root, self.events.name)}, self.person, {self.raw_id}
            ),
            "landing_labels": self._count(
                {0: _landing_rows(self.root, self.labels.name)}, self.key, txs
            ),
            "quarantine": self._count(quarantined, self.person, {self.raw_id}),
        }

    def _online(self) -> tuple[int, int]:
        """The entity's stored values, read with the scoring service's own key encoding."""
        from serving.online import serialize_entity_key

        key = serialize_entity_key({self.person: self.pseudonym})
        with sqlite3.connect(self.root / "feast" / "online.db") as conn:
            table = f'"{self.project}_{self.view}"'
            mine = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE entity_key = ?", [key])
            every = conn.execute(f"SELECT COUNT(*) FROM {table}")
            return mine.fetchone()[0], every.fetchone()[0]


def _score_and_capture(plat: Platform, world: World) -> None:
    """One day of the subject's events scored by the batch scorer; some of their events and
    as many of others' served and captured by the service's capture writer."""
    from include.scoring.batch import score_partition
    from include.scoring.model import scoring_model
    from serving.capture import Capture

    lake = world.root / "lake" / "validated" / world.events.name
    day = max(
        d
        for d in plat.days
        if world.pseudonym
        in set(pd.read_parquet(lake / f"date={d}" / "data.parquet")[world.person])
    )
    score_partition(day, scoring_model())
    scored = pd.read_parquet(lake / f"date={day}" / "data.parquet")
    served = pd.concat(
        [scored[scored[world.person] == world.pseudonym], scored.head(5)]
    ).drop_duplicates(world.key)
    capture = Capture(get_settings().lake_uri)
    now = datetime.now(UTC).isoformat()
    for tx in served[world.key]:
        record = {"request_id": uuid.uuid4().hex, "transaction_id": tx, "served_at": now,
                  "model_name": "m", "model_version": "1", "features": {"f": 1.0}, "score": 0.1,
                  "decision": "approve", "scored": True, "unscored_reason": None,
                  "latency_ms": 1.0, "event_timestamp": now}  # fmt: skip
        capture.offer(record)
    assert capture.flush() == len(served)


def _quarantine_a_batch_with_the_subject(plat: Platform, world: World) -> None:
    """A re-delivery of the subject's rows (and others') for a later day: the ingest steps
    quarantine it (its rows are late, its keys already published) with its raw file."""
    from include.quality.errors import BatchValidationFailed
    from include.steps import ingest

    rows = _landing_rows(world.root, world.events.name)
    batch = pd.concat([rows[rows[world.person] == world.raw_id], rows.head(20)]).drop_duplicates()
    day = plat.days[-1] + timedelta(days=1)
    folder = world.root / "landing" / world.events.name / day.isoformat()
    folder.mkdir(parents=True)
    batch.to_csv(folder / "redelivery.csv", index=False)
    summary = ingest.validate(world.events.name, day.isoformat(), "test__quarantine")
    assert not summary["success"]
    with pytest.raises(BatchValidationFailed):
        ingest.quarantine(summary)


@pytest.fixture
def world(platform: Platform, tmp_path: Path, monkeypatch) -> World:
    """A private platform copy where the most active person has rows in every location."""
    plat = use_platform(copy_platform(platform, tmp_path / "data"), monkeypatch)
    spec = load_spec()
    person, key = spec.events_feed.pii_columns[0], spec.events_feed.key
    raw_events = _landing_rows(plat.root, spec.events_feed.name)
    raw_id = str(raw_events[person].value_counts().index[0])
    pseudonym = Pseudonymiser(load_key(create=False)).value(raw_id)
    tx_ids = set(raw_events.loc[raw_events[person] == raw_id, key])
    found = World(plat.root, raw_id, pseudonym, tx_ids)
    _score_and_capture(plat, found)
    _quarantine_a_batch_with_the_subject(plat, found)
    return found


def _xcoms(dag_run) -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id).with_only_columns(
                XComModel.value
            )
        ).all()
    return "\n".join(json.dumps(r, default=str) for r in rows)


def _records(root: Path, pseudonym: str) -> list[dict]:
    folder = root / "lake" / "privacy" / "erasures" / pseudonym
    return [json.loads(p.read_text()) for p in sorted(folder.glob("2*.json"))]


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every data file the erasure may touch, byte for byte (its own records aside)."""
    kept = ("lake", "landing", "features", "feast")
    return {
        str(p): p.read_bytes()
        for top in kept
        for p in (root / top).rglob("*")
        if p.is_file() and "/privacy/" not in str(p) and not p.name.endswith(("-wal", "-shm"))
    }


def test_E10_erasing_a_subject_removes_exactly_their_rows_everywhere_and_records_it(
    world: World, dagbag, capfd
) -> None:
    # given a person with rows in every location, next to everybody else's
    before = world.counts()
    assert all(mine > 0 for mine, _ in before.values()), before
    landed = sorted((world.root / "landing" / world.events.name).glob("*/*.csv"))
    landing_file = next(p for p in landed if world.raw_id in p.read_text())
    landing_text = landing_file.read_text()
    landing_mtime = landing_file.stat().st_mtime_ns
    # when the person is erased (the request quoting their id in its reason)
    reason = f"ticket GDPR-7: erase {world.raw_id}"
    dr = run_dag(dagbag, DAG, subject_id=world.raw_id, reason=reason)
    out = capfd.readouterr()
    # then the run succeeds and every location lost exactly the person's rows
    assert str(dr.state) == "success", task_states(dr)
    after = world.counts()
    for location, (mine, total) in before.items():
        assert after[location] == (0, total - mine), (location, before[location], after[location])
    # a landing file keeps its header, its other rows as they were, and when it landed
    kept = [line for line in landing_text.splitlines() if world.raw_id not in line]
    assert landing_file.read_text().splitlines() == kept
    assert landing_file.stat().st_mtime_ns == landing_mtime
    # and the record says who asked, why, what went where, and what it could not reach
    (record,) = _records(world.root, world.pseudonym)
    assert record["pseudonym"] == world.pseudonym
    assert record["reason"] == "ticket GDPR-7: erase <subject>"
    assert record["requested"]["run_id"] == dr.run_id
    assert record["requested"]["conf"] == {"column": "", "reason": record["reason"]}
    removed = record["removed"]
    assert removed[f"lake/validated/{world.events.name}"] == before["lake_events"][0]
    assert removed[f"lake/validated/{world.labels.name}"] == before["lake_labels"][0]
    assert removed[f"features/{world.view}"] == before["features"][0]
    assert removed[f"online_store/{world.view}"] == 1  # one entity row
    assert removed["predictions"] == before["predictions"][0]
    assert removed["capture"] == before["capture"][0]
    assert removed["training_sets"] == before["training_sets"][0]
    assert removed[f"landing/{world.events.name}"] == before["landing_events"][0]
    assert removed[f"landing/{world.labels.name}"] == before["landing_labels"][0]
    assert removed[f"quarantine/{world.events.name}"] == before["quarantine"][0]
    assert (
        record["models"]["trained_on"] == ["1"] and record["models"]["aliases"]["champion"] == "1"
    )
    gaps = {g["what"]: g["detail"] for g in record["not_reached"]}
    assert "v1 (champion)" in gaps["trained models and their MLflow runs"]
    for what in ("monitoring reports and Evidently snapshots", "quarantine evidence",
                 "this run in Airflow", "backups and copies"):  # fmt: skip
        assert what in gaps, sorted(gaps)
    # the raw id is in no record, XCom or task log; the logs name the pseudonym
    folder = world.root / "lake" / "privacy" / "erasures" / world.pseudonym
    assert not any(world.raw_id in p.read_text() for p in folder.iterdir())
    assert world.raw_id not in _xcoms(dr)
    assert world.pseudonym in out.out + out.err
    assert world.raw_id not in out.out + out.err

    # when it is erased again, nothing changes but a second record saying so
    files = _snapshot(world.root)
    again = run_dag(dagbag, DAG, subject_id=world.raw_id, reason="ticket GDPR-7, checked")
    assert str(again.state) == "success", task_states(again)
    assert _snapshot(world.root) == files
    second = _records(world.root, world.pseudonym)[-1]
    assert second["rows_removed"] == 0 and second["files_changed"] == []
    assert second["models"]["trained_on"] == ["1"]  # the first run found it; still true
