"""Warm-up per feature (include/monitoring/warmup.py, include.features.schema.feature_windows).

Given a young platform (14 days of history) whose champion learned from its first week,
when monitoring judges a window, then each feature is judged on the rows its own window has
filled for: a 1-day feature at once, a 30-day one not before 30 days exist (C5); a shift in
a 1-day feature is a real ``drift`` verdict, and the share counts the judged features only.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from include.features import schema
from include.monitoring import policy, reports, warmup
from include.spec import MonitoringSpec, load_spec
from tests.conftest import ROOT

MON = MonitoringSpec()
START = date(2026, 11, 1)  # the first published events partition
REFERENCE_DAYS = [START + timedelta(days=i) for i in range(7)]  # the champion's training set
WINDOW_DAYS = [START + timedelta(days=i) for i in (11, 12, 13)]  # the nightly window
ROWS_PER_DAY = 2_000
WINDOWS = {"count_1d": 1, "count_30d": 30, "hour": 0}


def _stamps(days: list[date], per_day: int, rng: np.random.Generator) -> pd.Series:
    base = np.repeat(pd.to_datetime(days).to_numpy(), per_day)
    seconds = rng.integers(0, 86_400, len(base)).astype("timedelta64[s]")
    return pd.Series(pd.to_datetime(base + seconds, utc=True))


def _side(days: list[date], rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    """Features shaped like a young platform's: a 1-day count that is stationary from the
    second day on (its first day only sees part of a day), a 30-day count that grows with
    the platform's age, and the hour of the event (complete from the first row)."""
    stamps = _stamps(days, ROWS_PER_DAY, rng)
    age = (stamps.dt.tz_localize(None).dt.normalize() - pd.Timestamp(START)).dt.days
    n = len(stamps)
    daily = rng.poisson(3.0, n).astype("float64") + shift * 3.0
    daily = np.where(age == 0, daily * (stamps.dt.hour.to_numpy() / 24.0), daily)
    return pd.DataFrame(
        {
            "count_1d": daily,
            "count_30d": rng.poisson(3.0 * np.minimum(age.to_numpy() + 1, 30)).astype("float64"),
            "hour": stamps.dt.hour.astype("float64"),
            "ts": stamps,
        }
    )


@pytest.fixture(scope="module")
def sides() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(19)
    return _side(REFERENCE_DAYS, rng), _side(WINDOW_DAYS, rng), _side(WINDOW_DAYS, rng, 0.8)


# ---------------------------------------------------------------------------- the windows
def test_C5_each_feature_needs_its_own_window_derived_from_the_spec() -> None:
    fspec = schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml"))
    aggregates = {a.feature: a for v in fspec.views for a in v.aggregates}
    request = {r.name: r for r in fspec.request}

    windows = schema.feature_windows(fspec)

    assert list(windows) == schema.model_features(fspec)
    for feature, a in aggregates.items():
        by_label_time = fspec.label_delay_days if a.source == "labels" else 0
        assert windows[feature] == a.window + by_label_time, feature
    assert {windows[f] for f, a in aggregates.items() if a.window == 1} == {1}
    for name, r in request.items():  # a request-time feature needs what its inputs need
        stored = [aggregates[i].window for i in r.inputs if i in aggregates]
        assert windows[name] == max(stored, default=0), name
    assert 0 in {windows[r] for r in request} and 30 in {windows[r] for r in request}


# ------------------------------------------------------------------------------ the plan
def test_C5_a_1_day_feature_is_judged_on_a_14_day_history_and_a_30_day_one_warms_up(
    sides,
) -> None:
    reference, current, _ = sides

    plan = warmup.plan(WINDOWS, START, reference["ts"], current["ts"], MON.min_sample_rows)

    assert plan["hour"].judged and plan["hour"].reference_rows == len(reference)
    one_day = plan["count_1d"]
    assert one_day.judged and one_day.filled_on == date(2026, 11, 2)
    assert one_day.reference_rows == 6 * ROWS_PER_DAY  # the first day set aside
    assert one_day.current_rows == len(current) and one_day.current_set_aside == 0
    thirty = plan["count_30d"]
    assert not thirty.judged and thirty.filled_on == date(2026, 12, 1)
    assert thirty.reference_rows == 0 and thirty.reference_short
    assert thirty.as_dict()["filled_on"] == "2026-12-01"


