"""Tier 3: the ingest DAGs end to end with ``dag.test()`` against real GX, a real SMTP
server and (for S3) a moto server. Fault-catalogue ids are in the test names."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from devtools.simulator import land
from include.data import lake
from include.spec import load_spec
from tests.integration.conftest import Mailbox, run_dag, task_states

pytestmark = pytest.mark.e2e
DAY = date(2026, 11, 20)
ROWS = 2000


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def _ingest(dagbag, feed: str, day: date):
    return run_dag(dagbag, f"ingest_{feed}", batch_date=day.isoformat())


def _quarantine_dirs(root: Path, feed: str, day: date) -> list[Path]:
    base = root / "lake" / "quarantine" / feed / day.isoformat()
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.exists() else []


def test_clean_batch_lands_validated_with_an_asset_event(spec, data_root, mailbox, dagbag) -> None:
    # given a clean batch in the landing zone
    landed = land(spec, "transactions", DAY, rows=ROWS)
    raw_bytes = {u: Path(u).read_bytes() for u in landed}
    assert raw_bytes, "nothing was landed"
    # when the day is ingested
    dr = _ingest(dagbag, "transactions", DAY)
    # then it is published, nothing is quarantined, nobody is mailed
    assert str(dr.state) == "success", task_states(dr)
    assert task_states(dr)["quarantine_batch"] == "skipped"
    lake_uri = str(data_root / "lake")
    assert lake.partition_row_counts(lake_uri, "transactions") == {DAY.isoformat(): ROWS}
    assert mailbox.messages == []
    # and this run emitted exactly one event, naming the partition, its rows and its report
    events = _asset_events("validated_transactions", dr)
    assert len(events) == 1, events
    (event,) = events
    assert event["partition"] == DAY.isoformat() and event["rows"] == ROWS
    report = json.loads(Path(event["validation_result_uri"]).read_text())
    assert report["success"] and report["row_count"] == ROWS
    assert (Path(event["validation_result_uri"]).parent / "data_docs" / "index.html").exists()
    # the raw file stays in the landing zone as the source of record, byte for byte
    landing = data_root / "landing" / "transactions" / DAY.isoformat()
    assert sorted(p.name for p in landing.iterdir()) == sorted(Path(u).name for u in landed)
    assert {u: Path(u).read_bytes() for u in landed} == raw_bytes


def test_A5_rerunning_a_date_leaves_row_counts_unchanged(spec, data_root, mailbox, dagbag) -> None:
    land(spec, "transactions", DAY, rows=ROWS)
    lake_uri = str(data_root / "lake")
    first = _ingest(dagbag, "transactions", DAY)
    before = (
        data_root / "lake/validated/transactions" / f"date={DAY}" / "data.parquet"
    ).read_bytes()
    second = _ingest(dagbag, "transactions", DAY)
    assert str(first.state) == str(second.state) == "success"
    # the first run announced the partition once; the unchanged re-run announced nothing
    events = _asset_events("validated_transactions", first)
    assert [(e["partition"], e["rows"]) for e in events] == [(DAY.isoformat(), ROWS)]
    assert task_states(second)["publish_partition"] == "skipped"
    assert _asset_events("validated_transactions", second) == []
    assert lake.partition_row_counts(lake_uri, "transactions") == {DAY.isoformat(): ROWS}
    after = data_root / "lake/validated/transactions" / f"date={DAY}"
    assert [p.name for p in after.iterdir()] == ["data.parquet"]
    assert after.joinpath("data.parquet").read_bytes() == before  # same bytes, no duplicates
    assert mailbox.messages == []


# fault → (catalogue id, the check that must fail)
FAULTS = {
    "missing_column": ("A1", "expect_table_columns_to_match_set"),
    "extra_column": ("A1", "expect_table_columns_to_match_set"),
    "nulls_above_threshold": ("A2", "expect_column_values_to_not_be_null(merchant_category)"),
    "wrong_types": ("A3", "expect_column_values_to_match_regex(amount)"),
    "out_of_range": ("A3", "expect_column_values_to_be_between(amount)"),
    "empty_file": ("A4", "expect_table_row_count_to_be_between"),
    "header_only": ("A4", "expect_table_row_count_to_be_between"),
    "duplicate_keys": ("A6", "expect_column_values_to_be_unique(transaction_id)"),
    "late_rows": ("A7", "expect_column_values_to_be_between(event_timestamp)"),
    "duplicate_delivery": ("A5", "keys_not_already_ingested(transaction_id)"),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=[f"{v[0]}-{k}" for k, v in FAULTS.items()])
def test_faulty_batch_is_quarantined_with_evidence_and_one_mail(
    spec, data_root, mailbox: Mailbox, dagbag, fault: str
) -> None:
    _, expected_check = FAULTS[fault]
    lake_uri = str(data_root / "lake")
    if fault == "duplicate_delivery":  # the previous day was already ingested
        land(spec, "transactions", DAY - timedelta(days=1), rows=ROWS)
        assert str(_ingest(dagbag, "transactions", DAY - timedelta(days=1)).state) == "success"
    before = lake.partition_row_counts(lake_uri, "transactions")
    # given a faulty batch
    landed = land(spec, "transactions", DAY, rows=ROWS, fault=fault)
    raw_bytes = {Path(u).name: Path(u).read_bytes() for u in landed}
    assert raw_bytes, "nothing was landed"
    # when the day is ingested
    dr = _ingest(dagbag, "transactions", DAY)
    # then the run fails in quarantine and nothing is published
    states = task_states(dr)
    assert str(dr.state) == "failed"
    assert states["quarantine_batch"] == "failed" and states["publish_partition"] == "skipped"
    assert lake.partition_row_counts(lake_uri, "transactions") == before  # nothing lost/added
    assert _asset_events("validated_transactions", dr) == []  # and nothing announced
    # the raw files moved, byte for byte, into quarantine with the evidence
    (qdir,) = _quarantine_dirs(data_root, "transactions", DAY)
    assert {p.name: p.read_bytes() for p in (qdir / "raw").iterdir()} == raw_bytes
    assert not any((data_root / "landing" / "transactions" / DAY.isoformat()).glob("*.csv"))
    result = json.loads((qdir / "validation_result.json").read_text())
    failed = {c["name"] for c in result["checks"] if not c["success"]}
    assert expected_check in failed, failed
    assert "<html" in (qdir / "data_docs" / "index.html").read_text().lower()
    # and exactly one mail names the failed check, its count and where the evidence is
    assert len(mailbox.messages) == 1, mailbox.subjects()
    msg = mailbox.messages[0]
    assert "QUARANTINED transactions batch 2026-11-20" in msg["Subject"]
    body = Mailbox.body(msg)
    assert expected_check in body and str(qdir) in body
    assert "accept_batch" not in body  # the spec's own rules: no new normal to accept
    assert msg["To"] == ", ".join(spec.alerts.recipients)


def test_A2_nulls_below_threshold_are_accepted(spec, data_root, mailbox, dagbag) -> None:
    land(spec, "transactions", DAY, rows=ROWS, fault="nulls_below_threshold")
    dr = _ingest(dagbag, "transactions", DAY)
    assert str(dr.state) == "success"
    assert mailbox.messages == []
    events = _asset_events("validated_transactions", dr)
    assert len(events) == 1, events
    report = json.loads(Path(events[0]["validation_result_uri"]).read_text())
    assert 0 < report["null_rates"]["merchant_category"] <= 0.02


def test_label_feed_is_ingested_and_validated_the_same_way(
    spec, data_root, mailbox, dagbag
) -> None:
    land(spec, "labels", DAY, rows=ROWS)
    dr = _ingest(dagbag, "labels", DAY)
    assert str(dr.state) == "success", task_states(dr)
    counts = lake.partition_row_counts(str(data_root / "lake"), "labels")
    assert counts[DAY.isoformat()] > 0
    land(spec, "labels", DAY + timedelta(days=1), rows=ROWS, fault="wrong_types")
    dr = _ingest(dagbag, "labels", DAY + timedelta(days=1))
    assert str(dr.state) == "failed"
    assert len(mailbox.messages) == 1 and "QUARANTINED labels" in mailbox.messages[0]["Subject"]


def _publish_history(spec, days: list[date]) -> None:
    """Clean days validated and published by the ingest steps themselves (the functions the
    DAG's tasks call), so the feed has a history to compare with."""
    from include.steps import ingest

    for d in days:
        land(spec, "transactions", d, rows=ROWS)
        summary = ingest.validate("transactions", d.isoformat(), f"history_{d}")
        assert summary["success"], summary
        ingest.publish(summary)


def _profile_versions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "lake" / "profiles" / "transactions").glob("v*.json"))


