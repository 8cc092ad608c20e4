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


FRAUD = [
    ("amount_to_customer_mean_30d", "ratio", ("amount", "customer_amount_mean_30d")),
    ("hour_of_day", "hour_of_day", ("event_timestamp",)),
]
EVERY = [
    *FRAUD,
    ("weekday", "day_of_week", ("event_timestamp",)),
    ("log_amount", "log1p", ("amount",)),
    ("above_mean", "difference", ("amount", "customer_amount_mean_30d")),
    ("amount_as_is", "value", ("amount",)),
]


def _frame(amounts, stamps, means) -> pd.DataFrame:
    """What Feast hands the on-demand view: request fields plus stored features."""
    return pd.DataFrame(
        {
            "amount": pd.Series(amounts, dtype="float64"),
            "event_timestamp": pd.to_datetime(pd.Series(stamps), utc=True),
            "customer_amount_mean_30d": pd.Series(
                [math.nan if m is None else m for m in means], dtype="float64"
            ),
        }
    )


def test_the_fraud_spec_plans_its_request_features_from_the_registry() -> None:
    fspec = schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml"))
    assert [(r.name, r.function, r.inputs) for r in fspec.request] == FRAUD
    assert schema.request_features(fspec) == {
        "amount_to_customer_mean_30d": "float",
        "hour_of_day": "int",
    }
    assert fspec.request_fields == {"amount": "float"}
    assert fspec.view("customer_transaction_stats").columns["customer_amount_mean_30d"] == "float"


@pytest.mark.parametrize(
    ("mean", "expected"),
    [(50.0, 2.0), (0.0, None), (-3.0, None), (None, None), (math.nan, None), (math.inf, 0.0)],
)
def test_the_ratio_exists_only_where_the_denominator_is_positive(mean, expected) -> None:
    got = request_time.TRANSFORMS["ratio"](100.0, mean)
    assert math.isnan(got) if expected is None else got == expected


def test_a_tiny_denominator_gives_infinity_not_an_error() -> None:
    assert request_time.TRANSFORMS["ratio"](50_000.0, 1e-320) == math.inf


@pytest.mark.parametrize(
    ("stamp", "hour", "weekday"),
    list(zip(STAMPS, [0, 23, 23, 23, 0, 1], [1, 1, 0, 0, 1, 6], strict=True)),
)
def test_the_hour_and_weekday_are_taken_in_utc(stamp, hour, weekday) -> None:
    assert request_time.hour_of_day(stamp) == hour
    assert request_time.day_of_week(stamp) == weekday


def test_a_naive_time_is_refused_not_guessed() -> None:
    values = {"amount": 1.0, "event_timestamp": datetime(2026, 12, 1, 10)}
    with pytest.raises(ValueError, match="tz-aware"):
        request_time.compute(FRAUD[1:], values)


def test_C4_row_and_frame_forms_agree_on_every_edge_case() -> None:
    # given every combination of amount, mean (0, negative, null, NaN, inf, denormal) and time
    cases = [(a, t, m) for a in AMOUNTS for t in STAMPS for m in MEANS]
    amounts, stamps, means = zip(*cases, strict=True)
    # when both forms compute every transform
    frame = request_time.frame(EVERY, _frame(amounts, stamps, means))
    rows = [
        request_time.compute(
            EVERY, {"amount": a, "event_timestamp": t, "customer_amount_mean_30d": m}
        )
        for a, t, m in cases
    ]
    # then they are equal value for value (NaN == NaN), with the frame's dtypes
    assert list(frame.columns) == list(rows[0]) == [name for name, _, _ in EVERY]
    assert frame["hour_of_day"].dtype == np.int64 and frame["weekday"].dtype == np.int64
    for name, _, _ in EVERY:
        np.testing.assert_array_equal(
            frame[name].to_numpy(dtype="float64"),
            np.array([r[name] for r in rows], dtype="float64"),
            err_msg=name,
        )


def test_the_feast_function_survives_the_registry_and_keeps_the_index() -> None:
    """Feast stores the on-demand function with dill and runs it in another process: the
    closure must carry its transforms, not read a spec."""
    import dill

    stored = dill.dumps(request_time.frame_function(EVERY), recurse=True)
    function = dill.loads(stored)
    inputs = _frame([10.0, 10.0], STAMPS[:2], [4.0, 0.0]).set_index(pd.Index([7, 3]))
    out = function(inputs)
    assert out.index.tolist() == [7, 3]
    assert out.columns.tolist() == [name for name, _, _ in EVERY]
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
