"""Which day a monitor_drift run judges the window before (include.steps.monitor_drift).

Its Params promise "empty = the day before the run". A scheduled run (30 3 * * *) runs after
its data interval ends; a manual run's interval is inferred back to the schedule's last
tick, which, triggered before 03:30 UTC, is yesterday's: the run day must come from when it
runs (``run_after``), not from that interval.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from include.steps.monitor_drift import run_day_of

pytestmark = pytest.mark.unit


def test_a_manual_run_after_midnight_judges_up_to_yesterday_not_the_day_before() -> None:
    triggered = datetime(2026, 12, 8, 0, 24, tzinfo=UTC)
    inferred_end = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)  # the schedule's last tick

    assert run_day_of(triggered, inferred_end, triggered) == date(2026, 12, 8)


def test_a_scheduled_run_judges_the_day_its_interval_ends() -> None:
    end = datetime(2026, 12, 8, 3, 30, tzinfo=UTC)

    assert run_day_of(end, end, end - timedelta(days=1)) == date(2026, 12, 8)


def test_without_run_after_the_interval_end_then_the_logical_date_decide() -> None:
    end = datetime(2026, 12, 8, 3, 30, tzinfo=UTC)

    assert run_day_of(None, end, end - timedelta(days=1)) == date(2026, 12, 8)
    assert run_day_of(None, None, datetime(2026, 12, 5, 9, tzinfo=UTC)) == date(2026, 12, 5)


def test_the_day_is_the_utc_day() -> None:
    late_in_new_york = datetime(2026, 12, 7, 22, 0, tzinfo=timezone(timedelta(hours=-5)))

    assert run_day_of(late_in_new_york) == date(2026, 12, 8)
