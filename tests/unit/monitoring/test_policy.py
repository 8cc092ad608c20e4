"""The spec's monitoring policy (include/monitoring/policy.py): measurements -> verdicts ->
one decision. Pure: no Evidently, no MLflow; the measured dicts have the shape
``include.monitoring.reports`` returns.

Given a window's numbers, when the policy judges them, then a thin window is never drift
(C5: the minimum sample guard), a breach retrains once per champion and kind inside the
cooldown (a retried task gets the same answer), a quarantined day stops every retrain,
skew only alerts, and a stale champion alerts once per cooldown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.monitoring import policy
from include.monitoring.policy import BREACH, NOT_MEASURED, OK, THIN
from include.spec import MonitoringSpec

MON = MonitoringSpec()  # the defaults, equal to usecase/fraud.yaml's section
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
WINDOW = "2026-11-17..2026-11-19"
FEATURES = [f"f{i}" for i in range(10)]


def _drift(drifted: int, rows: int = 5_000) -> dict[str, Any]:
    cols = {
        f: {"method": "wasserstein", "score": 0.3 if i < drifted else 0.01, "drifted": i < drifted}
        for i, f in enumerate(FEATURES)
    }
    return {
        "method": "wasserstein",
        "threshold": 0.1,
        "drift_share_limit": 0.5,
        "current_rows": rows,
        "reference_rows": 50_000,
        "drifted_columns": FEATURES[:drifted],
        "share": drifted / len(FEATURES),
        "columns": cols,
    }


def _pred(drifted: bool, rows: int = 5_000) -> dict[str, Any]:
    return {
        "method": "wasserstein",
        "threshold": 0.1,
        "current_rows": rows,
        "score": 0.4 if drifted else 0.02,
        "drifted": drifted,
    }


def _quality(
    pr_auc: float | None = 0.60,
    recall: float | None = 0.50,
    rows: int = 3_000,
    positives: int = 60,
    hold_pr_auc: float = 0.60,
    hold_recall: float = 0.50,
) -> dict[str, Any]:
    return {
        "rows": rows,
        "positives": positives,
        "fpr_target": 0.01,
        "pr_auc": pr_auc,
        "recall_at_fpr": recall,
        "holdout": {"pr_auc": hold_pr_auc, "recall_at_fpr": hold_recall},
    }


def _skew(skewed: list[str], rows: int = 500) -> dict[str, Any]:
    return {
        "method": "wasserstein",
        "threshold": 0.05,
        "rows": rows,
        "skewed_columns": skewed,
        "columns": {f: {"score": 0.5 if f in skewed else 0.0} for f in FEATURES},
    }


def _measured(
    drift: int = 0,
    pred: bool = False,
    rows: int = 5_000,
    quality: dict | None = None,
    skew: dict | None = None,
) -> dict[str, dict | None]:
    return {
        "data_drift": _drift(drift, rows),
        "prediction_drift": _pred(pred, rows),
        "quality": quality or _quality(),
        "skew": skew,
    }


def _decide(measured, **kw) -> policy.Decision:
    args: dict[str, Any] = {
        "window": WINDOW,
        "champion_version": "3",
        "quarantined": {},
        "last": {},
        "now": NOW,
        "champion_age_days": 5,
        "failed_retrains": 0,
        "run_id": "scheduled__2026-11-20T02:00:00+00:00",
    }
    args.update(kw)
    return policy.decide(measured, MON, **args)


def _remember(d: policy.Decision, at: datetime, run_id: str) -> dict[str, dict[str, Any]]:
    """What state.record_alerts keeps: kind -> {key, at, run_id}."""
    return {k: {"key": key, "at": at.isoformat(), "run_id": run_id} for k, key in d.alerts.items()}


# ------------------------------------------------------------------------------ verdicts
def test_C5_a_window_below_min_sample_rows_is_not_enough_data_even_when_all_drifted() -> None:
    thin = _measured(drift=len(FEATURES), pred=True, rows=MON.min_sample_rows - 1)
    assert thin["data_drift"]["share"] == 1.0

    thin["quality"] = _quality(rows=MON.min_labelled_rows - 1)

    v = policy.verdicts(thin, MON)
    d = _decide(thin)

    assert v["data_drift"] == THIN and v["prediction_drift"] == THIN
    assert d.status == THIN and d.retrain is False and d.alerts == {}
    assert "minimum sample" in d.reason


def test_C5_at_min_sample_rows_the_window_is_judged() -> None:
    measured = _measured(drift=len(FEATURES), pred=True, rows=MON.min_sample_rows)

    v = policy.verdicts(measured, MON)

    assert v["data_drift"] == BREACH and v["prediction_drift"] == BREACH


def test_C5_no_measurement_at_all_is_not_enough_data() -> None:
    v = policy.verdicts({"quality": None}, MON)

    assert v == {"data_drift": THIN, "prediction_drift": THIN, "quality": THIN, "skew": THIN}


def test_data_drift_breaches_at_the_drift_share_and_not_below() -> None:
    at = MON.drift_share * len(FEATURES)  # 5 of 10
    assert policy.verdicts(_measured(drift=int(at)), MON)["data_drift"] == BREACH
    assert policy.verdicts(_measured(drift=int(at) - 1), MON)["data_drift"] == OK


@pytest.mark.parametrize(
    ("rows", "positives"),
    [(MON.min_labelled_rows - 1, 500), (50_000, MON.min_positives - 1)],
    ids=["few_labelled_rows", "few_positives"],
)
def test_C5_quality_on_too_few_labels_is_thin_whatever_the_drop(rows, positives) -> None:
    q = _quality(pr_auc=0.05, recall=0.0, rows=rows, positives=positives)

    assert policy.quality_verdict(q, MON) == THIN
    assert policy.verdicts(_measured(quality=q), MON)["quality"] == THIN


def test_quality_breaches_on_a_pr_auc_drop_beyond_the_limit_only() -> None:
    hold = 0.60
    beyond = _quality(pr_auc=round(hold - MON.max_pr_auc_drop - 0.01, 6), hold_pr_auc=hold)
    at_limit = _quality(pr_auc=round(hold - MON.max_pr_auc_drop, 6), hold_pr_auc=hold)
    better = _quality(pr_auc=0.9, hold_pr_auc=hold)

    assert policy.quality_drops(beyond)["pr_auc"] == pytest.approx(MON.max_pr_auc_drop + 0.01)
    assert policy.quality_verdict(beyond, MON) == BREACH
    assert policy.quality_verdict(at_limit, MON) == OK  # "more than" the drop
    assert policy.quality_verdict(better, MON) == OK


def test_quality_breaches_on_a_recall_drop_with_pr_auc_unchanged() -> None:
    q = _quality(recall=0.50 - MON.max_recall_drop - 0.05, hold_recall=0.50)

    assert policy.quality_drops(q) == {"pr_auc": 0.0, "recall_at_fpr": pytest.approx(0.20)}
    assert policy.quality_verdict(q, MON) == BREACH
    d = _decide(_measured(quality=q))
    assert d.status == BREACH and d.retrain and d.alerts == {"breach": "breach:v3"}
    assert "recall@FPR 0.500 -> 0.300" in d.reason and "3000 labelled rows" in d.reason


def test_quality_without_figures_to_compare_is_not_measured() -> None:
    q = _quality(pr_auc=None, recall=None)

    assert policy.quality_verdict(q, MON) == NOT_MEASURED


# ------------------------------------------------------------------------------ decision
def test_C6_a_breach_retrains_once_and_says_what_moved() -> None:
    d = _decide(_measured(drift=7, pred=True))

    assert d.status == BREACH and d.retrain is True
    assert d.alerts == {"breach": "breach:v3"}
    assert "data drift in 7/10 features (5000 rows)" in d.reason
    assert "prediction drift wasserstein 0.4" in d.reason and WINDOW in d.reason


def test_a_quarantined_day_is_data_quality_and_never_retrains_even_with_a_breach() -> None:
    measured = _measured(drift=10, pred=True, quality=_quality(pr_auc=0.1))
    quarantined = {"transactions": ["2026-11-18"]}

    d = _decide(measured, quarantined=quarantined)

    assert d.status == "data_quality" and d.retrain is False
    assert d.alerts == {"data_quality": "data_quality:transactions 2026-11-18"}
    assert "breach" not in d.alerts
    assert any("not acted on" in n and "data_drift" in n for n in d.notes), d.notes
    assert "transactions 2026-11-18" in d.reason


def test_the_same_breach_inside_the_cooldown_neither_alerts_nor_retrains() -> None:
    measured = _measured(drift=7)
    first = _decide(measured, run_id="run-1")
    last = _remember(first, NOW, "run-1")

    again = _decide(
        measured, last=last, now=NOW + timedelta(hours=MON.retrain_cooldown_hours - 1), run_id="r2"
    )

    assert first.retrain is True
    assert again.status == "breach_in_cooldown" and again.retrain is False
    assert again.alerts == {} and again.suppressed == {"breach": "breach:v3"}
    assert any("cooldown" in n for n in again.notes)


def test_the_same_breach_after_the_cooldown_retrains_again() -> None:
    measured = _measured(drift=7)
    last = _remember(_decide(measured, run_id="run-1"), NOW, "run-1")

    later = _decide(
        measured, last=last, now=NOW + timedelta(hours=MON.retrain_cooldown_hours), run_id="r2"
    )

    assert later.status == BREACH and later.retrain is True and "breach" in later.alerts


def test_a_new_champion_is_a_new_breach_inside_the_cooldown() -> None:
    last = _remember(_decide(_measured(drift=7), run_id="run-1"), NOW, "run-1")

    new_champion = _decide(
        _measured(drift=7), last=last, now=NOW + timedelta(hours=1), champion_version="4"
    )

    assert new_champion.retrain and new_champion.alerts == {"breach": "breach:v4"}


def test_another_kind_breaching_under_the_same_champion_is_the_same_episode() -> None:
    """The kinds that breach change from night to night while one drift persists: the key
    is the champion, so a new kind inside the cooldown does not retrain again."""
    last = _remember(_decide(_measured(drift=7), run_id="run-1"), NOW, "run-1")

    new_kind = _decide(
        _measured(drift=7, pred=True, quality=_quality(pr_auc=0.2)),
        last=last,
        now=NOW + timedelta(hours=1),
        run_id="run-2",
    )

    assert new_kind.status == "breach_in_cooldown" and new_kind.retrain is False
    assert new_kind.suppressed == {"breach": "breach:v3"}


# --------------------------------------------------------------- warm-up per feature (C5)
# A young platform: f0..f3 have filled their window (1-day features), f4..f9 have not.
WARM, COLD = FEATURES[:4], FEATURES[4:]
UNTIL_30, UNTIL_37 = "2026-12-14", "2026-12-21"


def _young(drift: dict[str, Any], judged: list[str] = WARM) -> dict[str, Any]:
    """``drift`` as reports.data_drift gives it when only ``judged`` were compared."""
    young = {**drift, "columns": {f: v for f, v in drift["columns"].items() if f in judged}}
    young["drifted_columns"] = [f for f in drift["drifted_columns"] if f in judged]
    young["share"] = len(young["drifted_columns"]) / len(judged) if judged else 0.0
    young["warming_up"] = {
        f: {"filled_on": UNTIL_37, "window_days": 37}
        if f == "f9"
        else {"filled_on": UNTIL_30, "window_days": 30}
        for f in FEATURES
        if f not in judged
    }
    return young


def test_C5_a_young_platform_judges_the_features_whose_window_filled() -> None:
    """2 of the 4 warm features drifted: 2/4 = 0.5 of the judged ones breaches, where
    2/10 over every feature would not."""
    measured = _measured(drift=2, pred=True)
    measured["data_drift"] = _young(measured["data_drift"])

    d = _decide(measured)

    assert measured["data_drift"]["share"] == 0.5
    assert d.verdicts["data_drift"] == BREACH and d.verdicts["prediction_drift"] == BREACH
    assert d.status == BREACH and d.retrain is True
    assert "data drift in 2/4 features" in d.reason
    warming = [n for n in d.notes if n.startswith("features warming up")]
    assert warming == [
        "features warming up, not in the drift share (their window has not filled for "
        "enough rows yet; prediction drift may still feel them): until 2026-12-14 (needs 30 "
        "days): f4, f5, f6, f7, f8; until 2026-12-21 (needs 37 days): f9"
    ], d.notes


def test_C5_the_share_is_over_the_judged_features_only() -> None:
    one_of_four = _young(_drift(1))  # 1/4 = 0.25 < 0.5
    all_cold_drifted = _young(_drift(len(FEATURES)), judged=FEATURES[:2])  # 2/2

    assert policy.verdicts({"data_drift": one_of_four}, MON)["data_drift"] == OK
    assert policy.verdicts({"data_drift": all_cold_drifted}, MON)["data_drift"] == BREACH


def test_C5_no_feature_warm_is_warming_up_naming_the_features_and_the_day() -> None:
    """The verified bug: 50,000 rows, every feature warming up and no matured label yet;
    the reason read "not enough data for a verdict (minimum sample guard)"."""
    measured = _measured(drift=len(FEATURES), pred=True, rows=50_000, quality=_quality(rows=0))
    measured["quality"]["positives"] = 0
    measured["quality"]["window"] = "2026-11-10..2026-11-12"
    measured["data_drift"] = _young(measured["data_drift"], judged=[])

    d = _decide(measured)

    assert d.verdicts["data_drift"] == policy.WARMING
    assert d.verdicts["prediction_drift"] == policy.WARMING
    assert d.verdicts["quality"] == THIN
    assert d.status == policy.WARMING and d.retrain is False and d.alerts == {}
    assert "minimum sample guard" not in d.reason and "not enough data" not in d.reason
    assert d.reason.startswith("no verdict: data drift: every feature is still warming up ")
    assert f"until {UNTIL_30} (needs 30 days): f0, f1, f2, f3, f4" in d.reason
    assert f"until {UNTIL_37} (needs 37 days): f9" in d.reason
    assert "prediction drift: judged once a feature's window has filled" in d.reason
    assert (
        "quality: 0 matured labels of 2026-11-10..2026-11-12 with 0 positives, fewer than "
        f"the minimum of {MON.min_labelled_rows} labels and {MON.min_positives} positives"
    ) in d.reason


def test_C5_warming_drift_still_lets_quality_on_matured_labels_retrain() -> None:
    measured = _measured(drift=10, pred=True, quality=_quality(pr_auc=0.2))
    measured["data_drift"] = _young(measured["data_drift"], judged=[])

    d = _decide(measured)

    assert d.verdicts["quality"] == BREACH and d.status == BREACH and d.retrain is True
    assert any(n.startswith("not judged: data drift: every feature") for n in d.notes), d.notes


@pytest.mark.parametrize(
    ("change", "kind", "says"),
    [
        (
            {"rows": 20},
            "data_drift",
            f"data drift: 20 scored rows in the window, fewer than the minimum of "
            f"{MON.min_sample_rows} (minimum sample guard)",
        ),
        (
            {"rows": 20},
            "prediction_drift",
            f"prediction drift: 20 scored rows in the window, fewer than the minimum of "
            f"{MON.min_sample_rows}",
        ),
        (
            {"quality": _quality(rows=400, positives=30)},
            "quality",
            f"quality: 400 matured labels with 30 positives, fewer than the minimum of "
            f"{MON.min_labelled_rows} labels",
        ),
        (
            {"quality": _quality(pr_auc=None, recall=None)},
            "quality",
            "quality: no figure to compare on 3000 matured labels",
        ),
    ],
    ids=["thin_window_drift", "thin_window_prediction", "few_labels", "no_figures"],
)
def test_C5_each_state_not_judged_gives_its_own_cause(change, kind, says) -> None:
    measured = _measured(**change)

    reasons = policy.not_judged(measured, MON, policy.verdicts(measured, MON))
    d = _decide(measured)

    assert says in reasons[kind], reasons
    assert f"not judged: {reasons[kind]}" in d.notes
    assert "warming up" not in reasons[kind]


def test_C5_a_thin_window_everywhere_is_not_enough_data_with_the_counts() -> None:
    d = _decide(_measured(rows=20, quality=_quality(rows=10, positives=1)))

    assert d.status == THIN and d.retrain is False
    assert d.reason.startswith("no verdict: data drift: 20 scored rows")
    assert "quality: 10 matured labels with 1 positives" in d.reason


def test_a_retried_task_of_the_same_run_gets_the_same_retrain_answer() -> None:
    measured = _measured(drift=7)
    run = "scheduled__2026-11-20T02:00:00+00:00"
    first = _decide(measured, run_id=run)
    # the first try claimed the alert (record_alerts), then failed before it returned
    last = _remember(first, NOW, run)

    retry = _decide(measured, last=last, now=NOW + timedelta(minutes=5), run_id=run)
    other = _decide(measured, last=last, now=NOW + timedelta(minutes=5), run_id="manual__x")

    assert retry.retrain is True and retry.alerts == first.alerts
    assert other.retrain is False and other.status == "breach_in_cooldown"


def test_skew_alerts_naming_the_features_and_never_retrains() -> None:
    d = _decide(_measured(skew=_skew(["f2", "f7"])))

    assert d.verdicts["skew"] == BREACH
    assert d.status == OK and d.retrain is False
    assert d.alerts == {"skew": "skew:v3:f2,f7"}


def test_skew_on_too_few_pairs_is_thin_and_silent() -> None:
    d = _decide(_measured(skew=_skew(["f2"], rows=MON.min_skew_rows - 1)))

    assert d.verdicts["skew"] == THIN and d.alerts == {}


@pytest.mark.parametrize(
    ("age", "failed", "stale"),
    [
        (MON.max_champion_age_days, MON.max_failed_retrains - 1, False),
        (MON.max_champion_age_days + 1, 0, True),
        (1, MON.max_failed_retrains, True),
    ],
    ids=["fresh", "too_old", "retrains_failed"],
)
def test_a_stale_champion_alerts_without_retraining(age, failed, stale) -> None:
    d = _decide(_measured(), champion_age_days=age, failed_retrains=failed)

    assert d.retrain is False and d.status == OK
    assert ("staleness" in d.alerts) is stale
    if stale:
        assert d.alerts["staleness"] == "staleness:v3"
        assert any("stale" in n for n in d.notes), d.notes


def test_staleness_alerts_once_per_cooldown() -> None:
    first = _decide(_measured(), champion_age_days=45, run_id="r1")
    last = _remember(first, NOW, "r1")

    inside = _decide(
        _measured(), champion_age_days=46, last=last, now=NOW + timedelta(days=1), run_id="r2"
    )
    after = _decide(
        _measured(),
        champion_age_days=48,
        last=last,
        now=NOW + timedelta(hours=MON.retrain_cooldown_hours),
        run_id="r3",
    )

    assert first.alerts == {"staleness": "staleness:v3"}
    assert inside.alerts == {} and inside.suppressed == {"staleness": "staleness:v3"}
    assert after.alerts == {"staleness": "staleness:v3"}


def test_alert_kinds_have_their_own_cooldowns() -> None:
    """A breach claimed earlier does not silence a first skew or staleness alert."""
    last = _remember(_decide(_measured(drift=7), run_id="r1"), NOW, "r1")

    d = _decide(
        _measured(drift=7, skew=_skew(["f1"])),
        last=last,
        now=NOW + timedelta(hours=1),
        champion_age_days=60,
        run_id="r2",
    )

    assert d.status == "breach_in_cooldown"
    assert set(d.alerts) == {"skew", "staleness"} and set(d.suppressed) == {"breach"}


def test_due_treats_a_malformed_record_as_not_acted_on() -> None:
    assert policy.due(None, "k", NOW, 72)
    assert policy.due({"key": "k", "at": "not a time"}, "k", NOW, 72)
    assert policy.due({"key": "k"}, "k", NOW, 72)
    assert not policy.due({"key": "k", "at": NOW.isoformat()}, "k", NOW, 72)
    assert policy.due({"key": "k", "at": NOW.isoformat()}, "k", NOW, 0)


def test_the_decision_is_a_plain_dict() -> None:
    out = _decide(_measured(drift=7)).as_dict()

    assert out["status"] == BREACH and out["verdicts"]["data_drift"] == BREACH
    assert set(out) == {"status", "retrain", "reason", "verdicts", "alerts", "suppressed", "notes"}


def test_C5_a_window_filled_after_the_champions_data_says_so_not_a_past_until() -> None:
    """Seen on a fresh make run: 7-day features filled on 11-30, the current window is
    12-04..06 (30,000 rows, all filled), the champion trained on data before 11-30. The text
    read "until 2026-11-30 (needs 7 days)", a day already past."""
    drift = {
        "warming_up": {
            f: {
                "filled_on": "2026-11-30",
                "window_days": 7,
                "current_rows": 30_000,
                "reference_rows": 0,
                "min_rows": 1000,
            }
            for f in ("f1", "f2")
        }
        | {
            "f3": {
                "filled_on": "2026-12-23",
                "window_days": 30,
                "current_rows": 0,
                "reference_rows": 0,
                "min_rows": 1000,
            }
        }
    }
    assert policy.warming_up(drift) == (
        "filled on 2026-11-30 (needs 7 days), after the champion's training data (0 rows "
        "since): judged from the next champion: f1, f2; until 2026-12-23 (needs 30 days): f3"
    )
