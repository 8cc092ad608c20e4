"""The alert mail shape and the generic task-failure mail. Airflow-free: callers pass fields.

Stage-specific mails live beside the stage that sends them and build on the helpers here
(``include.quality.alerts``: a quarantined batch; ``include.registry.alerts``: a rejected
retrain). Subjects carry no prefix: :func:`include.notify.delivery.send_alert` adds the
spec's ``alerts.subject_prefix`` to every mail.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class Alert:
    subject: str
    html: str
    text: str

    def to_email(self, sender: str, recipients: list[str]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = self.subject
        msg["From"] = sender
        msg["To"] = ", ".join(recipients)
        msg.set_content(self.text)
        msg.add_alternative(self.html, subtype="html")
        return msg


@dataclass(frozen=True)
class TaskContext:
    """The task every alert is about (built from an Airflow context by the orchestration)."""

    dag_id: str
    task_id: str
    run_id: str
    day: str
    try_number: int
    log_url: str
    error: str


def esc(value: Any) -> str:
    """``value`` as HTML-escaped text."""
    return html.escape(str(value))


def shorten(value: Any, limit: int = 300) -> str:
    """``value`` as text (JSON unless a str), cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def context_rows(ctx: TaskContext) -> list[tuple[str, str]]:
    """The rows that say which task run an alert is about."""
    return [
        ("DAG", ctx.dag_id),
        ("Task", ctx.task_id),
        ("Date", ctx.day),
        ("Run", ctx.run_id),
        ("Try", str(ctx.try_number)),
    ]


def html_table(rows: list[tuple[str, str]]) -> str:
    """A two-column (label, value) HTML table."""
    cells = "".join(f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def task_failure(ctx: TaskContext) -> Alert:
    """Any failed task: DAG, task, date, run, try, the error and a link to the log."""
    subject = f"FAILED {ctx.dag_id}.{ctx.task_id} for {ctx.day}"
    text = "\n".join(
        [f"{k}: {v}" for k, v in context_rows(ctx)]
        + ["", "Error:", ctx.error, "", f"Log: {ctx.log_url}"]
    )
    body = (
        f"<h2>{esc(ctx.dag_id)}.{esc(ctx.task_id)} failed</h2>{html_table(context_rows(ctx))}"
        f"<h3>Error</h3><pre>{esc(ctx.error)}</pre>"
        f"<p><a href='{esc(ctx.log_url)}'>Open the task log</a></p>"
    )
    return Alert(subject, body, text)
