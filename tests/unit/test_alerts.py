"""Alert mails: a generic task failure, a quarantined batch, and SMTP being down (B7)."""

from __future__ import annotations

import email
import json
import socket
from datetime import UTC
from types import SimpleNamespace

from include.quality.errors import BatchValidationFailed


def _context(exc: BaseException) -> dict:
    from datetime import datetime

    ti = SimpleNamespace(
        dag_id="ingest_transactions",
        task_id="validate_batch",
        run_id="scheduled__2026-11-20T00:00:00+00:00",
        try_number=3,
        log_url="http://localhost:8080/dags/ingest_transactions/runs/x/tasks/validate_batch",
    )
    return {
        "ti": ti,
        "exception": exc,
        "data_interval_start": datetime(2026, 11, 20, tzinfo=UTC),
        "params": {"batch_date": None},
    }


def _body(msg) -> str:
    return "\n".join(
        p.get_payload(decode=True).decode()
        for p in msg.walk()
        if p.get_content_maintype() == "text"
    )


def test_a_task_failure_mails_dag_task_date_error_and_log_link(mailbox, data_root) -> None:
    from include.orchestration.alerts import AlertNotifier

    AlertNotifier().notify(_context(RuntimeError("disk on fire")))
    (msg,) = mailbox.messages
    assert msg["Subject"] == (
        "[airflow-mlops] FAILED ingest_transactions.validate_batch for 2026-11-20"
    )
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


Q = "/lake/quarantine/transactions/2026-11-20/r"


def test_a_quarantine_mail_lists_checks_counts_keys_and_evidence(mailbox, data_root) -> None:
    from include.orchestration.alerts import AlertNotifier

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
    try:
        raise BatchValidationFailed(summary)
    except BatchValidationFailed as cause:
        try:
            raise RuntimeError("wrapped by the task") from cause
        except RuntimeError as exc:
            AlertNotifier().notify(_context(exc))
    (msg,) = mailbox.messages
    assert "QUARANTINED transactions batch 2026-11-20: 1 check(s) failed" in msg["Subject"]
    body = _body(msg)
    for needle in (
        "expect_column_values_to_be_unique(transaction_id)",
        "6 row(s)",
        "tx_00000000000000aa",
        "validation_result.json",
        "data_docs/index.html",
    ):
        assert needle in body


def test_B7_smtp_down_keeps_the_alert_and_does_not_raise(data_root, monkeypatch) -> None:
    from include.orchestration.alerts import AlertNotifier

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
    AlertNotifier().notify(_context(RuntimeError("boom")))  # must not raise
    kept = list((data_root / "mail" / "undelivered").glob("*.eml"))
    assert len(kept) == 1
    msg = email.message_from_bytes(kept[0].read_bytes())
    assert "FAILED ingest_transactions.validate_batch" in msg["Subject"]


def test_recipients_come_from_settings_over_the_spec(monkeypatch) -> None:
    from include.orchestration.alerts import recipients

    assert recipients() == ["mlops-oncall@example.com"]
    monkeypatch.setenv("MLOPS_ALERT_RECIPIENTS", "a@x.org, b@y.org")
    assert recipients() == ["a@x.org", "b@y.org"]


def test_mail_sink_keeps_each_mail_as_a_file(tmp_path) -> None:
    from devtools.mail_sink import FileSinkHandler

    handler = FileSinkHandler(tmp_path)
    raw = b"Subject: [airflow-mlops] FAILED a.b for 2026-11-20\r\n\r\nhello\r\n"
    path = handler.save(raw)
    assert path.read_bytes() == raw and path.suffix == ".eml" and "FAILED_a.b" in path.name
