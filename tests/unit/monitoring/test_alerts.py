"""The mails of monitor_drift (include/monitoring/alerts.py), built from a summary shaped
like the one ``include.steps.monitor_drift.measure`` returns and the policy's decision.

Given a breach, a skew, a quarantined day or a stale champion, when its mail is built, then
it says what moved, by how much, on how many rows, where the report is and what happens
next, and carries nothing secret.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from include.monitoring import alerts, policy
from include.notify.templates import Alert
from include.spec import MonitoringSpec

MON = MonitoringSpec()
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
RUN = "scheduled__2026-11-20T02:00:00+00:00"
REPORT = "/data/lake/reports/drift/2026-11-17_2026-11-19/index.html"
TRIGGER = "monitor__2026-11-17_2026-11-19__scheduled__2026-11-20T02_00_00_00_00"
FEATURES = [
    "customer_amount_mean_30d",
    "amount_to_customer_mean_30d",
    "customer_txn_count_7d",
    "hour_of_day",
]


def _summary() -> dict[str, Any]:
    scores = {
        "customer_amount_mean_30d": 0.412,
        "amount_to_customer_mean_30d": 0.238,
        "customer_txn_count_7d": 0.031,
        "hour_of_day": 0.012,
    }
    return {
        "run_id": RUN,
        "measured_at": NOW.isoformat(),
        "window": "2026-11-17..2026-11-19",
        "window_first": "2026-11-17",
        "window_last": "2026-11-19",
        "model": "fraud_is_fraud",
        "champion_version": "3",
        "champion_data_end": "2026-10-01",
        "champion_age_days": 50,
        "current_rows": 29_874,
        "rows_total": 30_000,
        "reference_rows": 48_210,
        "quarantined": {},
        "report_uri": REPORT,
        "measured": {
            "data_drift": {
                "method": "wasserstein",
                "threshold": 0.1,
                "drift_share_limit": 0.5,
                "reference_rows": 48_210,
                "current_rows": 29_874,
                "drifted_columns": ["amount_to_customer_mean_30d", "customer_amount_mean_30d"],
                "share": 0.5,
                "columns": {
                    c: {"method": "wasserstein", "score": s, "threshold": 0.1, "drifted": s >= 0.1}
                    for c, s in scores.items()
                },
            },
            "prediction_drift": {
                "method": "wasserstein",
                "threshold": 0.1,
                "reference_rows": 7_231,
                "current_rows": 29_874,
                "score": 0.183,
                "drifted": True,
                "reference_mean": 0.0213,
                "current_mean": 0.0381,
            },
            "quality": {
                "rows": 4_120,
                "positives": 61,
                "fpr_target": 0.01,
                "pr_auc": 0.412,
                "recall_at_fpr": 0.39,
                "holdout": {"pr_auc": 0.583, "recall_at_fpr": 0.55},
            },
            "skew": {
                "method": "wasserstein",
                "threshold": 0.05,
                "rows": 812,
                "skewed_columns": ["customer_amount_mean_30d"],
                "columns": {
                    "customer_amount_mean_30d": {"score": 0.97},
                    "hour_of_day": {"score": 0.0},
                },
            },
        },
    }


def _decision(summary: dict[str, Any], **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "window": summary["window"],
        "champion_version": summary["champion_version"],
        "quarantined": summary["quarantined"],
        "last": {},
        "now": NOW,
        "champion_age_days": summary["champion_age_days"],
        "failed_retrains": 0,
        "run_id": RUN,
    }
    args.update(kw)
    return policy.decide(summary["measured"], MON, **args).as_dict()


def _both(mail: Alert) -> str:
    return mail.text + "\n" + mail.html


def _facts_are_there(mail: Alert) -> None:
    """Every mail: the model, the window, the row counts, the report and the run."""
    for needle in (
        "fraud_is_fraud v3",
        "2026-11-17..2026-11-19",
        "Scored rows in window: 29874",
        "Reference rows (training set): 48210",
        f"Report: {REPORT}",
        f"Run: {RUN}",
        "Next: ",
    ):
        assert needle in mail.text, (needle, mail.text)
    assert REPORT in mail.html and "<b>Next:</b>" in mail.html


def _no_secrets(mail: Alert) -> None:
    text = _both(mail).lower()
    for word in ("password", "secret", "token", "bearer", "smtp", "sqlite:"):
        assert word not in text, word


def test_a_breach_mail_says_what_moved_by_how_much_and_that_training_runs() -> None:
    summary = _summary()
    decision = _decision(summary)
    assert decision["retrain"] is True

    mail = alerts.breach(summary, decision, TRIGGER)

    assert mail.subject == (
        "DRIFT data_drift+prediction_drift+quality fraud_is_fraud v3 "
        "(2026-11-17..2026-11-19): retraining"
    )
    text = mail.text
    assert (
        "Data drift: 2/4 features beyond wasserstein 0.1 (share 0.50, limit 0.5), "
        "29874 rows vs 48210"
    ) in text
    # the drifted features, largest first, with their scores; the calm ones not listed
    assert text.index("customer_amount_mean_30d: 0.412") < text.index(
        "amount_to_customer_mean_30d: 0.238"
    )
    assert "customer_txn_count_7d" not in text and "hour_of_day" not in text
    assert "Prediction drift: wasserstein 0.183 (limit 0.1); mean score 0.0213 -> 0.0381" in text
    assert (
        "Quality on 4120 matured labels (61 positives): PR-AUC 0.583 -> 0.412 (drop 0.171), "
        "recall at FPR 0.01: 0.55 -> 0.39 (drop 0.16)"
    ) in text
    assert f"train_model was triggered (run {TRIGGER})" in text
    assert "within the cooldown" in text and decision["reason"] in text
    _facts_are_there(mail)
    _no_secrets(mail)


def test_a_breach_mail_lists_at_most_eight_features() -> None:
    summary = _summary()
    drift = summary["measured"]["data_drift"]
    drift["columns"] = {
        f"f{i:02d}": {"method": "wasserstein", "score": 0.2 + i / 100, "drifted": True}
        for i in range(12)
    }

    mail = alerts.breach(summary, _decision(summary), TRIGGER)

    listed = re.findall(r"^  (f\d\d): ", mail.text, flags=re.M)
    assert listed == [f"f{i:02d}" for i in range(11, 3, -1)]
    assert "12/12 features" in mail.text


def test_a_skew_mail_names_the_features_and_does_not_retrain() -> None:
    summary = _summary()

    mail = alerts.skew(summary)

    assert mail.subject == "SKEW customer_amount_mean_30d (2026-11-17..2026-11-19)"
    assert (
        "1 features differ online vs offline for the same 812 events (wasserstein >= 0.05):"
    ) in mail.text
    assert "customer_amount_mean_30d: 0.97" in mail.text
    assert "No retrain" in mail.text and "online feature path" in mail.text
    _facts_are_there(mail)
    _no_secrets(mail)


def test_a_skew_subject_cuts_a_long_feature_list() -> None:
    summary = _summary()
    skew = summary["measured"]["skew"]
    skew["skewed_columns"] = FEATURES
    skew["columns"] = {c: {"score": 0.5} for c in FEATURES}

    mail = alerts.skew(summary)

    assert mail.subject == (
        "SKEW customer_amount_mean_30d, amount_to_customer_mean_30d, customer_txn_count_7d... "
        "(2026-11-17..2026-11-19)"
    )
    assert "4 features differ" in mail.text


def test_a_data_quality_mail_names_the_quarantined_days_and_holds_the_retrain() -> None:
    summary = _summary()
    summary["quarantined"] = {
        "transactions": ["2026-11-18"],
        "labels": ["2026-11-18", "2026-11-19"],
    }
    decision = _decision(summary)
    assert decision["status"] == "data_quality" and decision["retrain"] is False

    mail = alerts.data_quality(summary, decision)

    assert mail.subject == (
        "MONITORING NOT JUDGED 2026-11-17..2026-11-19: quarantined batch in the window"
    )
    assert "transactions: quarantined, not published: 2026-11-18" in mail.text
    assert "labels: quarantined, not published: 2026-11-18, 2026-11-19" in mail.text
    # the breach the window would have been is said, and that it was not acted on
    assert "data_drift, prediction_drift, quality beyond threshold, not acted on" in mail.text
    assert "No retrain" in mail.text and "re-land it" in mail.text
    _facts_are_there(mail)
    _no_secrets(mail)


@pytest.mark.parametrize("rejection", [None, "pr_auc below the champion (0.41 < 0.58)"])
def test_a_staleness_mail_says_how_old_and_how_many_retrains_failed(rejection) -> None:
    summary = _summary()
    quiet = copy.deepcopy(summary)
    quiet["measured"] = {}
    decision = _decision(quiet, failed_retrains=2)
    assert "staleness" in decision["alerts"]
    summary["failed_retrains"] = 2  # notify() adds the decision's count

    mail = alerts.staleness(summary, decision, rejection)

    assert mail.subject == "STALE MODEL fraud_is_fraud v3 in production"
    assert (
        "champion v3 is stale: age 50 d > 30 d; 2 retrains in a row did not replace it" in mail.text
    )
    assert "Champion's training data ends 2026-10-01 (50 days ago)." in mail.text
    assert "Retrains asked for by monitoring since it became champion: 2." in mail.text
    assert ("Last rejection by the gate: " in mail.text) is (rejection is not None)
    if rejection:
        assert rejection in mail.text
    assert "A person decides" in mail.text
    _facts_are_there(mail)
    _no_secrets(mail)


def test_html_of_a_mail_is_escaped() -> None:
    summary = _summary()
    summary["report_uri"] = "s3://lake/reports/drift/a&b/<index>.html"

    mail = alerts.skew(summary)

    assert "a&amp;b/&lt;index&gt;.html" in mail.html and "<index>" not in mail.html


def test_C5_a_breach_mail_names_the_features_warming_up_and_until_when() -> None:
    summary = _summary()
    drift = summary["measured"]["data_drift"]
    drift["warming_up"] = {
        "customer_txn_count_30d": {"filled_on": "2026-12-14", "window_days": 30},
        "merchant_label_count_30d": {"filled_on": "2026-12-21", "window_days": 37},
    }
    summary["quality_window"] = "2026-11-10..2026-11-12"
    summary["measured"]["quality"]["window"] = "2026-11-10..2026-11-12"
    decision = _decision(summary)

    mail = alerts.breach(summary, decision, TRIGGER)

    assert (
        "Warming up, not judged (window not filled yet): until 2026-12-14 (needs 30 days): "
        "customer_txn_count_30d; until 2026-12-21 (needs 37 days): merchant_label_count_30d"
    ) in mail.text
    assert "Quality on 4120 matured labels of 2026-11-10..2026-11-12" in mail.text
    assert "Quality window (matured labels): 2026-11-10..2026-11-12" in mail.text
    assert "Window: 2026-11-17..2026-11-19" in mail.text


def test_a_breach_mail_says_which_drift_was_not_judged_and_why() -> None:
    summary = _summary()
    judged = alerts._drift_lines(summary, {"data_drift": "breach"})
    young = alerts._drift_lines(summary, {"data_drift": "warming_up"})
    thin = alerts._drift_lines(summary, {"data_drift": "not_enough_data"})

    assert "not judged" not in judged[0]
    assert young[0].endswith("(not judged: every feature is still warming up)")
    assert thin[0].endswith("(not judged: fewer rows than the minimum)")