def test_C5_an_old_platform_judges_every_feature_on_every_row(sides) -> None:
    reference, current, _ = sides
    long_ago = START - timedelta(days=60)

    plan = warmup.plan(WINDOWS, long_ago, reference["ts"], current["ts"], MON.min_sample_rows)

    assert all(w.judged and w.reference_rows == len(reference) for w in plan.values())


def test_C5_a_window_chosen_before_a_feature_filled_warms_it_up_on_the_current_side() -> None:
    rng = np.random.default_rng(1)
    early = _stamps([START, START + timedelta(days=1)], 2_000, rng)
    old_reference = _stamps([START + timedelta(days=40)], 2_000, rng)

    plan = warmup.plan({"count_7d": 7}, START, old_reference, early, MON.min_sample_rows)

    w = plan["count_7d"]
    assert not w.judged and w.current_short and not w.reference_short
    assert w.current_set_aside == 4_000 and w.current_rows == 0


def test_C5_a_thin_window_is_not_warm_up(sides) -> None:
    """20 current rows, all after every window filled: the minimum sample guard answers."""
    reference, current, _ = sides

    plan = warmup.plan(WINDOWS, START, reference["ts"], current["ts"][:20], MON.min_sample_rows)

    assert plan["count_1d"].judged and not plan["count_1d"].current_short


def test_mask_sets_aside_each_features_rows_before_its_window_filled(sides) -> None:
    reference, current, _ = sides
    plan = warmup.plan(WINDOWS, START, reference["ts"], current["ts"], MON.min_sample_rows)

    masked = warmup.mask(reference[list(WINDOWS)], reference["ts"], plan)

    first_day = reference["ts"].dt.date == START
    assert masked.loc[first_day, "count_1d"].isna().all()
    assert masked.loc[~first_day, "count_1d"].equals(reference.loc[~first_day, "count_1d"])
    assert masked["count_30d"].isna().all()
    assert masked["hour"].equals(reference["hour"])
    assert reference["count_30d"].notna().all()  # a copy: the input is untouched


# ------------------------------------------------------- a real verdict on a young platform
def _judge(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict, dict[str, str]]:
    plan = warmup.plan(WINDOWS, START, reference["ts"], current["ts"], MON.min_sample_rows)
    judged = [f for f, w in plan.items() if w.judged]
    drift = reports.data_drift(
        warmup.mask(reference, reference["ts"], plan),
        warmup.mask(current, current["ts"], plan),
        judged,
        MON,
        warming_up={f: w.as_dict() for f, w in plan.items() if not w.judged},
    ).summary
    return drift, policy.verdicts({"data_drift": drift}, MON)


def test_C5_a_shifted_1_day_feature_is_drift_on_a_young_platform(sides) -> None:
    reference, _, shifted = sides

    drift, verdicts = _judge(reference, shifted)

    assert set(drift["columns"]) == {"count_1d", "hour"}
    assert drift["columns"]["count_1d"]["drifted"], drift["columns"]
    assert not drift["columns"]["hour"]["drifted"]
    assert drift["share"] == 0.5  # 1 of the 2 judged, not 1 of 3
    assert list(drift["warming_up"]) == ["count_30d"]
    assert verdicts["data_drift"] == policy.BREACH


def test_C5_a_stable_young_platform_is_ok_though_its_30_day_counts_grew(sides) -> None:
    reference, current, _ = sides
    grown = reports.data_drift(reference, current, ["count_30d"], MON).summary

    drift, verdicts = _judge(reference, current)

    assert grown["columns"]["count_30d"]["drifted"]  # what judging it would have said
    assert drift["drifted_columns"] == [] and verdicts["data_drift"] == policy.OK
