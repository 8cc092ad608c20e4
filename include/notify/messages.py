"""Compose alert emails (subject + HTML + plain text). Airflow-free: callers pass fields.

Two kinds: a task failure (DAG, task, date, error, log link) and a quarantined batch
(failed expectations with counts and sample keys, where the evidence is).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
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
    dag_id: str
    task_id: str
    run_id: str
    day: str
    try_number: int
    log_url: str
    error: str


def _e(value: Any) -> str:
    return html.escape(str(value))


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _context_rows(ctx: TaskContext) -> list[tuple[str, str]]:
    return [
        ("DAG", ctx.dag_id),
        ("Task", ctx.task_id),
        ("Date", ctx.day),
        ("Run", ctx.run_id),
        ("Try", str(ctx.try_number)),
    ]


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th align='left'>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def task_failure(prefix: str, ctx: TaskContext) -> Alert:
    subject = f"{prefix} FAILED {ctx.dag_id}.{ctx.task_id} for {ctx.day}"
    text = "\n".join(
        [f"{k}: {v}" for k, v in _context_rows(ctx)]
        + ["", "Error:", ctx.error, "", f"Log: {ctx.log_url}"]
    )
    body = (
        f"<h2>{_e(ctx.dag_id)}.{_e(ctx.task_id)} failed</h2>{_table(_context_rows(ctx))}"
        f"<h3>Error</h3><pre>{_e(ctx.error)}</pre>"
        f"<p><a href='{_e(ctx.log_url)}'>Open the task log</a></p>"
    )
    return Alert(subject, body, text)


def batch_quarantined(prefix: str, ctx: TaskContext, summary: dict[str, Any]) -> Alert:
    failed = summary.get("failed_checks", [])
    subject = (
        f"{prefix} QUARANTINED {summary.get('feed')} batch {summary.get('day')}: "
        f"{len(failed)} check(s) failed"
    )
    lines = [
        f"The {summary.get('feed')} batch for {summary.get('day')} failed validation and was "
        "moved to quarantine. Nothing downstream runs for this date.",
        "",
        *[f"{k}: {v}" for k, v in _context_rows(ctx)],
        f"Rows in batch: {summary.get('row_count')}",
        "",
        "Failed checks:",
    ]
    rows_html = []
    for c in failed:
        count = c.get("unexpected_count")
        pct = c.get("unexpected_percent")
        amount = (
            "" if count is None else f"{count} row(s)" + ("" if pct is None else f" ({pct:.3g}%)")
        )
        detail = c.get("message") or (
            "" if c.get("observed") is None else f"observed {_short(c['observed'])}"
        )
        keys = _short(c.get("sample_keys") or [])
        values = _short(c.get("sample_values") or [])
        lines.append(f"- {c['name']} [{c.get('stage')}] {amount} {detail}".rstrip())
        if c.get("sample_keys"):
            lines.append(f"    sample keys: {keys}")
        if c.get("sample_values"):
            lines.append(f"    sample values: {values}")
        rows_html.append(
            f"<tr><td>{_e(c['name'])}</td><td>{_e(c.get('stage'))}</td><td>{_e(amount)}</td>"
            f"<td>{_e(keys)}</td><td>{_e(values)}</td><td>{_e(detail)}</td></tr>"
        )
    where = [
        ("Evidence folder", summary.get("evidence_uri", "")),
        ("Validation result (JSON)", summary.get("validation_result_uri", "")),
        ("Data Docs", summary.get("data_docs_uri", "")),
        ("Raw files", ", ".join(summary.get("raw_files", []))),
        ("Task log", ctx.log_url),
    ]
    lines += ["", "Evidence:", *[f"{k}: {v}" for k, v in where]]
    lines += ["", "To retry: fix the data, land it again, and clear this task's run."]
    body = (
        f"<h2>{_e(summary.get('feed'))} batch {_e(summary.get('day'))} quarantined</h2>"
        f"<p>It failed validation; nothing downstream runs for this date.</p>"
        f"{_table(_context_rows(ctx) + [('Rows in batch', str(summary.get('row_count')))])}"
        "<h3>Failed checks</h3><table border='1' cellpadding='4'>"
        "<tr><th>check</th><th>stage</th><th>unexpected</th><th>sample keys</th>"
        f"<th>sample values</th><th>detail</th></tr>{''.join(rows_html)}</table>"
        f"<h3>Evidence</h3>{_table(where)}"
        "<p>To retry: fix the data, land it again, and clear this task's run.</p>"
    )
    return Alert(subject, body, "\n".join(lines))


def save_undelivered(alert: Alert, sender: str, recipients: list[str], folder: Path) -> Path:
    """Keep an alert that SMTP refused, so the failure to alert is itself visible (B7)."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in alert.subject)[:120]
    path = folder / f"{safe}.eml"
    path.write_bytes(bytes(alert.to_email(sender, recipients)))
    return path


def promotion_rejected(prefix: str, ctx: TaskContext, result: dict[str, Any]) -> Alert:
    """The gate kept the champion: say why, side by side, and where the report is."""
    comparison = result.get("comparison", {})
    challenger = comparison.get("challenger", {})
    champion = comparison.get("champion") or {}
    metric = comparison.get("primary_metric", "")
    subject = (
        f"{prefix} RETRAIN REJECTED {result.get('model')} v{result.get('version')}: "
        f"champion v{result.get('champion_version') or '-'} kept"
    )
    keys = sorted(set(challenger.get("overall", {})) | set(champion.get("overall", {})))
    rows = [
        (k, challenger.get("overall", {}).get(k), champion.get("overall", {}).get(k)) for k in keys
    ]
    table = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(_short(a))}</td><td>{_e(_short(b))}</td></tr>"
        for k, a, b in rows
    )
    checks = "".join(
        f"<li>{_e(c.get('name'))}: {'pass' if c.get('passed') else 'FAIL'} "
        f"{_e(_short(c.get('detail', '')))}</li>"
        for c in comparison.get("checks", [])
    )
    text = "\n".join(
        [
            "The retrained model did not pass the gate; the champion is unchanged.",
            f"Reason: {result.get('reason')}",
            *[f"{k}: {v}" for k, v in _context_rows(ctx)],
            f"Primary metric: {metric}",
            *[f"  {k}: challenger {a} / champion {b}" for k, a, b in rows],
            f"Report: {result.get('report_uri')}",
        ]
    )
    body = (
        f"<h2>Retrain rejected: {_e(result.get('model'))} v{_e(result.get('version'))}</h2>"
        f"<p>The champion (v{_e(result.get('champion_version') or '-')}) is unchanged. "
        f"Reason: {_e(result.get('reason'))}</p>{_table(_context_rows(ctx))}"
        "<h3>Holdout metrics</h3><table border='1' cellpadding='4'>"
        f"<tr><th>metric</th><th>challenger</th><th>champion</th></tr>{table}</table>"
        f"<h3>Checks</h3><ul>{checks}</ul>"
        f"<p>Comparison report (MLflow artifact): {_e(result.get('report_uri'))}</p>"
    )
    return Alert(subject, body, text)
