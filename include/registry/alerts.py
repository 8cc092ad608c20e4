"""The rejected-retrain mail (fault C1): the gate kept the champion; why, side by side.

Airflow-free: built from the gate's JSON-able result (:class:`PromotionRejected`'s
``result``); mailed with :func:`include.notify.send_alert`.
"""

from __future__ import annotations

from typing import Any

from include.notify.templates import Alert, TaskContext, context_rows, esc, html_table, shorten


def promotion_rejected(ctx: TaskContext, result: dict[str, Any]) -> Alert:
    """The gate kept the champion: say why, side by side, and where the report is."""
    comparison = result.get("comparison", {})
    challenger = comparison.get("challenger", {})
    champion = comparison.get("champion") or {}
    metric = comparison.get("primary_metric", "")
    subject = (
        f"RETRAIN REJECTED {result.get('model')} v{result.get('version')}: "
        f"champion v{result.get('champion_version') or '-'} kept"
    )
    keys = sorted(set(challenger.get("overall", {})) | set(champion.get("overall", {})))
    rows = [
        (k, challenger.get("overall", {}).get(k), champion.get("overall", {}).get(k)) for k in keys
    ]
    table = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(shorten(a))}</td><td>{esc(shorten(b))}</td></tr>"
        for k, a, b in rows
    )
    checks = "".join(
        f"<li>{esc(c.get('name'))}: {'pass' if c.get('passed') else 'FAIL'} "
        f"{esc(shorten(c.get('detail', '')))}</li>"
        for c in comparison.get("checks", [])
    )
    text = "\n".join(
        [
            "The retrained model did not pass the gate; the champion is unchanged.",
            f"Reason: {result.get('reason')}",
            *[f"{k}: {v}" for k, v in context_rows(ctx)],
            f"Primary metric: {metric}",
            *[f"  {k}: challenger {a} / champion {b}" for k, a, b in rows],
            f"Report: {result.get('report_uri')}",
        ]
    )
    body = (
        f"<h2>Retrain rejected: {esc(result.get('model'))} v{esc(result.get('version'))}</h2>"
        f"<p>The champion (v{esc(result.get('champion_version') or '-')}) is unchanged. "
        f"Reason: {esc(result.get('reason'))}</p>{html_table(context_rows(ctx))}"
        "<h3>Holdout metrics</h3><table border='1' cellpadding='4'>"
        f"<tr><th>metric</th><th>challenger</th><th>champion</th></tr>{table}</table>"
        f"<h3>Checks</h3><ul>{checks}</ul>"
        f"<p>Comparison report (MLflow artifact): {esc(result.get('report_uri'))}</p>"
    )
    return Alert(subject, body, text)
