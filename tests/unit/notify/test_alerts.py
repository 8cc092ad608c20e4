"""Alert mails, Airflow-free: each template through the one delivery function, SMTP being
down (B7), recipients, and who may import whom. A real failing task mailing through the real
callback is in tests/integration/test_alerts_dag.py."""

from __future__ import annotations

import ast
import email
import email.policy
import json
import socket

import pytest

from include.notify import TaskContext, send_alert, task_failure
from include.quality.errors import BatchValidationFailed
from tests.conftest import ROOT

CTX = TaskContext(
    dag_id="ingest_transactions",
    task_id="validate_batch",
    run_id="scheduled__2026-11-20T00:00:00+00:00",
    day="2026-11-20",
    try_number=3,
    log_url="http://localhost:8080/dags/ingest_transactions/runs/x/tasks/validate_batch",
    error="RuntimeError: disk on fire",
)
Q = "/lake/quarantine/transactions/2026-11-20/r"


def _body(msg) -> str:
    return "\n".join(
        p.get_payload(decode=True).decode()
        for p in msg.walk()
        if p.get_content_maintype() == "text"
    )


def test_a_task_failure_mails_dag_task_date_error_and_log_link(mailbox, data_root) -> None:
    assert send_alert(task_failure(CTX)) is True
    (msg,) = mailbox.messages
    assert msg["Subject"] == (
        "[airflow-mlops] FAILED ingest_transactions.validate_batch for 2026-11-20"
    )
    assert msg["From"] == "airflow-mlops@example.com" and msg["To"] == "mlops-oncall@example.com"
    body = _body(msg)
    for needle in (
        "ingest_transactions",
        "validate_batch",
        "2026-11-20",
        "RuntimeError",
        "disk on fire",
        "http://localhost:8080/dags/ingest_transactions",
    ):
        assert needle in body


def test_a_quarantine_mail_lists_checks_counts_keys_and_evidence(mailbox, data_root) -> None:
    from include.quality.alerts import batch_quarantined

    summary = {
        "feed": "transactions",
        "day": "2026-11-20",
        "run_id": "r",
        "row_count": 100,
        "evidence_uri": Q,
        "validation_result_uri": f"{Q}/validation_result.json",
        "data_docs_uri": f"{Q}/data_docs/index.html",
        "raw_files": [f"{Q}/raw/t.csv"],
        "failed_checks": [
            {
                "name": "expect_column_values_to_be_unique(transaction_id)",
                "stage": "content",
                "unexpected_count": 6,
                "unexpected_percent": 0.3,
                "sample_keys": ["tx_00000000000000aa"],
                "sample_values": [],
                "message": "",
            }
        ],
    }
    send_alert(batch_quarantined(CTX, summary))
    (msg,) = mailbox.messages
    assert msg["Subject"] == (
        "[airflow-mlops] QUARANTINED transactions batch 2026-11-20: 1 check(s) failed"
    )
    body = _body(msg)
    for needle in (
        "expect_column_values_to_be_unique(transaction_id)",
        "6 row(s)",
        "tx_00000000000000aa",
        "validation_result.json",
        "data_docs/index.html",
    ):
        assert needle in body


def test_the_quarantine_summary_is_found_through_wrapping_exceptions() -> None:
    from include.quality.alerts import quarantine_summary

    summary = {"feed": "transactions", "day": "2026-11-20"}
    try:
        raise RuntimeError("wrapped by the task") from BatchValidationFailed(summary)
    except RuntimeError as exc:
        assert quarantine_summary(exc) == summary
    assert quarantine_summary(RuntimeError("other")) is None
    assert quarantine_summary(None) is None


def test_a_rejection_mail_shows_champion_and_challenger_side_by_side(mailbox, data_root) -> None:
    from include.registry.alerts import promotion_rejected

    result = {
        "model": "fraud_detector",
        "version": 4,
        "champion_version": 3,
        "reason": "beats_champion failed",
        "report_uri": "runs:/abc/gate/report.html",
        "comparison": {
            "primary_metric": "pr_auc",
            "challenger": {"overall": {"pr_auc": 0.41}},
            "champion": {"overall": {"pr_auc": 0.52}},
            "checks": [{"name": "beats_champion", "passed": False, "detail": "-0.11"}],
        },
    }
    send_alert(promotion_rejected(CTX, result))
    (msg,) = mailbox.messages
    assert msg["Subject"] == "[airflow-mlops] RETRAIN REJECTED fraud_detector v4: champion v3 kept"
    body = _body(msg)
    for needle in ("beats_champion", "FAIL", "0.41", "0.52", "runs:/abc/gate/report.html"):
        assert needle in body
    assert "drift persists" not in body  # a scheduled retrain says nothing about drift