def test_A10_A13_batch_level_shifts_against_the_feeds_history(
    spec, data_root, mailbox: Mailbox, dagbag
) -> None:
    """A unit change is quarantined and a share shift published with one warning, each mail
    naming what changed; a quarantined batch never moves the profile, a published one does."""
    history_days = [DAY - timedelta(days=i) for i in range(5, 0, -1)]
    _publish_history(spec, history_days)
    assert _profile_versions(data_root) == [f"v{i}.json" for i in range(1, 6)]
    profile = json.loads((data_root / "lake/profiles/transactions/v5.json").read_text())
    assert profile["partitions"] == [d.isoformat() for d in history_days]
    # a unit change: quarantined, one mail whose subject and first line name it
    land(spec, "transactions", DAY, rows=ROWS, fault="unit_x10")
    dr = _ingest(dagbag, "transactions", DAY)
    assert str(dr.state) == "failed" and task_states(dr)["quarantine_batch"] == "failed"
    assert len(mailbox.messages) == 1, mailbox.subjects()
    subject = mailbox.messages[0]["Subject"]
    assert f"QUARANTINED transactions batch {DAY}: amount: median " in subject
    assert "a unit change?" in subject
    body = Mailbox.body(mailbox.messages[0])
    assert "What changed" in body and "a unit change?" in body
    assert f"trigger accept_batch with feed=transactions and day={DAY}" in body
    assert _profile_versions(data_root)[-1] == "v5.json"  # never learnt from quarantine
    # a share shift the next day: published, one warning mail, the profile moves
    mailbox.clear()
    nxt = DAY + timedelta(days=1)
    land(spec, "transactions", nxt, rows=ROWS, fault="category_shift")
    dr = _ingest(dagbag, "transactions", nxt)
    assert str(dr.state) == "success", task_states(dr)
    assert lake.partition_row_counts(str(data_root / "lake"), "transactions")[str(nxt)] == ROWS
    assert len(mailbox.messages) == 1, mailbox.subjects()
    subject = mailbox.messages[0]["Subject"]
    assert f"WARNING transactions batch {nxt} published: " in subject
    assert re.search(r"[a-z_]+ '[^']+' share [0-9]+ % against [0-9.]+ %", subject), subject
    latest = json.loads((data_root / "lake/profiles/transactions/v6.json").read_text())
    assert latest["partitions"][-1] == nxt.isoformat()
    # the same day run again (same files): no second mail
    mailbox.clear()
    dr = _ingest(dagbag, "transactions", nxt)
    assert str(dr.state) == "success"
    assert mailbox.messages == []


