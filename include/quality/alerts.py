"""The quarantine mail: a batch failed validation, which checks, how many rows, the evidence.

Airflow-free: built from the quarantine summary that :class:`BatchValidationFailed` carries;
mailed with :func:`include.notify.send_alert`.
"""

from __future__ import annotations

from typing import Any

from include.console.links import console_or_location
from include.notify.templates import Alert, TaskContext, context_rows, esc, html_table, shorten
from include.quality.errors import BatchValidationFailed


def quarantine_summary(exc: BaseException | None, depth: int = 5) -> dict[str, Any] | None:
    """The summary of a :class:`BatchValidationFailed` in ``exc``'s cause chain, if any."""
    seen = 0
    while exc is not None and seen < depth:
        if isinstance(exc, BatchValidationFailed):
            return exc.summary
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def batch_quarantined(ctx: TaskContext, summary: dict[str, Any]) -> Alert:
    """Failed checks with counts and sample keys/values, and where the evidence is."""
    failed = summary.get("failed_checks", [])
    subject = (
        f"QUARANTINED {summary.get('feed')} batch {summary.get('day')}: "
        f"{len(failed)} check(s) failed"
    )
    lines = [
        f"The {summary.get('feed')} batch for {summary.get('day')} failed validation and was "
        "moved to quarantine. Nothing downstream runs for this date.",
        "",
        *[f"{k}: {v}" for k, v in context_rows(ctx)],
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
            "" if c.get("observed") is None else f"observed {shorten(c['observed'])}"
        )
        keys = shorten(c.get("sample_keys") or [])
        values = shorten(c.get("sample_values") or [])
        lines.append(f"- {c['name']} [{c.get('stage')}] {amount} {detail}".rstrip())
        if c.get("sample_keys"):
            lines.append(f"    sample keys: {keys}")
        if c.get("sample_values"):
            lines.append(f"    sample values: {values}")
        rows_html.append(
            f"<tr><td>{esc(c['name'])}</td><td>{esc(c.get('stage'))}</td><td>{esc(amount)}</td>"
            f"<td>{esc(keys)}</td><td>{esc(values)}</td><td>{esc(detail)}</td></tr>"
        )
    # Console pages (Airflow login) where the console serves the lake; else the location.
    where = [
        ("Evidence folder", console_or_location(summary.get("evidence_uri"))),
        ("Validation result (JSON)", console_or_location(summary.get("validation_result_uri"))),
        ("Data Docs", console_or_location(summary.get("data_docs_uri"))),
        ("Raw files", ", ".join(console_or_location(f) for f in summary.get("raw_files", []))),
        ("Stored at", summary.get("evidence_uri", "")),
        ("Task log", ctx.log_url),
    ]
    lines += ["", "Evidence:", *[f"{k}: {v}" for k, v in where]]
    lines += ["", "To retry: fix the data, land it again, and clear this task's run."]
    body = (
        f"<h2>{esc(summary.get('feed'))} batch {esc(summary.get('day'))} quarantined</h2>"
        f"<p>It failed validation; nothing downstream runs for this date.</p>"
        f"{html_table(context_rows(ctx) + [('Rows in batch', str(summary.get('row_count')))])}"
        "<h3>Failed checks</h3><table border='1' cellpadding='4'>"
        "<tr><th>check</th><th>stage</th><th>unexpected</th><th>sample keys</th>"
        f"<th>sample values</th><th>detail</th></tr>{''.join(rows_html)}</table>"
        f"<h3>Evidence</h3>{html_table(where)}"
        "<p>To retry: fix the data, land it again, and clear this task's run.</p>"
    )
    return Alert(subject, body, "\n".join(lines))
