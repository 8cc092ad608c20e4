"""The on-demand features' one definition: the row form (serving) and the frame form (Feast's
on-demand view) give the same values, on the edge cases that decide a score (C4 skew)."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from include.features import request_time, schema
from include.spec import load_spec
from tests.conftest import ROOT

CET = timezone(timedelta(hours=1))
NEPAL = timezone(timedelta(hours=5, minutes=45))
MEANS = [50.0, 0.0, -3.0, None, math.nan, math.inf, 1e-320, 25.5]
AMOUNTS = [100.0, 0.01, 50_000.0, 0.0, math.nan]
STAMPS = [
    datetime(2026, 12, 1, 0, 0, tzinfo=UTC),  # an hour boundary
    datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=UTC),  # the last instant of a day
    datetime(2026, 12, 1, 0, 30, tzinfo=CET),  # 23:30 UTC the day before
    datetime(2026, 12, 1, 5, 44, 59, tzinfo=NEPAL),  # 23:59:59 UTC the day before
    datetime(2026, 12, 1, 5, 45, tzinfo=NEPAL),  # 00:00 UTC
    pd.Timestamp("2026-03-29 03:30", tz="Europe/Berlin"),  # 01:30 UTC, just after DST starts
]


def _frame(amounts, stamps, means, window: int = 30) -> pd.DataFrame:
    """What Feast hands the on-demand view: request fields plus the customer means."""
    return pd.DataFrame(
        {
            "amount": pd.Series(amounts, dtype="float64"),
            "event_timestamp": pd.to_datetime(pd.Series(stamps), utc=True),
            "customer_amount_mean_1d": pd.Series([1.0] * len(means), dtype="float64"),
            f"customer_amount_mean_{window}d": pd.Series(
                [math.nan if m is None else m for m in means], dtype="float64"
            ),
            "customer_amount_mean_7d": pd.Series([2.0] * len(means), dtype="float64"),
        }
    )


def test_the_names_are_the_schemas() -> None:
    fspec = schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml"))
    window = fspec.longest_customer_window
    assert list(schema.request_features(fspec)) == [
        request_time.ratio_feature(window),
        request_time.HOUR_OF_DAY,
    ]
    mean = f"{request_time.MEAN_PREFIX}{window}d"
    assert schema.customer_features(fspec)[mean] == "float"
    assert request_time.longest_mean(schema.customer_features(fspec)) == (mean, window)
    assert (request_time.AMOUNT, request_time.TIMESTAMP) == (schema.AMOUNT, schema.TIMESTAMP)


@pytest.mark.parametrize(
    ("mean", "expected"),
    [(50.0, 2.0), (0.0, None), (-3.0, None), (None, None), (math.nan, None), (math.inf, 0.0)],
)
def test_the_ratio_exists_only_where_the_mean_is_positive(mean, expected) -> None:
    got = request_time.amount_to_mean(100.0, mean)
    assert math.isnan(got) if expected is None else got == expected


def test_a_tiny_mean_gives_infinity_not_an_error() -> None:
    assert request_time.amount_to_mean(50_000.0, 1e-320) == math.inf


@pytest.mark.parametrize(
    ("stamp", "hour"),
    list(zip(STAMPS, [0, 23, 23, 23, 0, 1], strict=True)),
)
def test_the_hour_is_taken_in_utc(stamp, hour) -> None:
    assert request_time.hour_of_day(stamp) == hour


def test_a_naive_time_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        request_time.request_stats(1.0, datetime(2026, 12, 1, 10), 5.0, window_days=30)


def test_C4_row_and_frame_forms_agree_on_every_edge_case() -> None:
    # given every combination of amount, mean (0, negative, null, NaN, inf, denormal) and time
    cases = [(a, t, m) for a in AMOUNTS for t in STAMPS for m in MEANS]
    amounts, stamps, means = zip(*cases, strict=True)
    # when both forms compute the request features
    frame = request_time.request_stats_frame(_frame(amounts, stamps, means))
    rows = [request_time.request_stats(a, t, m, window_days=30) for a, t, m in cases]
    # then they are equal value for value (NaN == NaN), with the frame's dtypes
    assert list(frame.columns) == list(rows[0]) == ["amount_to_customer_mean_30d", "hour_of_day"]
    assert frame["hour_of_day"].dtype == np.int64
    row_ratio = np.array([r["amount_to_customer_mean_30d"] for r in rows])
    np.testing.assert_array_equal(frame["amount_to_customer_mean_30d"].to_numpy(), row_ratio)
    assert frame["hour_of_day"].tolist() == [r["hour_of_day"] for r in rows]


def test_the_frame_form_keeps_the_index_and_uses_the_longest_window() -> None:
    inputs = _frame([10.0, 10.0], STAMPS[:2], [4.0, 0.0], window=90).set_index(pd.Index([7, 3]))
    out = request_time.request_stats_frame(inputs)
    assert out.index.tolist() == [7, 3]
    assert out.columns[0] == "amount_to_customer_mean_90d"
    assert out.iloc[0, 0] == 2.5 and math.isnan(out.iloc[1, 0])


def test_importing_it_costs_no_pandas_and_no_feast() -> None:
    code = (
        "import sys, include.features.request_time; "
        "print(sorted(m for m in ('pandas', 'feast', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
