"""The train_model DAG's approval steps, Airflow-free: routing, the lake copy of the
comparison, and the "approval required" mail with its link to the approval task."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.steps import train_model as steps
from tests.conftest import Mailbox

RESULT = {
    "model": "fraud_is_fraud",
    "version": "5",
    "champion_version": "4",
    "promoted": False,
    "decision": "awaiting_approval",
    "reason": "every check passed",
    "report_uri": "runs:/abc/gate/v5-comparison.html",
    "approval": {
        "required_because": ["drift_retrain: this retrain was triggered by monitoring (x)"],
        "timeout_hours": 72.0,
        "on_timeout": "reject",
    },
}


@pytest.mark.parametrize(
    ("decision", "promoted", "task"),
    [
        ("promoted", True, "publish_champion"),
        ("already_champion", True, "publish_champion"),
        ("rejected", False, "report_rejection"),
        ("awaiting_approval", False, "request_approval"),
    ],
)
def test_route_after_the_gate(decision: str, promoted: bool, task: str) -> None:
    assert steps.route({"decision": decision, "promoted": promoted}) == task


def test_the_comparison_is_copied_into_the_lake(data_root: Path, monkeypatch) -> None:
    import include.registry.report as report

    monkeypatch.setattr(report, "render_html", lambda comparison: "<html>side by side</html>")
    uri = steps.copy_comparison({**RESULT, "comparison": {}}, str(data_root / "lake"))
    assert uri == str(data_root / "lake/reports/promotion/fraud_is_fraud/v5/comparison.html")
    assert Path(uri).read_text() == "<html>side by side</html>"


def test_approval_request_mails_a_link_to_the_approval_task(mailbox: Mailbox, data_root) -> None:
    lake_report = str(data_root / "lake/reports/promotion/fraud_is_fraud/v5/comparison.html")
    result = {
        **RESULT,
        "lake_report_uri": lake_report,
        "comparison": {
            "primary_metric": "pr_auc",
            "challenger": {"overall": {"pr_auc": 0.61}},
            "champion": {"overall": {"pr_auc": 0.55}},
            "checks": [],
        },
    }
    asked = steps.request_approval(result, "train_model", "manual__2026", "approve_promotion")
    (msg,) = mailbox.messages
    assert "APPROVAL REQUIRED fraud_is_fraud v5" in msg["Subject"]
    body = Mailbox.body(msg)
    assert "/dags/train_model/runs/manual__2026/tasks/approve_promotion" in body
    assert "/mlops/lake/reports/promotion/fraud_is_fraud/v5/comparison.html" in body
    assert "drift_retrain" in body and "72" in body
    assert asked["subject"].startswith("Promote fraud_is_fraud v5 to champion")
    assert asked["url"].endswith("/dags/train_model/runs/manual__2026/tasks/approve_promotion")
    assert "| **pr_auc** | 0.6100 | 0.5500 |" in asked["body"]

    # A retried task (Airflow runs tasks at least once) asks again, but mails no second time.
    mailbox.clear()
    again = steps.request_approval(result, "train_model", "manual__2026", "approve_promotion")
    assert again == asked
    assert mailbox.messages == []


def test_nothing_to_record_when_nobody_was_asked() -> None:
    assert steps.record_approval(RESULT, None, "run") is None
    with pytest.raises(ValueError, match="no approval to act on"):
        steps.promote_approved(RESULT, {"chosen_options": ["Reject"], "responded_by_user": None})
