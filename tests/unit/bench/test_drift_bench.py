"""The drift bench (bench/drift.py) measures what it says: its floor is Evidently's normed
Wasserstein, its data has the shapes of the model's features, and both judge the same
columns drifted. Small sizes; nothing here judges the timings.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench import drift
from include.features import schema
from include.spec import load_spec
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def spec():
    return load_spec(ROOT / "usecase" / "fraud.yaml")


@pytest.fixture(scope="module")
def columns(spec) -> list[str]:
    return schema.model_features(schema.feature_spec(spec))


def test_the_data_has_the_shapes_of_the_models_features(columns) -> None:
    reference, current, shifted = drift.frames(columns, 5_000)

    assert len(columns) == 18 and list(reference.columns) == columns == list(current.columns)
    # the longest-window column of each shiftable kind the spec's features have
    assert shifted == [
        "customer_amount_mean_30d",
        "customer_online_share_30d",
        "merchant_fraud_rate_30d",
        "amount_to_customer_mean_30d",
        "hour_of_day",
    ]
    assert all(current[c].mean() > reference[c].mean() for c in shifted[:4])
    for frame in (reference, current):
        assert frame.notna().all().all() and (frame >= 0).all().all()
        shares = [c for c in columns if "share" in c or "rate" in c]
        assert (frame[shares] <= 1).all().all()
        counts = [c for c in columns if "count" in c or "distinct" in c or c == "hour_of_day"]
        assert (frame[counts] == frame[counts].round()).all().all()
        assert frame["hour_of_day"].between(0, 23).all()
    again, _, _ = drift.frames(columns, 5_000)
    assert again.equals(reference)  # seeded


def test_the_core_agrees_with_its_floor_sampled_and_unsampled(spec, columns) -> None:
    mon = dataclasses.replace(spec.monitoring, max_rows=2_000)

    got = drift.measure(columns, rows=4_000, reps=1, mon=mon)

    project, unsampled = got["sanity"]
    assert project["agree"] and unsampled["agree"], got["sanity"]
    assert project["project_drifted"] == sorted(got["shifted"])
    assert project["sampled_from"] == {"reference": 4_000, "current": 4_000}
    assert unsampled["sampled_from"] == {"reference": None, "current": None}
    # without sampling Evidently computes exactly the floor (its scores are rounded to 1e-6)
    assert unsampled["max_score_diff"] < 1e-5
    for key in ("project_cpu_s", "unsampled_cpu_s", "floor_cpu_s", "html_cpu_s"):
        assert len(got[key]) == 1 and got[key][0] > 0, key
    assert got["html_bytes"] > 0 and got["pinned_floor_cpu_s"] > 0


def test_the_floor_is_the_normed_wasserstein_distance() -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 2, 1_000), "c": np.zeros(1_000)})
    cur = pd.DataFrame({"x": ref["x"] + 1.0, "c": np.full(1_000, 0.01)})

    scores = drift.floor_scores(ref, cur, ["x", "c"])

    assert scores["x"] == pytest.approx(1.0 / np.std(ref["x"]))  # a shift of 1 in std units
    assert scores["c"] == pytest.approx(0.01 / 0.001)  # a constant column: std floored


def test_the_bench_refuses_a_method_its_floor_does_not_compute(spec, columns) -> None:
    ks = dataclasses.replace(spec.monitoring, drift_method="ks")

    with pytest.raises(ValueError, match="normed Wasserstein"):
        drift.measure(columns, rows=1_000, reps=1, mon=ks)
