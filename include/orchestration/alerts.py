"""Alert emails for every task failure, through Airflow's SMTP connection.

One notifier for all DAGs: a quarantined batch (``BatchValidationFailed``) gets the detailed
quarantine mail, any other failure the generic one (DAG, task, date, error, log link).
It is the task-level ``on_failure_callback``, which fires once per task after its last
retry, so one failure means one mail. If SMTP itself fails, the mail is written to
``<mail_sink_dir>/undelivered/`` and the error is logged: the pipeline outcome is unchanged
and the missed alert stays visible (fault B7).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from include.config import get_settings

log = logging.getLogger(__name__)


def _find_summary(exc: BaseException | None) -> dict[str, Any] | None:
    from include.quality.errors import BatchValidationFailed

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, BatchValidationFailed):
            return exc.summary
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def recipients() -> list[str]:
    from include.spec import load_spec

    settings = get_settings()
    return list(settings.alert_recipients or load_spec(settings.usecase_spec).alerts.recipients)


class AlertNotifier(BaseNotifier):
    """Send the failure alert of a task instance (see module docstring)."""

    template_fields = ()

    def notify(self, context: Any) -> None:
        from include.notify import messages
        from include.spec import load_spec

        prefix = load_spec(get_settings().usecase_spec).alerts.subject_prefix
        task_ctx = _task_context(context)
        summary = _find_summary(context.get("exception"))
        alert = (
            messages.batch_quarantined(prefix, task_ctx, summary)
            if summary
            else messages.task_failure(prefix, task_ctx)
        )
        send_alert(alert)


def _task_context(context: Any) -> Any:
    """The fields every alert shows, from an Airflow task context."""
    from include.notify import messages

    ti = context["ti"]
    exc = context.get("exception")
    interval = context.get("data_interval_start") or context.get("logical_date")
    params = context.get("params") or {}
    day = params.get("batch_date") or (interval.date().isoformat() if interval else "-")
    return messages.TaskContext(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        day=str(day),
        try_number=int(getattr(ti, "try_number", 0) or 0),
        log_url=str(getattr(ti, "log_url", "") or ""),
        error=f"{type(exc).__name__}: {exc}" if exc else "unknown error (see the log)",
    )


def rejection_alert(context: Any, result: dict[str, Any]) -> Any:
    """The mail of a challenger the gate rejected (fault C1): the comparison, side by side."""
    from include.notify import messages
    from include.spec import load_spec

    prefix = load_spec(get_settings().usecase_spec).alerts.subject_prefix
    return messages.promotion_rejected(prefix, _task_context(context), result)


def send_alert(alert: Any) -> bool:
    """Mail ``alert`` (an ``include.notify.messages.Alert``) to the recipients; never raises.

    Returns False when SMTP failed, after keeping the mail under ``undelivered/``."""
    from include.notify import messages
    from include.spec import load_spec

    settings = get_settings()
    sender = load_spec(settings.usecase_spec).alerts.from_email
    to = recipients()
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=settings.smtp_conn_id) as hook:
            hook.send_email_smtp(
                to=to, subject=alert.subject, html_content=alert.html, from_email=sender
            )
        log.info("alert sent to %s: %s", to, alert.subject)
        return True
    except Exception:
        path = messages.save_undelivered(alert, sender, to, settings.mail_sink_dir / "undelivered")
        log.exception("ALERT NOT DELIVERED (%s); kept at %s", alert.subject, path)
        return False


def default_args(**overrides: Any) -> dict[str, Any]:
    """Defaults every DAG uses: an owner, retries, bounded run time, the failure alert."""
    args: dict[str, Any] = {
        "owner": "mlops",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=1),
        "on_failure_callback": AlertNotifier(),
    }
    args.update(overrides)
    return args
