"""The rejected-retrain mail (fault C1): the gate kept the champion; why, side by side.

Airflow-free: built from the gate's JSON-able result (:class:`PromotionRejected`'s
``result``); mailed with :func:`include.notify.send_alert`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from include.console.links import console_or_location
from include.notify import cooldown
from include.notify.templates import Alert, TaskContext, context_rows, esc, html_table, shorten
from include.spec import UseCaseSpec, load_spec


def promotion_rejected(ctx: TaskContext, result: dict[str, Any], reason: str = "") -> Alert:
    """The gate kept the champion: say why, side by side, and where the report is.
    ``reason``: why the retrain ran (monitoring's breach: then the drift persists)."""
    comparison = result.get("comparison", {})
    challenger = comparison.get("challenger", {})
    champion = comparison.get("champion") or {}
    metric = comparison.get("primary_metric", "")
    # The lake copy of the comparison, as a console page (Airflow login).
    page = console_or_location(result.get("lake_report_uri"))
    first = not result.get("champion_version")
    if first:  # nothing to keep: the spec's minimums for a first model were not reached
        subject = (
            f"FIRST MODEL REJECTED {result.get('model')} v{result.get('version')}: "
            "no champion yet, nothing is served"
        )
    else:
        subject = (
            f"RETRAIN REJECTED {result.get('model')} v{result.get('version')}: "
            f"champion v{result.get('champion_version')} kept"
        )
    keys = sorted(set(challenger.get("overall", {})) | set(champion.get("overall", {})))
    none = "(no champion)" if first else None
    rows = [
        (k, challenger.get("overall", {}).get(k), champion.get("overall", {}).get(k, none))
        for k in keys
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
    persists = (
        f"This retrain was triggered by monitoring ({reason}). The drift persists and the "
        "champion stays: a person is the next step (the drift report, this comparison; retrain "
        "by hand with other Params, e.g. a shorter training_window_days, or accept)."
        if reason.startswith("monitoring")
        else ""
    )
    verdict = (
        "The first model did not reach the spec's minimums (model.minimums): no model is "
        "served yet. More data, or other Params for a manual train_model run, is the next step."
        if first
        else "The retrained model did not pass the gate; the champion is unchanged."
    )
    text = "\n".join(
        [
            verdict,
            *([persists] if persists else []),
            f"Reason: {result.get('reason')}",
            *[f"{k}: {v}" for k, v in context_rows(ctx)],
            f"Primary metric: {metric}",
            *[f"  {k}: challenger {a} / champion {b}" for k, a, b in rows],
            f"Report: {result.get('report_uri')}",
            *([f"Comparison page: {page}"] if page else []),
        ]
    )
    body = (
        f"<h2>{'First model' if first else 'Retrain'} rejected: {esc(result.get('model'))} "
        f"v{esc(result.get('version'))}</h2>"
        f"<p>{esc(verdict)} Reason: {esc(result.get('reason'))}</p>"
        + (f"<p><b>{esc(persists)}</b></p>" if persists else "")
        + f"{html_table(context_rows(ctx))}"
        "<h3>Holdout metrics</h3><table border='1' cellpadding='4'>"
        f"<tr><th>metric</th><th>challenger</th><th>champion</th></tr>{table}</table>"
        f"<h3>Checks</h3><ul>{checks}</ul>"
        f"<p>Comparison report (MLflow artifact): {esc(result.get('report_uri'))}</p>"
        + (f"<p><a href='{esc(page)}'>Open the comparison</a> ({esc(page)})</p>" if page else "")
    )
    return Alert(subject, body, text)


# ---------------------------------------------------------------- rejection mail cooldown
# One registered-model tag remembers the last rejection mailed: its cause and when.
LAST_REJECTION_TAG = "alerts.last_rejection"


def rejection_cause(result: dict[str, Any]) -> str:
    """What a rejection is *about*: the failed checks against which champion. Metric values
    differ on every retrain; the cause stays the same until something changes."""
    checks = (result.get("comparison") or {}).get("checks") or []
    failed = sorted(str(c.get("name")) for c in checks if not c.get("passed"))
    return f"champion v{result.get('champion_version') or '-'}: {', '.join(failed) or 'rejected'}"


def mail_due(last: dict[str, Any] | None, cause: str, now: datetime, cooldown_hours: float) -> bool:
    """Mail unless the same cause was mailed less than ``cooldown_hours`` ago."""
    return cooldown.due(last, cause, now, cooldown_hours, key_field="cause")


def claim_rejection_mail(
    result: dict[str, Any],
    *,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    now: datetime | None = None,
) -> bool:
    """True if this rejection should be mailed now (and record it as mailed); False while
    the same cause is inside the spec's ``model.rejection_mail_cooldown_hours``.

    The record lives on the registered model (a tag), so every worker sees the same one.
    """
    from include.modeling import tracking

    spec = spec or load_spec()
    now = now or datetime.now(UTC)
    client = tracking.configure(tracking_uri).MlflowClient()
    name = spec.model.registered_name
    raw = client.get_registered_model(name).tags.get(LAST_REJECTION_TAG)
    try:
        last = json.loads(raw) if raw else None
    except ValueError:
        last = None
    cause = rejection_cause(result)
    if not mail_due(last, cause, now, spec.model.rejection_mail_cooldown_hours):
        return False
    client.set_registered_model_tag(
        name, LAST_REJECTION_TAG, json.dumps({"cause": cause, "at": now.isoformat()})
    )
    return True
