"""Quarantine evidence retention: the raw files, the unmasked validation result and the Data
Docs go after ``privacy.quarantine_retention_days``; the summary stays and says why.

Batches are quarantined with the real ``quarantine_batch`` (the evidence written into the
quarantine folder first, as ingest does for a feed with pii columns), so the summary, its
``quarantined_at`` and the folder's shape are the ones production writes.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from include import layout
from include.quality.quarantine import quarantine_batch
from include.quality.retention import DELETED_AT, DELETED_REASON, expire_quarantine

FEED = "events"
DAY = date(2026, 11, 20)
RAW = "C-RAW-0001"  # a raw personal value, in every evidence file
DAYS = 30


def quarantined(root: Path, run: str = "run_1", feed: str = FEED, day: date = DAY) -> Path:
    """A batch quarantined now, with raw files, unmasked result and Data Docs; its folder."""
    lake = str(root / "lake")
    folder = layout.quarantine_dir(lake, feed, day, run)
    landing = root / "landing" / feed / day.isoformat()
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "batch.csv").write_text(f"id,amount\n{RAW},1\n")
    result = Path(layout.evidence(folder, layout.VALIDATION_RESULT))
    docs = Path(layout.evidence(folder, layout.DATA_DOCS, "index.html"))
    (docs.parent / "validations").mkdir(parents=True)
    result.write_text(json.dumps({"sample_keys": [RAW]}))
    docs.write_text(f"<td>{RAW}</td>")
    (docs.parent / "validations" / "run.html").write_text(f"<td>{RAW}</td>")
    report = {
        "feed": feed,
        "day": day.isoformat(),
        "run_id": run,
        "row_count": 1,
        "files": [{"uri": str(landing / "batch.csv")}],
        "causes": ["3 ids are not in the expected format"],
        "checks": [{"name": "id_format", "success": False, "stage": "rules"}],
    }
    quarantine_batch(report, {"report_uri": str(result), "data_docs_uri": str(docs)}, folder)
    return Path(folder)


def summary_of(folder: Path) -> dict:
    return json.loads((folder / layout.QUARANTINE_SUMMARY).read_text())


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def expire(root: Path, after: timedelta, days: int = DAYS):
    return expire_quarantine(str(root / "lake"), FEED, days, now=datetime.now(UTC) + after)


def test_E9_evidence_older_than_the_retention_is_deleted_and_the_summary_says_why(
    tmp_path: Path,
) -> None:
    # given a batch quarantined with its raw files, unmasked result and Data Docs
    folder = quarantined(tmp_path)
    before = summary_of(folder)
    assert {"raw/batch.csv", "validation_result.json", "data_docs/index.html"} <= files_in(folder)
    # when retention runs the day the batch is 30 days old
    result = expire(tmp_path, timedelta(days=DAYS, minutes=1))
    # then only the summary is left, no raw value anywhere, no empty evidence folder
    assert files_in(folder) == {layout.QUARANTINE_SUMMARY}
    assert [p.name for p in folder.iterdir()] == [layout.QUARANTINE_SUMMARY]
    assert RAW not in (folder / layout.QUARANTINE_SUMMARY).read_text()
    # and the summary keeps what happened, adding when and why the evidence went
    after = summary_of(folder)
    assert {k: after[k] for k in before} == before
    assert datetime.fromisoformat(after[DELETED_AT]) > datetime.fromisoformat(
        before["quarantined_at"]
    )
    assert "30 days after" in after[DELETED_REASON]
    assert "privacy.quarantine_retention_days" in after[DELETED_REASON]
    assert result.expired == [str(folder)] and result.deleted_files == 4
    assert result.to_dict()["retention_days"] == DAYS


def test_E9_evidence_younger_than_the_retention_is_kept(tmp_path: Path) -> None:
    folder = quarantined(tmp_path)
    files = files_in(folder)
    # when retention runs one minute before the batch is 30 days old
    result = expire(tmp_path, timedelta(days=DAYS, minutes=-1))
    # then nothing is deleted and the summary is not touched
    assert files_in(folder) == files
    assert DELETED_AT not in summary_of(folder)
    assert result.expired == [] and result.deleted_files == 0


def test_E9_the_age_is_the_summarys_quarantined_at_not_the_files_dates(tmp_path: Path) -> None:
    # given a batch quarantined now whose raw file is a year old on disk
    folder = quarantined(tmp_path)
    old = (datetime.now(UTC) - timedelta(days=365)).timestamp()
    os.utime(folder / "raw" / "batch.csv", (old, old))
    # when retention runs today, then the evidence stays
    expire(tmp_path, timedelta(0))
    assert "raw/batch.csv" in files_in(folder)
    # and with a shorter retention, the summary's date decides too
    expire(tmp_path, timedelta(days=2), days=1)
    assert files_in(folder) == {layout.QUARANTINE_SUMMARY}


def test_E9_running_it_again_changes_nothing(tmp_path: Path) -> None:
    folder = quarantined(tmp_path)
    expire(tmp_path, timedelta(days=DAYS + 1))
    first = (folder / layout.QUARANTINE_SUMMARY).read_bytes()
    # when it runs again (the next day's ingest)
    result = expire(tmp_path, timedelta(days=DAYS + 2))
    # then the summary keeps the first deletion's time and nothing else happens
    assert (folder / layout.QUARANTINE_SUMMARY).read_bytes() == first
    assert result.expired == [] and result.deleted_files == 0


def test_E9_a_crash_before_the_summary_is_marked_is_finished_next_time(tmp_path: Path) -> None:
    # given a run that deleted the evidence and died before marking the summary
    folder = quarantined(tmp_path)
    for name in files_in(folder) - {layout.QUARANTINE_SUMMARY}:
        (folder / name).unlink()
    # when retention runs again, then the summary is marked
    result = expire(tmp_path, timedelta(days=DAYS + 1))
    assert DELETED_AT in summary_of(folder)
    assert result.expired == [str(folder)] and result.deleted_files == 0


def test_E9_evidence_put_back_after_the_deletion_is_deleted_again(tmp_path: Path) -> None:
    folder = quarantined(tmp_path)
    expire(tmp_path, timedelta(days=DAYS + 1))
    marked = summary_of(folder)[DELETED_AT]
    (folder / "raw").mkdir()
    (folder / "raw" / "batch.csv").write_text(RAW)
    expire(tmp_path, timedelta(days=DAYS + 2))
    assert files_in(folder) == {layout.QUARANTINE_SUMMARY}
    assert summary_of(folder)[DELETED_AT] == marked


def test_E9_decisions_acceptances_masked_reports_and_other_feeds_are_kept(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    folder = quarantined(tmp_path)
    (folder / layout.DECISION).write_text(json.dumps({"decision": "kept_in_quarantine"}))
    accepted = Path(layout.acceptance_uri(str(lake), FEED, DAY, "abc"))
    accepted.write_text("{}")
    masked = Path(layout.evidence(layout.report_dir(str(lake), FEED, DAY, "run_1"), "x.json"))
    masked.parent.mkdir(parents=True)
    masked.write_text("{}")
    other = quarantined(tmp_path, feed="other_feed")
    other_files = files_in(other)
    expire(tmp_path, timedelta(days=DAYS + 1))
    assert files_in(folder) == {layout.QUARANTINE_SUMMARY, layout.DECISION}
    assert accepted.exists() and masked.exists()
    assert files_in(other) == other_files  # each feed's ingest expires its own


def test_E9_orphaned_evidence_is_dated_by_its_newest_file(tmp_path: Path) -> None:
    # given unmasked evidence an ingest wrote before it could quarantine (no summary)
    lake = str(tmp_path / "lake")
    orphan = Path(layout.quarantine_dir(lake, FEED, DAY, "run_2"))
    (orphan / layout.DATA_DOCS).mkdir(parents=True)
    (orphan / layout.VALIDATION_RESULT).write_text(RAW)
    (orphan / layout.DATA_DOCS / "index.html").write_text(RAW)
    old = (datetime.now(UTC) - timedelta(days=DAYS + 1)).timestamp()
    os.utime(orphan / layout.VALIDATION_RESULT, (old, old))
    # when retention runs while one of its files is recent, then it is kept
    expire(tmp_path, timedelta(0))
    assert len(files_in(orphan)) == 2
    # and once every file is older than the retention, it is deleted
    os.utime(orphan / layout.DATA_DOCS / "index.html", (old, old))
    result = expire(tmp_path, timedelta(0))
    assert files_in(orphan) == set() and result.expired == [str(orphan)]


def test_E9_a_batch_that_cannot_be_dated_is_kept_and_named(tmp_path: Path) -> None:
    folder = quarantined(tmp_path)
    (folder / layout.QUARANTINE_SUMMARY).write_text("{not json")
    result = expire(tmp_path, timedelta(days=DAYS * 10))
    assert "raw/batch.csv" in files_in(folder)
    assert result.undated == [str(folder)]


def test_E9_no_quarantine_and_a_bad_retention(tmp_path: Path) -> None:
    assert expire(tmp_path, timedelta(0)).to_dict() == {
        "feed": FEED,
        "retention_days": DAYS,
        "expired": [],
        "deleted_files": 0,
        "undated": [],
    }
    with pytest.raises(ValueError, match="at least 1"):
        expire(tmp_path, timedelta(0), days=0)
