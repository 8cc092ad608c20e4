"""The ``monitor_drift`` DAG's steps, one function per task; references in, references out.

1. :func:`measure`: the window's scored rows (drift: each feature once its window has
   filled, ``include.monitoring.warmup``) and captured requests, and the newest window's
   matured labels (quality), against the champion's reference → the Evidently reports
   (``include.monitoring.reports``), written under ``<lake>/reports/drift/<first>_<last>/``
   and added to the Evidently workspace; returns the summary (numbers and report URIs, no
   data; which window each comparison used).
2. :func:`decide`: the spec's policy (``include.monitoring.policy``) with the remembered alerts
   (dedup, cooldown) and the history (retrains that did not replace the champion, its age).
3. :func:`notify`: one mail per alert the decision claimed.
4. :func:`record`: the history row (one per run), ``history.csv`` and the final summary.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from include import layout
from include.config import get_settings
from include.data import lake
from include.monitoring import outputs, policy, reference, reports, state, warmup, window
from include.monitoring.errors import NoChampion
from include.spec import load_spec

log = logging.getLogger(__name__)


def run_day_of(
    run_after: datetime | None,
    data_interval_end: datetime | None = None,
    logical_date: datetime | None = None,
) -> date:
    """The day a run judges the window before: the day it runs on (``run_after``: a
    scheduled run's data-interval end, a manual run's trigger time). A manual run's
    inferred interval ends at the schedule's last tick: triggered before the schedule's time
    of day, that is yesterday, and its window would end two days back, not "the day before
    the run" that its Params promise."""
    when = run_after or data_interval_end or logical_date or datetime.now(UTC)
    return when.astimezone(UTC).date()