def _answer(choice: str, comment: str, user: str = "ops-anna") -> dict:
    """What the HITL operator returns once a person answered in "Required actions"."""
    return {
        "chosen_options": [choice],
        "params_input": {"comment": comment},
        "responded_by_user": {"id": user, "name": user},
        "responded_at": "2026-12-07T09:00:00+00:00",
    }


def test_A10_a_person_accepts_a_quarantined_unit_change_as_the_new_normal(
    spec, data_root, mailbox: Mailbox, dagbag
) -> None:
    from include.quality.acceptance import NotAcceptable
    from include.steps.accept_batch import decide, find

    _publish_history(spec, [DAY - timedelta(days=i) for i in range(5, 0, -1)])
    land(spec, "transactions", DAY, rows=ROWS, fault="unit_x10")
    assert str(_ingest(dagbag, "transactions", DAY).state) == "failed"
    mailbox.clear()
    lake_uri = str(data_root / "lake")
    assert DAY.isoformat() not in lake.partition_row_counts(lake_uri, "transactions")
    # the review shows the causes; Reject records the answer and publishes nothing
    found = find("transactions", DAY.isoformat())
    assert "amount: median " in found["body"] and "a unit change?" in found["body"]
    kept = decide(found, _answer("Reject", "looks like a bug upstream"), "accept_1")
    assert kept["decision"] == "kept_in_quarantine" and kept["by"] == "ops-anna"
    assert not any((data_root / "landing" / "transactions" / DAY.isoformat()).glob("*"))
    # Approve with a comment: recorded with who, when and why; the files go back to landing
    found = find("transactions", DAY.isoformat())
    decision = decide(found, _answer("Approve", "prices moved to cents upstream"), "accept_2")
    assert decision["decision"] == "accepted" and decision["by"] == "ops-anna"
    assert decision["comment"] == "prices moved to cents upstream"
    assert decision["overruled_checks"] == ["history.quantiles(amount)"]
    (qdir,) = _quarantine_dirs(data_root, "transactions", DAY)
    assert json.loads((qdir / "decision.json").read_text())["by"] == "ops-anna"
    # the feed's ingest then publishes it, names the acceptance, and the profile moves
    dr = _ingest(dagbag, "transactions", DAY)
    assert str(dr.state) == "success", task_states(dr)
    assert lake.partition_row_counts(lake_uri, "transactions")[DAY.isoformat()] == ROWS
    (event,) = _asset_events("validated_transactions", dr)
    report = json.loads(Path(event["validation_result_uri"]).read_text())
    assert report["accepted"]["by"] == "ops-anna"
    (check,) = [c for c in report["checks"] if c["name"] == "history.quantiles(amount)"]
    assert not check["success"] and check["action"] == "warn"
    assert "accepted as the new normal by ops-anna" in check["message"]
    assert mailbox.messages == []  # the person who accepted it needs no warning
    latest = sorted((data_root / "lake/profiles/transactions").glob("v*.json"))[-1]
    assert json.loads(latest.read_text())["partitions"][-1] == DAY.isoformat()
    # it can not be accepted twice; changed files are another batch, never accepted
    with pytest.raises(NotAcceptable, match="was accepted already"):
        find("transactions", DAY.isoformat())
    with pytest.raises(NotAcceptable, match="nothing of transactions for"):
        find("transactions", (DAY + timedelta(days=1)).isoformat())
    land(spec, "transactions", DAY + timedelta(days=1), rows=ROWS, fault="unit_x100")
    assert str(_ingest(dagbag, "transactions", DAY + timedelta(days=1)).state) == "failed"
    with pytest.raises(NotAcceptable, match="breaks the spec's own rules"):
        find("transactions", (DAY + timedelta(days=1)).isoformat())


def _asset_events(name: str, dag_run) -> list[dict]:
    """The extras of the ``name`` events that ``dag_run`` emitted, oldest first.

    The metadata DB is shared by the whole session, so an event is selected by the run that
    produced it (never "the latest one": that may be another test's)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(
                AssetModel.name == name,
                AssetEvent.source_dag_id == dag_run.dag_id,
                AssetEvent.source_run_id == dag_run.run_id,
            )
            .order_by(AssetEvent.id)
        ).all()
        return [dict(r.extra or {}) for r in rows]