def test_C18_a_first_model_below_the_minimums_says_nothing_is_served(mailbox, data_root) -> None:
    from include.registry.alerts import promotion_rejected

    result = {
        "model": "fraud_detector",
        "version": 1,
        "champion_version": None,
        "reason": "minimums failed",
        "report_uri": "runs:/abc/gate/report.html",
        "comparison": {
            "primary_metric": "pr_auc",
            "challenger": {"overall": {"pr_auc": 0.12}},
            "champion": None,
            "checks": [{"name": "minimum_pr_auc", "passed": False, "detail": "0.12 < 0.2"}],
        },
    }
    send_alert(promotion_rejected(CTX, result))
    (msg,) = mailbox.messages
    assert msg["Subject"] == (
        "[airflow-mlops] FIRST MODEL REJECTED fraud_detector v1: no champion yet, nothing is served"
    )
    body = _body(msg)
    assert "(no champion)" in body and "no model is served yet" in body
    for nothing in ("None", "null", "champion v-"):
        assert nothing not in body


def test_C6_a_rejected_monitoring_retrain_says_the_drift_persists_and_a_person_decides() -> None:
    from include.registry.alerts import promotion_rejected

    result = {"model": "m", "version": 5, "champion_version": 3, "reason": "beats_champion"}
    reason = "monitoring: PR-AUC 0.620 -> 0.230 (3000 labelled rows, 40 positives) in a..b"
    mail = promotion_rejected(CTX, result, reason)
    for text in (mail.text, mail.html):
        assert "The drift persists and the champion stays" in text
        assert "a person is the next step" in text
        assert "PR-AUC 0.620 -&gt; 0.230" in text or "PR-AUC 0.620 -> 0.230" in text
    manual = promotion_rejected(CTX, result, "asked by hand")
    assert "drift persists" not in manual.text


def test_B7_smtp_down_keeps_the_alert_and_does_not_raise(data_root, monkeypatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_MLOPS",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": dead_port,
                "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 2, "retry_limit": 0},
            }
        ),
    )
    assert send_alert(task_failure(CTX)) is False  # must not raise
    kept = list((data_root / "mail" / "undelivered").glob("*.eml"))
    assert len(kept) == 1
    msg = email.message_from_bytes(kept[0].read_bytes(), policy=email.policy.default)
    # (the stdlib folds this long subject after "Subject:", hence the strip)
    assert msg["Subject"].strip() == (
        "[airflow-mlops] FAILED ingest_transactions.validate_batch for 2026-11-20"
    )
    assert msg["To"] == "mlops-oncall@example.com" and "disk on fire" in _body(msg)


def test_recipients_come_from_settings_over_the_spec(monkeypatch) -> None:
    from include.notify import recipients

    assert recipients() == ["mlops-oncall@example.com"]
    monkeypatch.setenv("MLOPS_ALERT_RECIPIENTS", "a@x.org, b@y.org")
    assert recipients() == ["a@x.org", "b@y.org"]


def test_mail_sink_keeps_each_mail_as_a_file(tmp_path) -> None:
    from devtools.mail_sink import FileSinkHandler

    handler = FileSinkHandler(tmp_path)
    raw = b"Subject: [airflow-mlops] FAILED a.b for 2026-11-20\r\n\r\nhello\r\n"
    path = handler.save(raw)
    assert path.read_bytes() == raw and path.suffix == ".eml" and "FAILED_a.b" in path.name


def _imports(path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


STAGES = sorted(
    p.name
    for p in (ROOT / "include").iterdir()
    if p.is_dir() and (p / "__init__.py").exists() and p.name != "orchestration"
)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_packages_do_not_import_the_orchestration(stage: str) -> None:
    for path in (ROOT / "include" / stage).rglob("*.py"):
        bad = {m for m in _imports(path) if m.startswith("include.orchestration")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_notify_does_not_import_the_stages_whose_alerts_it_delivers() -> None:
    for path in (ROOT / "include" / "notify").rglob("*.py"):
        bad = {
            m
            for m in _imports(path)
            if m.startswith(("include.quality", "include.registry", "include.orchestration"))
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