def measure(run_day: date, params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Run every comparison of the window (module docstring); returns the summary.

    Drift is judged on the window, each feature on the rows its window has filled for
    (:mod:`include.monitoring.warmup`). Quality is judged on the newest window whose labels
    have matured (:func:`include.monitoring.window.matured`), unless a person chose the
    dates (``start``/``end``): then on their window, as they asked."""
    from include.features import schema
    from include.registry.read import champion

    spec, settings = load_spec(), get_settings()
    mon, lake_uri = spec.monitoring, settings.lake_uri
    names = spec.names
    start, end = params.get("start") or None, params.get("end") or None
    win = window.resolve(run_day, int(params.get("window_days") or mon.window_days), start, end)
    champ = champion(spec)
    if champ is None:
        raise NoChampion("no champion yet: nothing to monitor (train_model promotes one)")
    features = list(champ.features)
    current = window.scored(lake_uri, win, spec, features)
    quarantined = window.quarantined(lake_uri, win, list(spec.feeds))
    ref = reference.load(champ, spec)
    log.info(
        "window %s: %d scored rows (%d days, missing %s), reference %d rows, holdout %d",
        win,
        len(current.frame),
        len(current.days_present),
        current.days_missing or "-",
        len(ref.features),
        len(ref.holdout),
    )
    published = lake.partitions(lake_uri, names.events_feed)
    history_start = published[0] if published else win.first
    windows = schema.feature_windows(schema.feature_spec(spec))
    warmups = warmup.plan(
        {f: windows.get(f, 0) for f in features},
        history_start,
        ref.event_times,
        current.frame[names.event_ts],
        mon.min_sample_rows,
    )
    if current.sampling.rate < 1.0:
        log.info("window %s read as a sample: %s", win, _sampled(current, spec))
    judged = [f for f in features if warmups[f].judged]
    measured: list[reports.Measured] = []
    if len(current.frame):
        measured.append(
            reports.data_drift(
                warmup.mask(ref.features, ref.event_times, warmups),
                warmup.mask(current.frame, current.frame[names.event_ts], warmups),
                judged,
                mon,
                warming_up={f: w.as_dict() for f, w in warmups.items() if not w.judged},
            )
        )
        measured.append(reports.prediction_drift(ref.holdout["score"], current.frame["score"], mon))
    online = window.captured(lake_uri, win, spec, features, current.sampling.rate)
    offline_pairs, online_pairs = window.skew_pairs(online, current.frame, names.tx_key, features)
    if len(offline_pairs):
        measured.append(reports.skew(offline_pairs, online_pairs, features, mon))
    label_days = lake.partitions(lake_uri, names.labels_feed)
    qwin = window.for_quality(
        win, label_days, spec.labels.max_delay_days, chosen=bool(start or end)
    )
    scored_q = current if qwin == win else window.scored(lake_uri, qwin, spec, features)
    if scored_q.sampling.rate < 1.0:
        log.info("quality window %s read as a sample: %s", qwin, _sampled(scored_q, spec))
    labelled = window.labelled(lake_uri, qwin, spec, scored_q.frame)
    quality = reports.quality(
        labelled,
        ref.holdout,
        target=names.target,
        threshold=champ.require_threshold(),
        fpr_target=spec.model.recall_at_fpr,
        holdout_figures=champ.holdout_metrics,
    )
    quality.summary["window"] = str(qwin)
    measured.append(quality)
    folder = layout.drift_report_dir(lake_uri, win.first, win.last)
    report_uris = outputs.write_reports(folder, measured)
    if settings.evidently_workspace is not None:
        outputs.add_to_workspace(
            settings.evidently_workspace, f"{spec.model.registered_name} monitoring", measured
        )
    now = datetime.now(UTC)
    summary = {
        "run_id": run_id,
        "measured_at": now.isoformat(),
        "window": str(win),
        "window_first": win.first.isoformat(),
        "window_last": win.last.isoformat(),
        # Drift and skew are judged on the window; quality on this one (matured labels).
        "quality_window": str(qwin),
        "quality_window_first": qwin.first.isoformat(),
        "quality_window_last": qwin.last.isoformat(),
        "model": champ.name,
        "champion_version": champ.version,
        "champion_data_start": ref.data_start.isoformat(),
        "champion_data_end": ref.data_end.isoformat(),
        "history_start": history_start.isoformat(),
        "judged_features": judged,
        "warming_up": {f: w.as_dict() for f, w in warmups.items() if not w.judged},
        "champion_age_days": (now.date() - ref.data_end).days,
        "current_rows": len(current.frame),
        "rows_total": current.rows_total,
        # monitoring.max_read_rows: "-", or how many of how many scored rows were read
        "sampled": _sampled(current, spec),
        "quality_sampled": _sampled(scored_q, spec),
        "days_present": current.days_present,
        "days_missing": current.days_missing,
        "scored_by_versions": current.model_versions,
        "captured_rows": len(online),
        "labelled_rows": len(labelled),
        "reference_rows": len(ref.features),
        "quarantined": quarantined,
        "measured": {m.name: m.summary for m in measured},
        "reports": report_uris,
        "report_dir": folder,
        "report_uri": storage_index(folder),
    }
    outputs.write_summary(folder, summary)
    return summary


def _sampled(scored: window.Scored, spec: Any) -> str:
    return scored.sampling.describe("scored rows", spec.names.tx_key)


def storage_index(folder: str) -> str:
    from include import storage

    return storage.join(folder, layout.MONITORING_INDEX)


def decide(summary: dict[str, Any], run_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The decision, its alerts claimed (remembered for the cooldown) before it returns."""
    spec, settings = load_spec(), get_settings()
    now = now or datetime.now(UTC)
    model = summary["model"]
    history = state.rows(settings.lake_uri)
    failed = state.failed_retrains(history, summary["champion_version"], run_id)
    last = state.last_alerts(model)
    decision = policy.decide(
        summary["measured"],
        spec.monitoring,
        window=summary["window"],
        champion_version=summary["champion_version"],
        quarantined=summary["quarantined"],
        last=last,
        now=now,
        champion_age_days=int(summary["champion_age_days"]),
        failed_retrains=failed,
        run_id=run_id,
    )
    state.record_alerts(model, decision.alerts, now, run_id=run_id)
    out = decision.as_dict()
    out["failed_retrains"] = failed
    conf: dict[str, Any] = {"reason": decision.reason}
    if spec.monitoring.retrain_window_days:
        conf["training_window_days"] = spec.monitoring.retrain_window_days
    out["trigger_conf"] = conf if decision.retrain else {}
    out["trigger_run_id"] = (
        f"monitor__{summary['window_first']}_{summary['window_last']}__{layout.run_slug(run_id)}"
        if decision.retrain
        else ""
    )
    log.info(
        "decision: %s (%s); alerts %s, suppressed %s",
        decision.status,
        decision.reason,
        decision.alerts or "-",
        decision.suppressed or "-",
    )
    return out


def notify(summary: dict[str, Any], decision: dict[str, Any]) -> list[str]:
    """One mail per alert the decision claimed; returns the kinds sent."""
    from include.monitoring import alerts
    from include.notify import send_alert

    summary = {**summary, "failed_retrains": decision.get("failed_retrains")}
    sent = []
    for kind in decision.get("alerts", {}):
        if kind == "breach":
            mail = alerts.breach(summary, decision, decision["trigger_run_id"])
        elif kind == "skew":
            mail = alerts.skew(summary)
        elif kind == "data_quality":
            mail = alerts.data_quality(summary, decision)
        else:
            mail = alerts.staleness(summary, decision, _last_rejection(summary["model"]))
        send_alert(mail)
        sent.append(kind)
    return sent


def _last_rejection(model: str) -> str | None:
    import json

    from include.modeling import tracking
    from include.registry.alerts import LAST_REJECTION_TAG

    raw = (
        tracking.configure().MlflowClient().get_registered_model(model).tags.get(LAST_REJECTION_TAG)
    )
    try:
        return json.loads(raw).get("cause") if raw else None
    except ValueError:
        return None


def record(summary: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """The run's history row and the window's final summary (with the decision)."""
    settings = get_settings()
    m = summary["measured"]
    drift, pred = m.get("data_drift") or {}, m.get("prediction_drift") or {}
    skew, q = m.get("skew") or {}, m.get("quality") or {}
    row = {
        "run_id": summary["run_id"],
        "measured_at": summary["measured_at"],
        "window_first": summary["window_first"],
        "window_last": summary["window_last"],
        "quality_window_first": summary.get("quality_window_first"),
        "quality_window_last": summary.get("quality_window_last"),
        "model": summary["model"],
        "champion_version": summary["champion_version"],
        "champion_age_days": summary["champion_age_days"],
        "current_rows": summary["current_rows"],
        "reference_rows": summary["reference_rows"],
        "captured_rows": summary["captured_rows"],
        "labelled_rows": q.get("rows"),
        "positives": q.get("positives"),
        "drift_share": drift.get("share"),
        "drifted_features": len(drift.get("drifted_columns", [])),
        "judged_features": len(summary.get("judged_features", [])),
        "warming_up_features": len(summary.get("warming_up", {})),
        "prediction_drift": pred.get("score"),
        "skew_rows": skew.get("rows"),
        "skewed_features": len(skew.get("skewed_columns", [])),
        "pr_auc": q.get("pr_auc"),
        "holdout_pr_auc": (q.get("holdout") or {}).get("pr_auc"),
        "recall_at_fpr": q.get("recall_at_fpr"),
        "holdout_recall_at_fpr": (q.get("holdout") or {}).get("recall_at_fpr"),
        "decision": decision["status"],
        "retrain": bool(decision["retrain"]),
        "trigger_run_id": decision.get("trigger_run_id", ""),
        "alerts": ",".join(decision.get("alerts", {})),
        "suppressed": ",".join(decision.get("suppressed", {})),
        "reason": decision["reason"],
        "report_uri": summary["report_uri"],
        "feature_drift": {c: v["score"] for c, v in drift.get("columns", {}).items()},
        "feature_skew": {c: v["score"] for c, v in skew.get("columns", {}).items()},
    }
    state.write_row(settings.lake_uri, summary["run_id"], row)
    state.write_history(settings.lake_uri)
    outputs.write_summary(summary["report_dir"], {**summary, "decision": decision})
    return {k: v for k, v in row.items() if not isinstance(v, dict)}
