"""Failure alerts for every task, wired into Airflow's callbacks.

One notifier for all DAGs: a quarantined batch (``BatchValidationFailed`` anywhere in the
exception's cause chain) gets the detailed quarantine mail (``include.quality.alerts``), any
other failure the generic one (``include.notify.templates``: DAG, task, date, error, log
link). It is the task-level ``on_failure_callback``, which fires once per task after its last
retry, so one failure means one mail. Every mail goes out through
:func:`include.notify.send_alert` (SMTP connection, fallback to ``undelivered/``, B7).

This module only turns an Airflow context into the Airflow-free :class:`TaskContext`.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from include.config import UseCase, activate, get_settings
from include.notify import Alert, TaskContext, send_alert, task_failure

log = logging.getLogger(__name__)


class AlertNotifier(BaseNotifier):
    """Send the failure alert of a task instance (see module docstring)."""

    template_fields = ()

    def __init__(self, usecase: str | None = None) -> None:
        super().__init__()
        self.usecase = usecase  # the DAG's use case: its spec, mail prefix and storage

    def notify(self, context: Any) -> None:
        from include.quality.alerts import batch_quarantined, quarantine_summary

        if self.usecase:
            activate(self.usecase)
        ctx = task_context(context)
        summary = quarantine_summary(context.get("exception"))
        send_alert(batch_quarantined(ctx, summary) if summary else task_failure(ctx))


class DeployAlertNotifier(AlertNotifier):
    """The failure alert of a ``deploy_model`` task: what failed, what serves now, how to
    retry or roll back (``include.deployment.alerts``), and the failed attempt recorded in
    the deployment history. Like :class:`AlertNotifier`, once per task after its last try."""

    template_fields = ()

    def notify(self, context: Any) -> None:
        from include.deployment import history
        from include.deployment.alerts import deployment_failed
        from include.deployment.http import ServiceUnreachable, stable_url, status

        if self.usecase:
            activate(self.usecase)
        ctx = task_context(context)
        ti = context["ti"]
        target = _xcom(ti, "resolve_version") or {}
        version = target.get("version") or (context.get("params") or {}).get("version") or None
        try:
            serving = status(stable_url())
        except (ServiceUnreachable, Exception):  # noqa: BLE001 (the mail must go out)
            serving = None
        send_alert(deployment_failed(ctx, version=version, serving=serving, url=stable_url()))
        if version and ti.task_id != "watch":  # a failed watch recorded its rollback
            try:
                history.record_deployment(
                    version=str(version),
                    bento_tag=(_xcom(ti, "build_bento") or {}).get("bento_tag", ""),
                    run_id=ti.run_id,
                    outcome=f"failed_at_{ti.task_id}",
                    previous_version=target.get("serving_before"),
                    detail={"error": ctx.error},
                )
            except Exception:  # noqa: BLE001 (the registry may be what failed)
                log.exception("could not record the failed deployment")


def _xcom(ti: Any, task_id: str) -> Any:
    try:
        return ti.xcom_pull(task_ids=task_id)
    except Exception:  # noqa: BLE001 (an upstream that never ran has no XCom)
        return None


def task_context(context: Any) -> TaskContext:
    """The fields every alert shows, from an Airflow task context."""
    ti = context["ti"]
    exc = context.get("exception")
    interval = context.get("data_interval_start") or context.get("logical_date")
    params = context.get("params") or {}
    day = params.get("batch_date") or (interval.date().isoformat() if interval else "-")
    return TaskContext(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        day=str(day),
        try_number=int(getattr(ti, "try_number", 0) or 0),
        log_url=str(getattr(ti, "log_url", "") or ""),
        error=f"{type(exc).__name__}: {exc}" if exc else "unknown error (see the log)",
    )


def rejection_alert(context: Any, result: dict[str, Any]) -> Alert:
    """The mail of a challenger the gate rejected (fault C1): the comparison, side by side."""
    from include.registry.alerts import promotion_rejected

    reason = str((context.get("params") or {}).get("reason") or "")
    return promotion_rejected(task_context(context), result, reason)


def _activate(usecase: str, context: Any) -> None:
    activate(usecase)


def default_args(usecase: UseCase | None = None, **overrides: Any) -> dict[str, Any]:
    """Defaults every DAG uses: an owner, retries, bounded run time, the failure alert, and
    (``usecase``) each task working for the DAG's use case: before it runs, its process
    takes that use case's settings and spec (``include.config.activate``)."""
    args: dict[str, Any] = {
        "owner": "mlops",
        "retries": 2,
        "retry_delay": timedelta(seconds=get_settings().task_retry_delay_s),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=1),
        "on_failure_callback": AlertNotifier(usecase.name if usecase and usecase.scoped else None),
    }
    if usecase is not None and usecase.scoped:  # unscoped: the platform's only one
        args["on_execute_callback"] = functools.partial(_activate, usecase.name)
    args.update(overrides)
    return args
