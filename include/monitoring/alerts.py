"""The mails of ``monitor_drift``: each says what moved, by how much, with how much data,
where the report is, and what happens next. Airflow-free (fields in, :class:`Alert` out)."""

from __future__ import annotations

from typing import Any

from include.console.links import console_or_location
from include.monitoring.policy import of_window, quality_drops, warming_up
from include.notify.templates import Alert, esc, html_table

_TOP = 8  # features listed in a mail (the report has all)


def _facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    quality_window = summary.get("quality_window")
    return [
        ("Model", f"{summary.get('model')} v{summary.get('champion_version')} (champion)"),
        ("Window", str(summary.get("window"))),
        *([("Quality window (matured labels)", str(quality_window))] if quality_window else []),
        ("Scored rows in window", str(summary.get("current_rows"))),
        ("Reference rows (training set)", str(summary.get("reference_rows"))),
        # The console page (Airflow login) of the report; where it is stored, for tools.
        ("Report", console_or_location(summary.get("report_uri")) or "None"),
        ("Stored at", str(summary.get("report_uri"))),
        ("Run", str(summary.get("run_id"))),
    ]


_NOT_JUDGED = {
    "warming_up": "not judged: every feature is still warming up",
    "not_enough_data": "not judged: fewer rows than the minimum",
}


def _verdict_note(verdict: str | None) -> str:
    return f" ({_NOT_JUDGED[verdict]})" if verdict in _NOT_JUDGED else ""


def _drift_lines(summary: dict[str, Any], verdicts: dict[str, str] | None = None) -> list[str]:
    m = summary.get("measured") or {}
    verdicts = verdicts or {}
    out = []
    drift = m.get("data_drift")
    if drift:
        cols = sorted(
            ((c, v) for c, v in drift["columns"].items() if v["drifted"]),
            key=lambda cv: -(cv[1]["score"] or 0),
        )
        n_features = len(drift["columns"]) + len(drift.get("empty_columns", []))
        out.append(
            f"Data drift: {len(cols)}/{n_features} features beyond "
            f"{drift['method']} {drift['threshold']} (share {drift['share']:.2f}, limit "
            f"{drift['drift_share_limit']}), {drift['current_rows']} rows vs "
            f"{drift['reference_rows']}{_verdict_note(verdicts.get('data_drift'))}"
        )
        out += [f"  {c}: {v['score']}" for c, v in cols[:_TOP]]
        cold = warming_up(drift)
        if cold:
            out.append(f"Warming up, not judged (window not filled yet): {cold}")
    pred = m.get("prediction_drift")
    if pred:
        out.append(
            f"Prediction drift: {pred['method']} {pred['score']} (limit {pred['threshold']}); "
            f"mean score {pred['reference_mean']} -> {pred['current_mean']}"
            f"{_verdict_note(verdicts.get('prediction_drift'))}"
        )
    q = m.get("quality")
    if q and q.get("rows"):
        hold, drops = q.get("holdout") or {}, quality_drops(q)
        out.append(
            f"Quality on {q['rows']} matured labels{of_window(q)} ({q['positives']} "
            f"positives): PR-AUC "
            f"{hold.get('pr_auc')} -> {q.get('pr_auc')} (drop {drops['pr_auc']}), recall at "
            f"FPR {q['fpr_target']}: {hold.get('recall_at_fpr')} -> {q.get('recall_at_fpr')} "
            f"(drop {drops['recall_at_fpr']})"
        )
    return out


def _alert(
    subject: str, headline: str, summary: dict[str, Any], lines: list[str], next_: str
) -> Alert:
    facts = _facts(summary)
    text = "\n".join(
        [headline, "", *lines, "", *[f"{k}: {v}" for k, v in facts], "", "Next: " + next_]
    )
    body = (
        f"<h2>{esc(headline)}</h2>{html_table(facts)}"
        f"<pre>{esc(chr(10).join(lines))}</pre><p><b>Next:</b> {esc(next_)}</p>"
    )
    return Alert(subject, body, text)


def breach(summary: dict[str, Any], decision: dict[str, Any], trigger_run_id: str) -> Alert:
    """Drift or quality beyond its threshold: retraining was triggered."""
    kinds = [k for k, v in decision["verdicts"].items() if v == "breach" and k != "skew"]
    subject = (
        f"DRIFT {'+'.join(kinds)} {summary.get('model')} v{summary.get('champion_version')} "
        f"({summary.get('window')}): retraining"
    )
    next_ = (
        f"train_model was triggered (run {trigger_run_id}) with the reason below; its gate "
        "decides. Promoted: deploy_model puts the new version on the stable address. Rejected: "
        "a mail says so, the champion stays and a person decides. The same breach does not "
        f"retrain again within the cooldown. Reason: {decision['reason']}"
    )
    return _alert(
        subject,
        "Production drifted beyond the monitoring policy",
        summary,
        _drift_lines(summary, decision.get("verdicts")),
        next_,
    )


def skew(summary: dict[str, Any]) -> Alert:
    s = (summary.get("measured") or {}).get("skew") or {}
    cols = s.get("skewed_columns", [])
    lines = [
        f"{len(cols)} features differ online vs offline for the same {s.get('rows')} "
        f"events ({s.get('method')} >= {s.get('threshold')}):",
        *[f"  {c}: {s['columns'][c]['score']}" for c in cols[:_TOP]],
    ]
    subject = (
        f"SKEW {', '.join(cols[:3])}{'...' if len(cols) > 3 else ''} ({summary.get('window')})"
    )
    next_ = (
        "No retrain: retraining does not fix skew. Compare the online feature path (Feast "
        "materialization, the service's lookup, request-time features) with the offline one "
        "for these features; the skew report shows both distributions."
    )
    return _alert(subject, "Training/serving skew beyond the threshold", summary, lines, next_)


def data_quality(summary: dict[str, Any], decision: dict[str, Any]) -> Alert:
    q = summary.get("quarantined") or {}
    lines = [f"{feed}: quarantined, not published: {', '.join(days)}" for feed, days in q.items()]
    lines += decision.get("notes", [])
    subject = f"MONITORING NOT JUDGED {summary.get('window')}: quarantined batch in the window"
    next_ = (
        "No retrain on a window with a hole in its data. Fix the quarantined batch (see its "
        "quarantine mail and evidence) and re-land it; the next run judges the window again."
    )
    return _alert(
        subject, "An upstream data-quality failure in the monitoring window", summary, lines, next_
    )


def staleness(
    summary: dict[str, Any], decision: dict[str, Any], last_rejection: str | None
) -> Alert:
    lines = [n for n in decision.get("notes", []) if "stale" in n]
    lines.append(
        f"Champion's training data ends {summary.get('champion_data_end')} "
        f"({summary.get('champion_age_days')} days ago)."
    )
    lines.append(
        f"Retrains asked for by monitoring since it became champion: "
        f"{summary.get('failed_retrains')}."
    )
    if last_rejection:
        lines.append(f"Last rejection by the gate: {last_rejection}")
    subject = f"STALE MODEL {summary.get('model')} v{summary.get('champion_version')} in production"
    next_ = (
        "Production runs on an old model and retraining has not replaced it (skipped for lack "
        "of matured labels, or rejected by the gate). A person decides: look at the "
        "rejections and the drift reports, retrain by hand with other Params, or accept."
    )
    return _alert(subject, "Production runs on an old model", summary, lines, next_)
