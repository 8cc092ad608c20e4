"""Tier 1: the train_model DAG's human approval is wired as the spec says (no run needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def train_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "train_model.py"))
    assert not bag.import_errors
    return bag.dags["train_model"]


def test_the_approval_task_takes_the_spec_timeout_and_default(train_dag) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    from include.spec import load_spec

    policy = load_spec().model.approval
    task = train_dag.get_task("approve_promotion")
    assert isinstance(task, ApprovalOperator)
    assert task.response_timeout.total_seconds() == policy.timeout_hours * 3600
    # The task runner msgpacks it to its supervisor: a pendulum Duration is refused there
    # and the task fails instead of awaiting input (seen on a real `make run`).
    assert type(task.response_timeout) is timedelta
    assert task.defaults == [policy.timeout_answer]
    assert not task.fail_on_reject  # a Reject is an answer, not a failure
    assert "comment" in task.params


def test_approve_promotes_then_publishes_and_every_answer_is_recorded(train_dag) -> None:
    # Reject skips the approval task's direct downstream (promote_approved, then what follows);
    # record_approval is not direct, so it still runs and records the rejection.
    assert train_dag.get_task("approve_promotion").downstream_task_ids == {"promote_approved"}
    assert train_dag.get_task("promote_approved").downstream_task_ids == {"publish_approved"}
    record = train_dag.get_task("record_approval")
    assert record.upstream_task_ids == {"publish_approved", "evaluate_and_promote"}
    assert record.trigger_rule == "none_failed_min_one_success"
    assert train_dag.get_task("route_decision").downstream_task_ids == {
        "publish_champion",
        "report_rejection",
        "request_approval",
    }
    assert (
        train_dag.get_task("publish_approved").outlets
        == train_dag.get_task("publish_champion").outlets
    )
