"""The spec's ``monitoring`` policy: from measurements to verdicts to one decision. Pure.

Verdicts, one per comparison: ``ok``, ``breach``, or ``not_enough_data`` (the minimum
sample guard: a thin window is never drift and never retrains), ``not_measured`` (no
reference figure). The decision, in order:

1. a quarantined day in the window (an upstream data-quality failure): alert, no retrain;
   the drift numbers of a window with a hole are not acted on;
2. data drift, prediction drift or quality beyond the threshold: alert and retrain, once per
   breach: the dedup key is the champion (whatever kinds breach while the same drift
   persists), and the same key does nothing again inside ``retrain_cooldown_hours``;
3. otherwise ``ok`` or ``not_enough_data``.

Independently: skew alerts (naming the features) and never retrains; staleness (the
champion's age, retrains in a row that did not replace it) alerts. Each alert kind has its
own dedup key and the same cooldown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from include.notify import cooldown
from include.spec import MonitoringSpec

OK, BREACH, THIN, NOT_MEASURED = "ok", "breach", "not_enough_data", "not_measured"
# The reference was drawn while the longest feature window was still filling (a platform
# younger than that window): its rolling counts are not stationary, so drift against it is
# the platform's age, not production's. Quality (labels) is still judged.
WARMING = "warming_up"
RETRAIN_KINDS = ("data_drift", "prediction_drift", "quality")
ALERT_KINDS = ("breach", "skew", "data_quality", "staleness")


@dataclass
class Decision:
    status: str  # ok | not_enough_data | data_quality | breach | breach_in_cooldown
    retrain: bool
    reason: str
    verdicts: dict[str, str]
    alerts: dict[str, str] = field(default_factory=dict)  # kind -> dedup key (to send)
    suppressed: dict[str, str] = field(default_factory=dict)  # kind -> key (in cooldown)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdicts(
    measured: dict[str, dict | None], mon: MonitoringSpec, *, warm: bool = True
) -> dict[str, str]:
    """One verdict per comparison (see the module docstring); ``warm``: False when the
    reference was drawn before the longest feature window had filled (:data:`WARMING`)."""
    out: dict[str, str] = {}
    drift = measured.get("data_drift")
    rows = (drift or {}).get("current_rows", 0)
    if not drift or rows < mon.min_sample_rows:
        out["data_drift"] = THIN
    elif not warm:
        out["data_drift"] = WARMING
    else:
        out["data_drift"] = BREACH if drift["share"] >= mon.drift_share else OK
    pred = measured.get("prediction_drift")
    if not pred or pred.get("current_rows", 0) < mon.min_sample_rows:
        out["prediction_drift"] = THIN
    elif not warm:
        out["prediction_drift"] = WARMING
    else:
        out["prediction_drift"] = BREACH if pred["drifted"] else OK
    out["quality"] = quality_verdict(measured.get("quality"), mon)
    sk = measured.get("skew")
    if not sk or sk.get("rows", 0) < mon.min_skew_rows:
        out["skew"] = THIN
    else:
        out["skew"] = BREACH if sk["skewed_columns"] else OK
    return out


def quality_drops(q: dict[str, Any]) -> dict[str, float | None]:
    """Holdout figure minus the window's, per metric (positive = worse now)."""
    hold = q.get("holdout") or {}
    out: dict[str, float | None] = {}
    for metric in ("pr_auc", "recall_at_fpr"):
        now, ref = q.get(metric), hold.get(metric)
        out[metric] = None if now is None or ref is None else round(float(ref) - float(now), 6)
    return out


def quality_verdict(q: dict[str, Any] | None, mon: MonitoringSpec) -> str:
    if (
        not q
        or q.get("rows", 0) < mon.min_labelled_rows
        or q.get("positives", 0) < mon.min_positives
    ):
        return THIN
    drops = quality_drops(q)
    if drops["pr_auc"] is None and drops["recall_at_fpr"] is None:
        return NOT_MEASURED
    limits = {"pr_auc": mon.max_pr_auc_drop, "recall_at_fpr": mon.max_recall_drop}
    breached = any(d is not None and d > limits[m] for m, d in drops.items())
    return BREACH if breached else OK


def due(
    last: dict[str, Any] | None, key: str, now: datetime, cooldown_hours: float, run_id: str = ""
) -> bool:
    """True unless ``key`` was acted on less than ``cooldown_hours`` before ``now`` by another
    run (a retried task of the run that claimed it gets the same answer again)."""
    if last and run_id and last.get("key") == key and last.get("run_id") == run_id:
        return True
    return cooldown.due(last, key, now, cooldown_hours)


