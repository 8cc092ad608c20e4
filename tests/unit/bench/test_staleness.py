"""The staleness experiment (``bench/staleness.py``) on a tiny configuration.

Given 1,000 simulated transactions a day, 3 history days, a 3-day training window and ages
1-2, when the core function trains its champion and scores the later days with no drift and
with full concept drift, then the result has one row per age and scenario with the
simulator's row and fraud counts, metrics within [0, 1], point-in-time features, a threshold
fixed on the holdout within the FPR target, the same numbers on a re-run, and concept drift
costs PR-AUC at the oldest age (a margin of ~0.3 with these seeds, asserted at 0.2).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from bench import staleness
from devtools.simulator import Drift, simulate_day
from include.features import schema
from include.spec import load_spec
from tests.conftest import ROOT

SETUP = staleness.Setup(
    train_days=3, max_age=2, rows_per_day=1_000, history_days=3, tuning_budget=1
)
SCENARIOS = {"none": (0.0, 0.0), "concept": (0.0, 1.0)}
METRICS = (
    "pr_auc",
    "roc_auc",
    "recall_at_fpr",
    "fpr_at_threshold",
    "recall_at_threshold",
    "flagged_share",
)


@pytest.fixture(scope="module")
def spec():
    return load_spec(ROOT / "usecase" / "fraud.yaml")


@pytest.fixture(scope="module")
def result(spec):
    return staleness.staleness(spec, SETUP, SCENARIOS)


def test_one_row_per_age_after_the_training_window(result) -> None:
    assert set(result["scenarios"]) == set(SCENARIOS)
    first, last = result["setup"]["train_window"].split("..")
    assert date.fromisoformat(first) == SETUP.first_day + timedelta(days=SETUP.history_days)
    for name, sc in result["scenarios"].items():
        assert (sc["covariate"], sc["concept"]) == SCENARIOS[name]
        assert [d["age"] for d in sc["days"]] == [1, 2]
        assert [d["day"] for d in sc["days"]] == [
            (date.fromisoformat(last) + timedelta(days=a)).isoformat() for a in (1, 2)
        ]
        assert sc["drift_start"] == sc["days"][0]["day"]
        assert sc["days"][0]["window"]["days"] == 1
        assert sc["days"][1]["window"]["days"] == min(2, result["setup"]["window_days"])


def test_rows_and_positives_are_the_simulators(spec, result) -> None:
    for sc in result["scenarios"].values():
        drift = Drift(sc["covariate"], sc["concept"], date.fromisoformat(sc["drift_start"]))
        for d in sc["days"]:
            batch = simulate_day(
                spec, date.fromisoformat(d["day"]), rows=SETUP.rows_per_day, drift=drift
            )
            assert d["rows"] == len(batch.transactions) == SETUP.rows_per_day
            assert d["positives"] == int(batch.fraud.sum()) > 0
            pooled = d["window"]
            assert pooled["rows"] == SETUP.rows_per_day * pooled["days"]


def test_metrics_are_rates(result) -> None:
    hold = result["model"]["holdout"]
    assert 0.0 <= hold["pr_auc"] <= 1.0 and 0.0 <= hold["roc_auc"] <= 1.0
    for sc in result["scenarios"].values():
        for d in sc["days"]:
            for key in METRICS:
                assert d[key] is not None and 0.0 <= d[key] <= 1.0, (key, d)
            assert 0.0 <= d["window"]["pr_auc"] <= 1.0


def test_the_threshold_is_the_gates_rule_on_the_holdout(spec, result) -> None:
    point = result["model"]["operating_point"]
    assert point["target_fpr"] == spec.serving.target_false_positive_rate
    assert point["fpr"] <= point["target_fpr"]
    assert point["negatives"] + point["positives"] == result["model"]["holdout"]["rows"]


def test_features_are_point_in_time(spec, result) -> None:
    """Each transaction gets the row of a per-event view (customer) stamped at its own time
    and the row of a daily view (merchant) stamped at or before it
    (``historical_features``' guarantees)."""
    fspec = schema.feature_spec(spec)
    lake = staleness._SimulatedLake(spec, fspec, SETUP.rows_per_day, SETUP.first_day)
    days = [SETUP.first_day + timedelta(days=i) for i in range(3)]
    for day in days:
        lake.add(day, None)
    rows = staleness.feature_rows(
        staleness._entity(lake, days[-1:], spec),
        staleness._views(staleness._tables(lake, days)),
        fspec,
    )
    assert len(rows) == SETUP.rows_per_day
    ts = rows[fspec.event_ts]
    stamps = {view.as_of: view.stamps for view in fspec.views}
    assert stamps == {"customer_as_of": "per_event", "merchant_as_of": "daily"}
    assert (rows["customer_as_of"] == ts).all()
    assert (rows["merchant_as_of"] <= ts).all()
    assert not rows[schema.model_features(fspec)].isna().all().any()


def test_concept_drift_costs_pr_auc_at_the_oldest_age(result) -> None:
    none = result["scenarios"]["none"]["days"][-1]["pr_auc"]
    concept = result["scenarios"]["concept"]["days"][-1]["pr_auc"]
    assert concept < none - 0.2, (none, concept)


def test_a_rerun_gives_the_same_numbers(spec, result) -> None:
    again = staleness.staleness(spec, SETUP, {"concept": SCENARIOS["concept"]})
    assert again["model"]["holdout"] == result["model"]["holdout"]
    assert again["scenarios"]["concept"]["days"] == result["scenarios"]["concept"]["days"]


def test_the_curve_renders(result) -> None:
    rows = [line for line in staleness.curve_markdown(result).splitlines() if line.startswith("|")]
    # Two tables (PR-AUC; recall and FPR), each: header, rule, holdout, one row per age.
    assert len(rows) == 2 * (3 + SETUP.max_age)
    assert all(line.count("|") == rows[0].count("|") for line in rows)
    assert rows[3].startswith("| 1 |") and rows[-1].startswith(f"| {SETUP.max_age} |")
    text = staleness.tables_text(result)
    assert all(f"-- {name} " in text for name in SCENARIOS)
    assert np.isfinite(result["timings"]["total_s"])
