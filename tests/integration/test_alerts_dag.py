"""Tier 3: failure alerts from a real failing task, through the real callback and SMTP.

A tiny DAG built here with the project's ``default_args()`` (so the task carries the real
``AlertNotifier`` as its ``on_failure_callback``) runs with ``dag.test()``; its task raises,
and the in-process SMTP server must receive exactly one mail for it, after the last retry.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from include.quality.errors import BatchValidationFailed
from tests.integration.conftest import Mailbox, task_states

pytestmark = pytest.mark.e2e
DAY = datetime(2026, 11, 20)


def _failing_dag(dag_id: str, error: Exception):
    from airflow.sdk import dag, task

    from include.orchestration.alerts import default_args

    @dag(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        # one quick retry: the first try must not mail, the last one must mail once
        default_args=default_args(
            retries=1, retry_delay=timedelta(0), retry_exponential_backoff=False
        ),
    )
    def alerting() -> None:
        @task
        def validate_batch() -> None:
            raise error

        validate_batch()

    return alerting()


def _serialize(dag) -> None:
    """Write ``dag`` to the metadata DB as the DAG processor would: ``dag.test()`` only
    syncs the DAG folder, and this DAG lives in the test."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def _run(dag, mailbox: Mailbox):
    from airflow.sdk import timezone

    _serialize(dag)
    mailbox.clear()
    dr = dag.test(logical_date=timezone.datetime(DAY.year, DAY.month, DAY.day))
    assert str(dr.state) == "failed", task_states(dr)
    (ti,) = dr.get_task_instances()
    assert ti.try_number == 2, "the task was retried once"
    return dr


def test_a_failing_task_mails_once_with_dag_task_date_error_and_log_link(
    airflow_db, data_root, mailbox
) -> None:
    # given a DAG whose only task raises
    dag = _failing_dag("alerts_e2e_failure", RuntimeError("disk on fire"))
    # when it runs (and its retry fails too)
    dr = _run(dag, mailbox)
    # then exactly one mail arrives, after the last try, naming what failed and where to look
    assert len(mailbox.messages) == 1, mailbox.subjects()
    (msg,) = mailbox.messages
    assert (
        msg["Subject"] == "[airflow-mlops] FAILED alerts_e2e_failure.validate_batch for 2026-11-20"
    )
    assert msg["To"] == "mlops-oncall@example.com"
    body = Mailbox.body(msg)
    for needle in (
        "<td>alerts_e2e_failure</td>",
        "<td>validate_batch</td>",
        "<td>2026-11-20</td>",
        f"<td>{dr.run_id}</td>",
        ">Try</th><td>2</td>",
        "RuntimeError: disk on fire",
    ):
        assert needle in body, needle
    (link,) = re.findall(r"<a href='([^']+)'>Open the task log</a>", body)
    assert link.startswith("http") and "/dags/alerts_e2e_failure/runs/" in link
    assert "/tasks/validate_batch" in link and "try_number=2" in link


def test_a_wrapped_validation_failure_mails_the_quarantine_alert(
    airflow_db, data_root, mailbox
) -> None:
    # given a task failing with a quarantined batch somewhere in its cause chain
    summary = {
        "feed": "transactions",
        "day": "2026-11-20",
        "row_count": 100,
        "evidence_uri": "/lake/quarantine/transactions/2026-11-20/r",
        "failed_checks": [
            {"name": "expect_column_values_to_be_unique(transaction_id)", "unexpected_count": 6}
        ],
    }
    try:
        raise RuntimeError("wrapped by the task") from BatchValidationFailed(summary)
    except RuntimeError as wrapped:
        error = wrapped
    # when it runs
    _run(_failing_dag("alerts_e2e_quarantine", error), mailbox)
    # then the one mail is the quarantine alert, not the generic one
    assert mailbox.subjects() == [
        "[airflow-mlops] QUARANTINED transactions batch 2026-11-20: 1 check(s) failed"
    ]
    body = Mailbox.body(mailbox.messages[0])
    assert "expect_column_values_to_be_unique(transaction_id)" in body and "6 row(s)" in body
    assert "/tasks/validate_batch" in body
