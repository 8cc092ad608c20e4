"""The Evidently 0.7 reports of a monitoring run (include/monitoring/reports.py), real
Evidently on seeded synthetic frames.

Given two samples of one distribution, when they are compared at the spec's method and
threshold (normed Wasserstein, 0.1), then no feature drifts; given one feature shifted by a
standard deviation (C6), then exactly that feature drifts and is named. The skew report
finds a feature served in the wrong unit; the quality figures are the gate's own.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from include.modeling.metrics import classification_metrics
from include.monitoring import reports
from include.spec import DRIFT_METHODS, MonitoringSpec, load_spec
from tests.conftest import ROOT

ROWS = 5_000
COLUMNS = ["txn_count", "amount_mean", "online_share", "hour"]


@pytest.fixture(scope="module")
def mon() -> MonitoringSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml").monitoring


def _frame(rng: np.random.Generator, rows: int = ROWS) -> pd.DataFrame:
    """Shapes like the model's features: counts, log-normal amounts, shares, hours."""
    return pd.DataFrame(
        {
            "txn_count": rng.poisson(4.0, rows).astype("float64"),
            "amount_mean": rng.lognormal(3.5, 0.8, rows),
            "online_share": rng.beta(2.0, 5.0, rows),
            "hour": rng.integers(0, 24, rows).astype("float64"),
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _frame(np.random.default_rng(1))


@pytest.fixture(scope="module")
def same() -> pd.DataFrame:
    return _frame(np.random.default_rng(2))


@pytest.fixture(scope="module")
def shifted(same: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    out = same.copy()
    out["amount_mean"] += reference["amount_mean"].std()  # +1 standard deviation
    return out


# ------------------------------------------------------------------------------ helpers
def test_sample_caps_rows_seeded_and_reports_the_original_size() -> None:
    frame = pd.DataFrame({"x": np.arange(1_000, dtype="float64")})

    small, was = reports.sample(frame, 100)
    again, _ = reports.sample(frame, 100)
    whole, none = reports.sample(frame, 1_000)

    assert len(small) == 100 and was == 1_000
    assert small.index.tolist() == again.index.tolist()  # seeded: the same rows every run
    assert whole is frame and none is None


@pytest.mark.parametrize(
    ("method", "score", "threshold", "expected"),
    [
        ("ks", 0.01, 0.05, True),  # p-value below the threshold: drift
        ("ks", 0.05, 0.05, False),
        ("ks", 0.80, 0.05, False),
        ("anderson", 0.001, 0.05, True),
        ("anderson", 0.25, 0.05, False),
        ("wasserstein", 0.2, 0.1, True),  # a distance at or above: drift
        ("wasserstein", 0.1, 0.1, True),
        ("wasserstein", 0.05, 0.1, False),
        ("psi", 0.3, 0.1, True),
        ("jensenshannon", 0.01, 0.1, False),
        ("wasserstein", float("nan"), 0.1, False),  # no score is no drift
        ("ks", float("nan"), 0.05, False),
        ("wasserstein", None, 0.1, False),
    ],
)
def test_drifted_reads_p_values_and_distances_in_their_own_direction(
    method, score, threshold, expected
) -> None:
    assert reports.drifted(method, score, threshold) is expected


# --------------------------------------------------------------------------- data drift
def test_C6_the_same_distribution_does_not_drift_at_the_specs_threshold(
    mon, reference, same
) -> None:
    assert (mon.drift_method, mon.drift_threshold) == ("wasserstein", 0.1)

    m = reports.data_drift(reference, same, COLUMNS, mon)

    s = m.summary
    assert s["drifted_columns"] == [] and s["share"] == 0.0, s["columns"]
    assert all(c["score"] < 0.1 for c in s["columns"].values()), s["columns"]
    assert (s["current_rows"], s["reference_rows"]) == (ROWS, ROWS)
    assert s["sampled_from"] == {"reference": None, "current": None}
    assert m.snapshot is not None


def test_C6_a_feature_shifted_by_one_std_drifts_and_is_named(mon, reference, shifted) -> None:
    m = reports.data_drift(reference, shifted, COLUMNS, mon)

    s = m.summary
    assert s["drifted_columns"] == ["amount_mean"]
    assert s["columns"]["amount_mean"]["score"] == pytest.approx(1.0, abs=0.1)
    assert s["columns"]["amount_mean"]["drifted"] is True
    # Evidently's own count and the per-column verdicts agree
    assert s["share"] == pytest.approx(1 / len(COLUMNS))


@pytest.mark.filterwarnings("ignore:p-value:UserWarning")  # anderson: scipy caps it
@pytest.mark.filterwarnings("ignore:Parameter `variant`")
@pytest.mark.parametrize("method", DRIFT_METHODS)
def test_C6_every_method_the_spec_allows_is_read_in_its_own_direction(
    mon, reference, same, shifted, method
) -> None:
    """p-values (ks, anderson) drift below the threshold, distances at or above it: the
    verdicts must agree with Evidently's own count whichever the spec names."""
    p_value = method in reports.P_VALUE_METHODS
    spec_mon = dataclasses.replace(
        mon, drift_method=method, drift_threshold=0.05 if p_value else 0.1
    )
    columns = ["amount_mean", "online_share"]

    calm = reports.data_drift(reference, same, columns, spec_mon).summary
    moved = reports.data_drift(reference, shifted, columns, spec_mon).summary

    assert calm["drifted_columns"] == [] and calm["share"] == 0.0, calm["columns"]
    assert moved["drifted_columns"] == ["amount_mean"] and moved["share"] == 0.5
    score, calm_score = (
        moved["columns"]["amount_mean"]["score"],
        calm["columns"]["amount_mean"]["score"],
    )
    assert (score < calm_score) if p_value else (score > calm_score)
    assert moved["method"] == method


def test_drift_on_a_large_window_is_sampled_and_the_report_says_so(mon, reference) -> None:
    small = dataclasses.replace(mon, max_rows=1_000)
    current = _frame(np.random.default_rng(3), rows=3_000)

    s = reports.data_drift(reference, current, COLUMNS, small).summary

    assert s["sampled_from"] == {"reference": ROWS, "current": 3_000}
    assert (s["current_rows"], s["reference_rows"]) == (3_000, ROWS)  # what the window had
    assert s["drifted_columns"] == []


def test_an_all_null_column_is_reported_not_compared_and_counts_as_not_drifted(
    mon, reference, shifted
) -> None:
    """A 1-day std over a handful of rows can be null in a whole window: Evidently refuses
    such a column; the report names it and the share stays over every feature."""
    current = shifted.copy()
    current["online_share"] = np.nan

    s = reports.data_drift(reference, current, COLUMNS, mon).summary

    assert s["empty_columns"] == ["online_share"]
    assert s["drifted_columns"] == ["amount_mean"] and "online_share" not in s["columns"]
    assert s["share"] == pytest.approx(1 / len(COLUMNS))


def test_a_window_with_every_column_null_has_no_report_and_no_drift(mon, reference) -> None:
    current = pd.DataFrame({c: np.full(ROWS, np.nan) for c in COLUMNS})

    m = reports.data_drift(reference, current, COLUMNS, mon)

    assert m.snapshot is None and m.summary["empty_columns"] == COLUMNS
    assert m.summary["drifted_columns"] == [] and m.summary["share"] == 0.0


# --------------------------------------------------------------------- prediction drift
def test_prediction_drift_on_scores(mon) -> None:
    rng = np.random.default_rng(4)
    holdout = pd.Series(rng.beta(1.0, 30.0, ROWS))
    calm = pd.Series(rng.beta(1.0, 30.0, ROWS))
    scared = pd.Series(rng.beta(3.0, 20.0, ROWS))  # the model scores everyone higher

    ok = reports.prediction_drift(holdout, calm, mon).summary
    bad = reports.prediction_drift(holdout, scared, mon).summary

    assert ok["drifted"] is False and ok["score"] < mon.prediction_drift_threshold
    assert bad["drifted"] is True and bad["score"] >= mon.prediction_drift_threshold
    assert bad["reference_mean"] == pytest.approx(holdout.mean(), abs=1e-6)
    assert bad["current_mean"] == pytest.approx(scared.mean(), abs=1e-6)
    assert bad["current_rows"] == ROWS and bad["threshold"] == mon.prediction_drift_threshold


# --------------------------------------------------------------------------------- skew
def test_identical_online_and_offline_features_are_not_skewed(mon, same) -> None:
    pairs = same.iloc[:2_000].reset_index(drop=True)

    s = reports.skew(pairs, pairs.copy(), COLUMNS, mon).summary

    assert s["skewed_columns"] == [] and s["rows"] == 2_000 and s["sampled_from"] is None
    assert all(c["score"] == 0.0 for c in s["columns"].values()), s["columns"]


def test_a_feature_served_in_another_unit_is_exactly_the_one_skewed(mon, same) -> None:
    offline = same.iloc[:2_000].reset_index(drop=True)
    online = offline.copy()
    online["amount_mean"] *= 100  # cents instead of euros

    s = reports.skew(offline, online, COLUMNS, mon).summary

    assert s["skewed_columns"] == ["amount_mean"]
    assert s["threshold"] == mon.skew_threshold


def test_a_feature_never_served_is_named_empty_in_the_skew_report(mon, same) -> None:
    offline = same.iloc[:2_000].reset_index(drop=True)
    online = offline.copy()
    online["hour"] = np.nan

    s = reports.skew(offline, online, COLUMNS, mon).summary

    assert s["empty_columns"] == ["hour"] and s["skewed_columns"] == []


def test_sampled_skew_keeps_the_pairs_aligned(mon, same) -> None:
    """A sample of the offline side takes the same transactions on the online side: two
    different 100-row samples of one distribution would differ by more than 0.05."""
    tiny = dataclasses.replace(mon, max_rows=100)
    pairs = same.iloc[:2_000].reset_index(drop=True)

    s = reports.skew(pairs, pairs.copy(), COLUMNS, tiny).summary

    assert s["sampled_from"] == 2_000 and s["rows"] == 2_000
    assert s["skewed_columns"] == [], s["columns"]


# ------------------------------------------------------------------------------ quality
def _labelled(rng: np.random.Generator, rows: int, rate: float) -> pd.DataFrame:
    target = (rng.random(rows) < rate).astype("int64")
    score = np.clip(rng.beta(1, 20, rows) + target * rng.uniform(0.0, 0.8, rows), 0, 1)
    return pd.DataFrame({"is_fraud": target, "score": score})


def test_quality_figures_are_the_gates_own_on_the_same_data() -> None:
    rng = np.random.default_rng(5)
    current, holdout = _labelled(rng, 3_000, 0.03), _labelled(rng, 3_000, 0.03)
    figures = {"pr_auc": 0.7, "recall_at_fpr": 0.6, "rows": 3_000, "positives": 90}

    m = reports.quality(
        current,
        holdout,
        target="is_fraud",
        threshold=0.3,
        fpr_target=0.01,
        holdout_figures=figures,
    )

    gate = classification_metrics(current["is_fraud"], current["score"], fpr_target=0.01)
    s = m.summary
    assert s["pr_auc"] == gate["pr_auc"] and s["recall_at_fpr"] == gate["recall_at_fpr"]
    assert s["rows"] == 3_000 and s["positives"] == int(current["is_fraud"].sum())
    assert s["holdout"] == figures and s["fpr_target"] == 0.01
    assert s["at_threshold"]["rocauc"] == pytest.approx(gate["roc_auc"], abs=1e-4)
    assert m.snapshot is not None


@pytest.mark.parametrize("rate", [0.0, 1.0], ids=["no_positives", "only_positives"])
def test_C5_quality_on_one_class_has_no_figures_and_no_report(rate) -> None:
    current = _labelled(np.random.default_rng(6), 500, rate)
    holdout = _labelled(np.random.default_rng(7), 500, 0.05)

    m = reports.quality(
        current,
        holdout,
        target="is_fraud",
        threshold=0.3,
        fpr_target=0.01,
        holdout_figures={"pr_auc": 0.7},
    )

    assert m.summary["pr_auc"] is None and m.summary["recall_at_fpr"] is None
    assert m.summary["rows"] == 500 and m.snapshot is None


def test_quality_on_an_empty_window_has_no_figures() -> None:
    empty = pd.DataFrame({"is_fraud": pd.Series(dtype="float64"), "score": []})

    m = reports.quality(
        empty,
        _labelled(np.random.default_rng(8), 100, 0.1),
        target="is_fraud",
        threshold=0.3,
        fpr_target=0.01,
        holdout_figures={},
    )

    assert (m.summary["rows"], m.summary["positives"]) == (0, 0) and m.snapshot is None


# ------------------------------------------------------------------------------ outputs
def test_the_reports_and_the_summary_land_in_the_windows_folder(
    tmp_path, mon, reference, shifted
) -> None:
    """A re-run of the window replaces its files; a comparison without a snapshot has no
    report file and no link."""
    import json
    from datetime import date

    from include import layout, storage
    from include.monitoring import outputs

    folder = layout.drift_report_dir(str(tmp_path / "lake"), date(2026, 11, 17), date(2026, 11, 19))
    drift = reports.data_drift(reference, shifted, COLUMNS, mon)
    thin = reports.Measured("quality", {"rows": 0, "positives": 0}, None)

    written = outputs.write_reports(folder, [drift, thin])
    again = outputs.write_reports(folder, [drift, thin])
    summary = {
        "model": "fraud_is_fraud",
        "champion_version": "3",
        "window": "2026-11-17..2026-11-19",
        "reports": written,
        "measured": {"data_drift": drift.summary, "quality": thin.summary},
        "decision": {
            "status": "breach",
            "reason": "monitoring: data drift <1/4>",
            "verdicts": {"data_drift": "breach", "quality": "not_enough_data"},
            "notes": [],
        },
    }
    uri = outputs.write_summary(folder, summary)

    assert written == again == {"data_drift": storage.join(folder, "data_drift.html")}
    assert sorted(o.name for o in storage.list_objects(folder)) == [
        "data_drift.html",
        "index.html",
        "summary.json",
    ]
    html = storage.read_bytes(written["data_drift"]).decode()
    assert "amount_mean" in html and len(html) > 10_000  # Evidently's self-contained report
    assert json.loads(storage.read_bytes(uri))["measured"]["data_drift"]["drifted_columns"] == [
        "amount_mean"
    ]
    index = storage.read_bytes(storage.join(folder, layout.MONITORING_INDEX)).decode()
    assert "<a href='data_drift.html'>data_drift.html</a>" in index
    assert "data drift &lt;1/4&gt;" in index and "<b>not_enough_data</b>" in index
    assert '"columns"' not in index  # the per-column table is in the report, not the index
