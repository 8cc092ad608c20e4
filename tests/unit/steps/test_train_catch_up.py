"""C18: a catch-up (first start, restart after downtime) trains once, after its last day.

Every day the catch-up materializes triggers ``train_model``; a model trained on part of the
landed days is replaced, or rejected by the gate's minimums, by the next day's run, and a new
user's first mails were those rejections. A run that new features triggered now waits while
an ingest still owes landed days (``catch_up_pending``), as a skip with the reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from include.data import batches, lake
from include.steps.train_model import TrainingWindowEmpty, build_training_set, catch_up_pending

D = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
TODAY = date(2026, 11, 11)


def test_C18_landed_days_newer_than_the_newest_featured_day_are_owed() -> None:
    owed = catch_up_pending(
        {"tx": D, "labels": D},
        {"tx": D[:4], "labels": D[:6]},
        {},
        start=D[0],
        today=TODAY,
    )
    assert owed == {"tx": D[4:], "labels": D[6:]}


def test_C18_nothing_is_owed_once_every_landed_day_is_done() -> None:
    assert catch_up_pending({"tx": D}, {"tx": D}, {}, start=D[0], today=TODAY) == {}


def test_C18_a_quarantined_or_failed_day_the_catch_up_went_past_holds_nothing_up() -> None:
    # Day 3 failed (no outcome) and day 7 was quarantined; 8 and 9 are done.
    done = [d for d in D if d not in (D[3], D[7])]
    assert catch_up_pending({"tx": D}, {"tx": done}, {"tx": [D[7]]}, start=D[0], today=TODAY) == {}
    # The newest day quarantined: its outcome is known, nothing is owed.
    assert catch_up_pending({"tx": D}, {"tx": D[:9]}, {"tx": [D[9]]}, start=D[0], today=TODAY) == {}


def test_C18_a_day_that_has_not_ended_or_precedes_the_start_is_not_owed() -> None:
    # Today's batch is ingested tomorrow; days before the ingest start date never are.
    landed = [D[0] - timedelta(days=3), *D, TODAY]
    assert catch_up_pending({"tx": landed}, {"tx": D}, {}, start=D[0], today=TODAY) == {}
    assert catch_up_pending({"tx": landed}, {}, {}, start=D[0], today=TODAY) == {"tx": D}


def _land(root: Path, feed: str, day: date) -> None:
    folder = root / "landing" / feed / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.csv").write_text("a,b\n1,2\n")


def test_C18_landed_and_quarantined_days_are_read_from_a_listing(data_root: Path) -> None:
    for day in D[:3]:
        _land(data_root, "transactions", day)
    (data_root / "landing" / "transactions" / "README.md").write_text("not a day")
    half = data_root / "landing" / "transactions" / D[5].isoformat()
    half.mkdir(parents=True)
    (half / "part-0.csv.tmp").write_text("a writer in progress")
    q = data_root / "lake" / "quarantine" / "transactions" / D[1].isoformat() / "run_1"
    q.mkdir(parents=True)
    (q / "summary.json").write_text("{}")
    assert batches.landed_days(str(data_root / "landing"), "transactions") == D[:3]
    assert lake.quarantined_days(str(data_root / "lake"), "transactions") == [D[1]]


def test_C18_a_features_triggered_run_skips_with_the_days_still_owed(data_root: Path) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=i) for i in (2, 1, 0)]
    for day in days:
        _land(data_root, "transactions", day)
    with pytest.raises(TrainingWindowEmpty, match=r"catching up: transactions") as caught:
        build_training_set(28, "run_x", wait_for_catch_up=True)
    assert f"{days[0]}..{days[-1]} (3 days)" in str(caught.value)
    # A person's run (or monitoring's) does not wait: it trains on what is there now.
    with pytest.raises(TrainingWindowEmpty, match="ingest and materialize first"):
        build_training_set(28, "run_y", wait_for_catch_up=False)


def test_C19_only_a_run_that_new_features_started_is_automatic() -> None:
    from include.steps.train_model import automatic

    event = [{"partition": "2026-11-20"}]
    assert automatic(event, {})
    assert not automatic([], {})  # a person's run from the UI (Params, no event)
    assert not automatic(event, {"reason": "monitoring: drift in amount"})
    assert not automatic(event, {"end_date": "2026-11-01"})


def test_B12_a_published_day_without_features_is_named_as_owed_by_the_features_run(
    data_root: Path,
) -> None:
    """Its Asset event was dropped: the day is validated, only its features are owed; the
    skip says which step owes it, not that the ingest does."""
    import pandas as pd

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=i) for i in (2, 1, 0)]
    for day in days:
        _land(data_root, "transactions", day)
    lake.stage(
        pd.DataFrame({"a": [1]}),
        lake.partition_uri(str(data_root / "lake"), "transactions", days[-1]),
    )
    with pytest.raises(TrainingWindowEmpty) as caught:
        build_training_set(28, "run_x", wait_for_catch_up=True)
    said = str(caught.value)
    assert f"transactions {days[0]}..{days[1]} (2 days) landed, not yet ingested" in said
    assert f"transactions {days[-1]} published, features not computed yet" in said
