"""The "approval required" mail: a promotion waits for a person; what, why, and where to
answer (the approval task in Airflow's "Required actions"). Airflow-free; mailed with
:func:`include.notify.send_alert`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from include.notify.templates import Alert, esc, shorten
from include.registry.approval import champion_label


def approval_requested(
    result: Mapping[str, Any], *, approve_url: str, report_link: str | None
) -> Alert:
    """The mail for a gate result whose decision is ``awaiting_approval``."""
    comparison = result.get("comparison") or {}
    mine = (comparison.get("challenger") or {}).get("overall") or {}
    theirs = (comparison.get("champion") or {}).get("overall") or {}
    approval = result.get("approval") or {}
    because = list(approval.get("required_because") or [])
    subject = (
        f"APPROVAL REQUIRED {result.get('model')} v{result.get('version')} "
        f"(vs {champion_label(result)})"
    )
    timeout = (
        f"No answer within {approval.get('timeout_hours', '?')} h: "
        f"{approval.get('on_timeout', 'reject')} (model.approval.on_timeout)."
    )
    keys = sorted(set(mine) | set(theirs))
    text = "\n".join(
        [
            "The retrained model passed the gate; a person decides whether it becomes champion.",
            *[f"Required because: {b}" for b in because],
            *[f"  {k}: challenger {mine.get(k)} / champion {theirs.get(k)}" for k in keys],
            f"Approve or reject: {approve_url}",
            f"Comparison: {report_link or result.get('report_uri')}",
            timeout,
        ]
    )
    rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(shorten(mine.get(k)))}</td>"
        f"<td>{esc(shorten(theirs.get(k)))}</td></tr>"
        for k in keys
    )
    report = (
        f"<a href='{esc(report_link)}'>the comparison report</a>"
        if report_link
        else esc(result.get("report_uri"))
    )
    html = (
        f"<h2>Approval required: {esc(result.get('model'))} v{esc(result.get('version'))}</h2>"
        f"<p>The challenger passed the gate against {esc(champion_label(result))}; "
        "production does not change until a person approves.</p>"
        "<ul>" + "".join(f"<li>{esc(b)}</li>" for b in because) + "</ul>"
        f"<p><a href='{esc(approve_url)}'><b>Approve or reject</b></a> (the approval task)</p>"
        "<table border='1' cellpadding='4'><tr><th>metric</th><th>challenger</th>"
        f"<th>champion</th></tr>{rows}</table>"
        f"<p>Side by side: {report}</p><p>{esc(timeout)}</p>"
    )
    return Alert(subject, html, text)
