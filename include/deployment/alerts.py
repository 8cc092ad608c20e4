"""The one mail of a failed deployment: what failed, what serves now, what to do."""

from __future__ import annotations

from typing import Any

from include.console.links import deployments_url
from include.notify.templates import Alert, TaskContext, context_rows, esc, html_table


def deployment_failed(
    ctx: TaskContext, *, version: str | None, serving: dict[str, Any] | None, url: str
) -> Alert:
    model = (serving or {}).get("model") or {}
    now = model.get("version")
    serving_line = f"v{now} still serves {url} (unchanged)" if now else f"nothing serves {url} yet"
    target = f"v{version}" if version else "the champion"
    retry = f"airflow dags trigger {ctx.dag_id}" + (
        f' --conf \'{{"version": "{version}"}}\'' if version else ""
    )
    rollback = (
        f'airflow dags trigger {ctx.dag_id} --conf \'{{"version": "{now}"}}\'' if now else "-"
    )
    subject = f"DEPLOY FAILED {target} at {ctx.task_id}: {serving_line}"
    steps = [
        f"Retry (after fixing the cause): {retry}  — or Trigger DAG w/ config in the UI.",
        f"Pin or roll back to a known version: {rollback}",
        "Nothing to roll back: a failed check or switch leaves the previous version serving;"
        " a failed watch rolled back automatically.",
    ]
    text = "\n".join(
        [
            f"Deploying {target} failed; {serving_line}.",
            *[f"{k}: {v}" for k, v in context_rows(ctx)],
            "",
            "What failed:",
            ctx.error,
            "",
            *steps,
            "",
            f"Log: {ctx.log_url}",
            f"Deployment records: {deployments_url()}",
        ]
    )
    body = (
        f"<h2>Deploying {esc(target)} failed</h2><p><b>{esc(serving_line)}</b></p>"
        f"{html_table(context_rows(ctx))}<h3>What failed</h3><pre>{esc(ctx.error)}</pre>"
        "<h3>What to do</h3><ul>" + "".join(f"<li>{esc(s)}</li>" for s in steps) + "</ul>"
        f"<p><a href='{esc(ctx.log_url)}'>Open the task log</a> · "
        f"<a href='{esc(deployments_url())}'>Deployment records</a></p>"
    )
    return Alert(subject, body, text)