def describe_breach(measured: dict[str, dict | None], kinds: list[str], window: str) -> str:
    """One line for train_model's ``reason`` and the mail's subject line."""
    parts = []
    drift = measured.get("data_drift") or {}
    if "data_drift" in kinds:
        parts.append(
            f"data drift in {len(drift['drifted_columns'])}/{_features(drift)} features "
            f"({drift['current_rows']} rows)"
        )
    pred = measured.get("prediction_drift") or {}
    if "prediction_drift" in kinds:
        parts.append(f"prediction drift {pred['method']} {pred['score']}")
    q = measured.get("quality") or {}
    if "quality" in kinds:
        hold = q.get("holdout") or {}
        parts.append(
            f"PR-AUC {_fmt(hold.get('pr_auc'))} -> {_fmt(q.get('pr_auc'))}, recall@FPR "
            f"{_fmt(hold.get('recall_at_fpr'))} -> {_fmt(q.get('recall_at_fpr'))} "
            f"({q['rows']} labelled rows, {q['positives']} positives)"
        )
    return f"monitoring: {'; '.join(parts)} in {window}"


def _features(drift: dict[str, Any]) -> int:
    """Every model feature: those compared and those empty on a side (not compared)."""
    return len(drift.get("columns", {})) + len(drift.get("empty_columns", []))


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def decide(
    measured: dict[str, dict | None],
    mon: MonitoringSpec,
    *,
    window: str,
    champion_version: str,
    quarantined: dict[str, list[str]],
    last: dict[str, dict[str, Any]],
    now: datetime,
    champion_age_days: int,
    failed_retrains: int,
    run_id: str = "",
    warm: bool = True,
) -> Decision:
    """The run's decision (module docstring); ``last``: kind -> the last alert's {key, at}."""
    v = verdicts(measured, mon, warm=warm)
    d = Decision(status=OK, retrain=False, reason="", verdicts=v)
    breached = [k for k in RETRAIN_KINDS if v[k] == BREACH]

    def claim(kind: str, key: str) -> bool:
        if due(last.get(kind), key, now, mon.retrain_cooldown_hours, run_id):
            d.alerts[kind] = key
            return True
        d.suppressed[kind] = key
        return False

    if quarantined:
        days = ", ".join(f"{feed} {', '.join(ds)}" for feed, ds in sorted(quarantined.items()))
        d.status = "data_quality"
        d.reason = f"quarantined batch in the window ({days}): not judged, no retrain"
        claim("data_quality", f"data_quality:{days}")
        if breached:
            d.notes.append(f"{', '.join(breached)} beyond threshold, not acted on (hole in data)")
    elif breached:
        # One episode per champion: the kinds that breach may change from night to night
        # while the same drift persists.
        key = f"breach:v{champion_version}"
        d.reason = describe_breach(measured, breached, window)
        if claim("breach", key):
            d.status, d.retrain = BREACH, True
        else:
            d.status = "breach_in_cooldown"
            d.notes.append(
                f"same breach ({key}) acted on at {last['breach'].get('at')}: inside the "
                f"{mon.retrain_cooldown_hours:g} h cooldown, no new alert or retrain"
            )
    elif all(v[k] in (THIN, WARMING) for k in RETRAIN_KINDS):
        d.status = THIN
        d.reason = "not enough data for a verdict (minimum sample guard)"
    else:
        d.reason = "no breach"
    if WARMING in v.values():
        d.notes.append(
            "drift not judged: the champion's training data starts before the longest feature "
            "window had filled (young platform); quality on matured labels is judged"
        )

    if v["skew"] == BREACH:
        skewed = ",".join((measured.get("skew") or {}).get("skewed_columns", []))
        claim("skew", f"skew:v{champion_version}:{skewed}")

    stale = []
    if champion_age_days > mon.max_champion_age_days:
        stale.append(f"age {champion_age_days} d > {mon.max_champion_age_days} d")
    if failed_retrains >= mon.max_failed_retrains:
        stale.append(f"{failed_retrains} retrains in a row did not replace it")
    if stale:
        d.notes.append(f"champion v{champion_version} is stale: {'; '.join(stale)}")
        claim("staleness", f"staleness:v{champion_version}")
    return d
