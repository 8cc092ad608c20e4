"""The train_model DAG's trigger and announcement rules (include/steps/train_model.py).

Training uses only partitions that have features when the run builds its training set (a
manual ``end_date`` bounds it further); the triggering events' newest partition is kept as
lineage; a promotion is announced exactly once.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from include.steps.train_model import already_announced, ready_through, training_days

D = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]


def test_the_newest_partition_named_by_the_triggering_events_bounds_the_window() -> None:
    events = [{"partitions": ["2026-11-03", "2026-11-04"]}, {"partitions": ["2026-11-02"]}]
    assert ready_through(events) == "2026-11-04"
    assert ready_through([]) is None  # a manual run: what has features now
    assert ready_through([{"rows": {}}]) is None


def test_C11_a_partition_published_without_features_is_not_trained_on() -> None:
    """The race of the review: day 9 was published while the run started; its features are
    not computed yet, so taking it would drop its rows in the point-in-time join."""
    published, featured = D, D[:9]
    assert training_days(published, featured, window_days=28, end=None) == D[:9]
    # A manual end_date of day 6: nothing newer, even if it has features now.
    assert training_days(published, featured, window_days=28, end=D[6]) == D[:7]
    # The window counts back from the newest ready day.
    assert training_days(published, featured, window_days=3, end=None) == D[6:9]
    assert training_days(published, [], window_days=28, end=None) == []


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        ([], False),
        ([{"model": "fraud_is_fraud", "version": "2"}], False),
        ([{"model": "fraud_is_fraud", "version": "3"}], True),
        ([{"model": "other", "version": "3"}, {"model": "fraud_is_fraud", "version": 3}], True),
    ],
)
def test_a_promotion_is_announced_once(previous, expected) -> None:
    assert already_announced(previous, {"model": "fraud_is_fraud", "version": "3"}) is expected
