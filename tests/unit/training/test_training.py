"""Unit tests of the training stage without MLflow: split, metrics, the two candidate families.

Data: a week of simulated transactions (seeded) turned into simple per-row and look-back
features by ``devtools.sample_data``. Fault-catalogue ids (C2, C8) are in the names.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from devtools import sample_data
from include.modeling import metrics
from include.spec import SplitSpec, UseCaseSpec, load_spec
from include.training import mlp, search, xgb
from include.training.errors import TrainingDataInvalid, TrainingDiverged
from include.training.split import Columns, SplitArrays, TimeSplit, time_split
from include.training.threads import configure_openmp

ROOT = Path(__file__).resolve().parents[3]
START = dt.date(2026, 3, 1)
DAYS, ROWS_PER_DAY = 7, 3000
# Small but real configs: the defaults with fewer rounds/epochs so the module stays fast.
XGB = {**xgb.DEFAULT, "max_rounds": 100, "early_stopping_rounds": 20}
MLP = {**mlp.DEFAULT, "max_epochs": 6}


@pytest.fixture(scope="module")
def spec() -> UseCaseSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml")


@pytest.fixture(scope="module")
def frame(spec: UseCaseSpec) -> pd.DataFrame:
    return sample_data.training_frame(spec, START, DAYS, rows_per_day=ROWS_PER_DAY)


@pytest.fixture(scope="module")
def columns(spec: UseCaseSpec) -> Columns:
    return Columns.of(spec, sample_data.FEATURES, ("customer_age_band",))


@pytest.fixture(scope="module")
def split(frame: pd.DataFrame, columns: Columns, spec: UseCaseSpec) -> TimeSplit:
    return time_split(frame, columns, spec.model.split)


@pytest.fixture(scope="module")
def arrays(split: TimeSplit) -> SplitArrays:
    return SplitArrays.of(split)


def _holdout(split: TimeSplit) -> tuple[np.ndarray, np.ndarray]:
    h = split.holdout
    return h[list(split.columns.features)].to_numpy(np.float32), h["is_fraud"].to_numpy()


# ------------------------------------------------------------------ split and frame checks
def test_split_is_time_ordered_disjoint_and_complete(frame, split, spec) -> None:
    parts = split.parts()

    assert sum(len(p) for p in parts.values()) == len(frame)
    keys = [set(p["transaction_id"]) for p in parts.values()]
    assert not (keys[0] & keys[1] or keys[1] & keys[2] or keys[0] & keys[2])
    assert split.train["event_timestamp"].max() < split.validation["event_timestamp"].min()
    assert split.validation["event_timestamp"].max() < split.holdout["event_timestamp"].min()
    for name, part in parts.items():
        assert part["event_timestamp"].is_monotonic_increasing
        share = len(part) / len(frame)
        assert share == pytest.approx(spec.model.split.as_dict()[name], abs=0.01)
        assert 0 < part["is_fraud"].sum() < len(part)


def test_split_never_separates_equal_timestamps(columns) -> None:
    # Given 100 rows in 10 timestamp groups, a 70 % cut inside a group moves past it.
    ts = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.repeat(range(10), 10), "min")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx_{i:016x}" for i in range(100)],
            "event_timestamp": ts,
            **{f: rng.random(100) for f in columns.features},
            "is_fraud": np.tile([1, 0, 0, 0, 0], 20),
            "customer_age_band": "26-35",
        }
    )

    split = time_split(frame, columns, SplitSpec(train=0.65, validation=0.2, holdout=0.15))

    assert split.train["event_timestamp"].max() < split.validation["event_timestamp"].min()
    assert split.validation["event_timestamp"].max() < split.holdout["event_timestamp"].min()
    assert len(split.train) % 10 == 0 and len(split.validation) % 10 == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["log_amount"]), "lacks columns"),
        (lambda f: f.assign(is_fraud=f["is_fraud"].where(f.index > 5)), "0/1 without nulls"),
        (lambda f: f.assign(hour=f["hour"].where(f.index > 5, np.inf)), "inf"),
        (lambda f: f.assign(event_timestamp=f["event_timestamp"].dt.tz_localize(None)), "UTC"),
        (lambda f: f.assign(is_online=f["is_online"].astype(str)), "numeric"),
        (lambda f: f.assign(hour=f["hour"].astype(object)), "numeric"),
        (lambda f: pd.concat([f, f.head(1)], ignore_index=True), "not unique"),
    ],
)
def test_bad_training_frames_are_refused_with_the_reason(frame, columns, spec, change, message):
    with pytest.raises(TrainingDataInvalid, match=message):
        time_split(change(frame), columns, spec.model.split)


def test_nullable_and_boolean_features_are_accepted_as_missing_and_0_1(frame, columns, spec):
    typed = frame.assign(
        hour=frame["hour"].astype("Int64").mask(frame.index % 50 == 0),  # pd.NA
        is_online=frame["is_online"].astype(bool),
    )

    arrays = SplitArrays.of(time_split(typed, columns, spec.model.split))

    hour = list(columns.features).index("hour")
    assert np.isnan(arrays.x_train[:, hour]).any()
    assert set(np.unique(arrays.x_train[:, list(columns.features).index("is_online")])) == {0, 1}


def test_a_sensitive_attribute_is_never_a_feature(frame, spec) -> None:
    cols = Columns.of(spec, ("log_amount", "customer_age_band"), ("customer_age_band",))

    with pytest.raises(TrainingDataInvalid, match="sensitive"):
        time_split(frame, cols, spec.model.split)


def test_a_part_without_fraud_is_refused(frame, columns, spec) -> None:
    late = frame["event_timestamp"] >= frame["event_timestamp"].quantile(0.8)
    no_recent_fraud = frame.assign(is_fraud=frame["is_fraud"].where(~late, 0))

    with pytest.raises(TrainingDataInvalid, match="holdout part"):
        time_split(no_recent_fraud, columns, spec.model.split)


def test_history_features_never_look_ahead(spec) -> None:
    # Given the same days with and without the last day, the earlier rows' features agree.
    full = sample_data.training_frame(spec, START, 3, rows_per_day=1000)
    head = sample_data.training_frame(spec, START, 2, rows_per_day=1000)
    merged = head.merge(full, on="transaction_id", suffixes=("", "_full"))

    assert len(merged) == len(head)
    for name in sample_data.FEATURES:
        pd.testing.assert_series_equal(
            merged[name], merged[f"{name}_full"], check_names=False, check_exact=False
        )
    assert head["amount_vs_customer"].isna().any()  # first sightings are missing, not 0


# ------------------------------------------------------------------------------ metrics
def test_metrics_of_a_perfect_and_a_constant_model() -> None:
    y = np.array([0] * 95 + [1] * 5)
    perfect = metrics.classification_metrics(y, y * 0.9 + 0.05, fpr_target=0.01)
    constant = metrics.classification_metrics(y, np.full(100, 0.05), fpr_target=0.01)

    assert perfect["pr_auc"] == perfect["roc_auc"] == perfect["recall_at_fpr"] == 1.0
    assert constant["pr_auc"] == pytest.approx(0.05) and constant["roc_auc"] == 0.5
    assert constant["ece"] == pytest.approx(0.0) and constant["brier"] == pytest.approx(0.0475)


def test_metrics_are_none_not_nan_for_one_class() -> None:
    out = metrics.classification_metrics(np.zeros(10), np.full(10, 0.1), fpr_target=0.01)

    assert out["pr_auc"] is None and out["roc_auc"] is None and out["recall_at_fpr"] is None
    assert out["brier"] == pytest.approx(0.01)


def test_slices_are_judged_only_with_enough_rows() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(600) < 0.2
    good = np.where(y, 0.8, 0.2)
    bad = rng.random(600)
    groups = pd.Series(["a"] * 300 + ["b"] * 250 + ["c"] * 50)
    proba = np.concatenate([good[:300], bad[300:550], bad[550:]])

    rows = {
        r["slice"]: r
        for r in metrics.slice_metrics(
            y,
            proba,
            groups,
            metric="roc_auc",
            fpr_target=0.01,
            min_rows=200,
            overall=0.8,
            max_gap=0.1,
        )
    }

    assert rows["a"]["passed"] is True
    assert rows["b"]["passed"] is False and rows["b"]["gap"] > 0.1
    assert rows["c"]["judged"] is False and rows["c"]["passed"] is None


def test_search_space_is_seeded_distinct_and_within_budget() -> None:
    first = xgb.search_space(4, seed=7)

    assert first == xgb.search_space(4, seed=7)
    assert first[0] == xgb.DEFAULT and len(first) == 4
    assert len({repr(sorted(c.items())) for c in first}) == 4
    assert mlp.search_space(1, seed=3) == [mlp.DEFAULT]
    with pytest.raises(ValueError):
        search.draw_configs({}, {}, 0, 1)


def test_openmp_policy_defaults_to_passive(monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)

    configure_openmp()

    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


# ------------------------------------------------------------------------ the families
@pytest.fixture(scope="module")
def fitted_xgb(arrays) -> xgb.FittedXGBoost:
    return xgb.fit(XGB, arrays, threads=2, seed=11)


@pytest.fixture(scope="module")
def fitted_mlp(arrays) -> mlp.FittedMLP:
    return mlp.fit(MLP, arrays, threads=2, seed=11)


@pytest.mark.parametrize("family", ["fitted_xgb", "fitted_mlp"])
def test_candidates_beat_random_clearly_on_simulated_features(family, split, request) -> None:
    model = request.getfixturevalue(family)
    x, y = _holdout(split)

    proba = model.predict(x)
    scores = metrics.classification_metrics(y, proba, fpr_target=0.01)

    base_rate = y.mean()  # what random scores give as PR-AUC
    assert proba.shape == y.shape and proba.min() >= 0.0 and proba.max() <= 1.0
    assert scores["pr_auc"] > 10 * base_rate, scores
    assert scores["roc_auc"] > 0.85, scores
    importance = model.importance(SplitArrays.of(split))
    assert set(importance) == set(sample_data.FEATURES)
    assert max(importance.values()) > 0


def test_missing_values_are_scored_not_propagated(fitted_xgb, fitted_mlp, split) -> None:
    x, _ = _holdout(split)
    x[:, :3] = np.nan

    for model in (fitted_xgb, fitted_mlp):
        assert np.isfinite(model.predict(x)).all()


def test_xgboost_keeps_the_best_round_only(fitted_xgb) -> None:
    assert fitted_xgb.booster.num_boosted_rounds() == fitted_xgb.best_iteration + 1
    assert fitted_xgb.rounds_trained > fitted_xgb.best_iteration


def test_mlp_weights_export_is_plain_arrays(fitted_mlp, tmp_path) -> None:
    path = fitted_mlp.save(tmp_path)

    with np.load(path, allow_pickle=False) as npz:  # no object arrays, nothing to unpickle
        assert {"mean", "std", "w0", "b0"} <= set(npz.files)
        assert all(npz[k].dtype == np.float32 for k in npz.files)


def test_C2_exploding_mlp_loss_raises_training_diverged(arrays) -> None:
    with pytest.raises(TrainingDiverged, match="pytorch_mlp training diverged") as caught:
        mlp.fit({**MLP, "lr": 1e3}, arrays, threads=2, seed=11)

    assert caught.value.config["lr"] == 1e3


def test_C2_nan_loss_raises_training_diverged(arrays) -> None:
    # NaN labels reach the loss directly (time_split refuses them; this is the last guard).
    broken = SplitArrays(
        arrays.features,
        arrays.x_train,
        np.full_like(arrays.y_train, np.nan),
        arrays.x_val,
        arrays.y_val,
    )
    with pytest.raises(TrainingDiverged, match="not finite"):
        mlp.fit(MLP, broken, threads=1, seed=11)


@pytest.mark.parametrize("module, config", [(xgb, XGB), (mlp, MLP)], ids=["xgboost", "mlp"])
def test_C8_same_data_and_seed_give_the_same_metrics(module, config, arrays, split) -> None:
    x, y = _holdout(split)

    runs = [
        metrics.classification_metrics(
            y,
            module.fit(config, SplitArrays.of(split), threads=2, seed=5).predict(x),
            fpr_target=0.01,
        )
        for _ in range(2)
    ]

    for name in metrics.METRICS:
        assert math.isclose(runs[0][name], runs[1][name], abs_tol=1e-6), name
