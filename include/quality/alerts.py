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


def headline(causes: list[str], failed: int) -> str:
    """The subject's tail: the first named cause, else how many checks failed."""
    if causes:
        more = f" (+{len(causes) - 1} more)" if len(causes) > 1 else ""
        return shorten(causes[0], 140) + more
    return f"{failed} check(s) failed"


# A pii column's failing values, as the lake knows them: raw ones only in the evidence.
PSEUDONYMISED = "sample values, pseudonymised (pii: the raw ones are in the evidence, admins only)"


def _check_rows(failed: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Each failed check as text lines and as an HTML table row."""
    lines, rows_html = [], []
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
        stage = c.get("stage") or ""
        if c.get("action") == "warn":
            stage += ", warns"
        lines.append(f"- {c['name']} [{stage}] {amount} {detail}".rstrip())
        if c.get("sample_keys"):
            lines.append(f"    sample keys: {keys}")
        if c.get("sample_values"):
            label = PSEUDONYMISED if c.get("pii") else "sample values"
            lines.append(f"    {label}: {values}")
            if c.get("pii"):
                values = f"{values} ({PSEUDONYMISED})"
        rows_html.append(
            f"<tr><td>{esc(c['name'])}</td><td>{esc(stage)}</td><td>{esc(amount)}</td>"
            f"<td>{esc(keys)}</td><td>{esc(values)}</td><td>{esc(detail)}</td></tr>"
        )
    return lines, rows_html


_TABLE_HEAD = (
    "<table border='1' cellpadding='4'><tr><th>check</th><th>stage</th><th>unexpected</th>"
    "<th>sample keys</th><th>sample values</th><th>detail</th></tr>"
)


def _causes_html(causes: list[str]) -> str:
    if not causes:
        return ""
    return "<h3>What changed</h3><ul>" + "".join(f"<li>{esc(c)}</li>" for c in causes) + "</ul>"


def _young(partitions: int | None, minimum: int | None) -> list[str]:
    if partitions is None or minimum is None or partitions >= minimum:
        return []
    return [
        f"The feed's history holds {partitions} published day(s), fewer than "
        f"history.min_partitions ({minimum}): its history checks only warn until then."
    ]


def batch_quarantined(ctx: TaskContext, summary: dict[str, Any]) -> Alert:
    """What changed (named causes), the failed checks with counts and sample keys/values, and
    where the evidence is."""
    failed = summary.get("failed_checks", [])
    causes = summary.get("causes") or []
    subject = (
        f"QUARANTINED {summary.get('feed')} batch {summary.get('day')}: "
        f"{headline(causes, len(failed))}"
    )
    lines = [
        *causes,
        *([""] if causes else []),
        f"The {summary.get('feed')} batch for {summary.get('day')} failed validation and was "
        "moved to quarantine. Nothing downstream runs for this date.",
        "",
        *[f"{k}: {v}" for k, v in context_rows(ctx)],
        f"Rows in batch: {summary.get('row_count')}",
        "",
        "Failed checks:",
    ]
    check_lines, rows_html = _check_rows(failed)
    lines += check_lines
    # Console pages (Airflow login) where the console serves the lake; else the location.
    # The evidence holds the raw data (personal data too): the console opens it for admins.
    where = [
        ("Evidence folder", console_or_location(summary.get("evidence_uri"))),
        (
            "Validation result (JSON, admins)",
            console_or_location(summary.get("validation_result_uri")),
        ),
        ("Data Docs (admins)", console_or_location(summary.get("data_docs_uri"))),
        (
            "Raw files (admins)",
            ", ".join(console_or_location(f) for f in summary.get("raw_files", [])),
        ),
        ("Stored at", summary.get("evidence_uri", "")),
        ("Task log", ctx.log_url),
    ]
    lines += ["", "Evidence:", *[f"{k}: {v}" for k, v in where]]
    lines += ["", "To retry: fix the data, land it again, and clear this task's run."]
    accept = _accept_hint(summary)
    if accept:
        lines.append(accept)
    body = (
        f"<h2>{esc(summary.get('feed'))} batch {esc(summary.get('day'))} quarantined</h2>"
        f"{_causes_html(causes)}"
        f"<p>It failed validation; nothing downstream runs for this date.</p>"
        f"{html_table(context_rows(ctx) + [('Rows in batch', str(summary.get('row_count')))])}"
        f"<h3>Failed checks</h3>{_TABLE_HEAD}{''.join(rows_html)}</table>"
        f"<h3>Evidence</h3>{html_table(where)}"
        "<p>To retry: fix the data, land it again, and clear this task's run.</p>"
        + (f"<p>{esc(accept)}</p>" if accept else "")
    )
    return Alert(subject, body, "\n".join(lines))


def _accept_hint(summary: dict[str, Any]) -> str:
    """Where a person accepts the batch as the new normal, when only its history failed."""
    if not summary.get("acceptable"):
        return ""
    from include.config import current_usecase
    from include.console.links import dag_url

    dag_id = current_usecase().qualify("accept_batch")
    return (
        "If the change is real (a new market, a price change), accept it as the new normal: "
        f"trigger {dag_id} with feed={summary.get('feed')} and day={summary.get('day')}, "
        f"then approve it with a comment in Required actions: {dag_url(dag_id)}"
    )


def batch_warned(
    ctx: TaskContext, report: dict[str, Any], summary: dict[str, Any], minimum: int | None = None
) -> Alert:
    """A batch that passed every rule that stops it, published, but not like its history:
    what changed, the checks that warned and where the evidence is."""
    from include.quality.quarantine import failed_checks

    warned = [c for c in failed_checks(report) if c.get("action") == "warn"]
    causes = report.get("causes") or []
    feed, day = report.get("feed"), report.get("day")
    subject = f"WARNING {feed} batch {day} published: {headline(causes, len(warned))}"
    note = _young(report.get("history_partitions"), minimum)
    check_lines, rows_html = _check_rows(warned)
    where = [
        ("Validation result (JSON)", console_or_location(summary.get("report_uri"))),
        ("Data Docs", console_or_location(summary.get("data_docs_uri"))),
        ("Task log", ctx.log_url),
    ]
    advice = (
        "The batch was published and downstream runs as usual. If this is the new normal "
        "(a new market, a price change), nothing to do: the feed's profile moves with the "
        "published days. If it is wrong, land the corrected batch again for this date."
    )
    lines = [
        *causes,
        "",
        f"The {feed} batch for {day} differs from its recent history in the checks below, "
        "which only warn.",
        *note,
        "",
        *[f"{k}: {v}" for k, v in context_rows(ctx)],
        f"Rows in batch: {report.get('row_count')}",
        "",
        "Checks that warned:",
        *check_lines,
        "",
        "Evidence:",
        *[f"{k}: {v}" for k, v in where],
        "",
        advice,
    ]
    body = (
        f"<h2>{esc(feed)} batch {esc(day)} published with a warning</h2>"
        f"{_causes_html(causes)}"
        + "".join(f"<p>{esc(n)}</p>" for n in note)
        + f"{html_table(context_rows(ctx) + [('Rows in batch', str(report.get('row_count')))])}"
        f"<h3>Checks that warned</h3>{_TABLE_HEAD}{''.join(rows_html)}</table>"
        f"<h3>Evidence</h3>{html_table(where)}<p>{esc(advice)}</p>"
    )
    return Alert(subject, body, "\n".join(lines))
