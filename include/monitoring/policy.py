"""The spec's ``monitoring`` policy: from measurements to verdicts to one decision. Pure.

Verdicts, one per comparison: ``ok``, ``breach``, or ``not_enough_data`` (the minimum
sample guard: a thin window is never drift and never retrains), ``warming_up`` (drift: no
feature's window has filled yet for enough rows, ``include.monitoring.warmup``),
``not_measured`` (no reference figure). Data drift is judged on the features whose window
has filled, its share over those only; the others are listed with the day they filled.
Prediction drift is judged once at least one feature is: the score is the model's answer
on production, and a shift there is worth a verdict as soon as the first warm feature says
production is comparable at all; the notes then say which features are still warming up,
since their growth can move the score too. Each comparison not judged gets its own reason
(:func:`not_judged`): the rows against the minimum, the features warming up and until
when, the missing holdout figure. The decision, in order:

1. a quarantined day in the window (an upstream data-quality failure): alert, no retrain;
   the drift numbers of a window with a hole are not acted on;
2. data drift, prediction drift or quality beyond the threshold: alert and retrain, once per
   breach: the dedup key is the champion (whatever kinds breach while the same drift
   persists), and the same key does nothing again inside ``retrain_cooldown_hours``;
3. otherwise ``ok``, or, when no comparison could be judged, ``warming_up`` (one of them
   is) or ``not_enough_data``, the reason naming each one's cause.

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
# No feature's window has filled for enough rows of the reference and the window (a young
# platform): rolling counts not yet full grow with the platform's age, not production's.
WARMING = "warming_up"
NOT_JUDGED = (THIN, WARMING, NOT_MEASURED)
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


def verdicts(measured: dict[str, dict | None], mon: MonitoringSpec) -> dict[str, str]:
    """One verdict per comparison (see the module docstring)."""
    out: dict[str, str] = {}
    drift = measured.get("data_drift")
    rows = (drift or {}).get("current_rows", 0)
    cold = bool(drift) and not _features(drift)  # measured, and no feature warm yet
    if not drift or rows < mon.min_sample_rows:
        out["data_drift"] = THIN
    elif cold:
        out["data_drift"] = WARMING
    else:
        out["data_drift"] = BREACH if drift["share"] >= mon.drift_share else OK
    pred = measured.get("prediction_drift")
    if not pred or pred.get("current_rows", 0) < mon.min_sample_rows:
        out["prediction_drift"] = THIN
    elif cold:
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


def warming_up(drift: dict[str, Any] | None) -> str:
    """The features not judged yet, grouped by the day their window filled:
    "until 2026-12-15 (needs 30 days): a, b; until 2026-12-22 (needs 37 days): c". A feature
    whose window filled in time for the current rows but not for the champion's training
    data says so: "filled on 2026-11-30, after the champion's training data (0 rows since):
    judged from the next champion: d"."""
    groups: dict[tuple[str, int, bool], list[str]] = {}
    for feature, w in ((drift or {}).get("warming_up") or {}).items():
        reference_only = int(w.get("current_rows", 0)) >= int(w.get("min_rows", 0)) and int(
            w.get("reference_rows", 0)
        ) < int(w.get("min_rows", 0))
        key = (w["filled_on"], int(w["window_days"]), reference_only)
        groups.setdefault(key, []).append(feature)
    parts = []
    for (day, days, reference_only), features in sorted(groups.items()):
        if reference_only:
            rows = min(
                int((drift or {})["warming_up"][f].get("reference_rows", 0)) for f in features
            )
            parts.append(
                f"filled on {day} (needs {days} days), after the champion's training data "
                f"({rows} rows since): judged from the next champion: {', '.join(features)}"
            )
        else:
            parts.append(f"until {day} (needs {days} days): {', '.join(features)}")
    return "; ".join(parts)


def not_judged(
    measured: dict[str, dict | None], mon: MonitoringSpec, v: dict[str, str]
) -> dict[str, str]:
    """Each retrain comparison without a verdict -> its true cause, in words and numbers."""
    out: dict[str, str] = {}
    drift, pred = measured.get("data_drift") or {}, measured.get("prediction_drift") or {}
    for kind, m, name in (
        ("data_drift", drift, "data drift"),
        ("prediction_drift", pred, "prediction drift"),
    ):
        if v[kind] == THIN:
            rows = m.get("current_rows", 0)
            out[kind] = (
                f"{name}: {rows} scored rows in the window, fewer than the minimum of "
                f"{mon.min_sample_rows} (minimum sample guard)"
            )
        elif v[kind] == WARMING:
            out[kind] = (
                f"{name}: every feature is still warming up ({warming_up(drift)})"
                if kind == "data_drift"
                else f"{name}: judged once a feature's window has filled (none has yet)"
            )
    q = measured.get("quality") or {}
    where = of_window(q)
    if v["quality"] == THIN:
        out["quality"] = (
            f"quality: {q.get('rows', 0)} matured labels{where} with {q.get('positives', 0)} "
            f"positives, fewer than the minimum of {mon.min_labelled_rows} labels and "
            f"{mon.min_positives} positives"
        )
    elif v["quality"] == NOT_MEASURED:
        out["quality"] = (
            f"quality: no figure to compare on {q.get('rows', 0)} matured labels{where} "
            "(one class only, or no holdout figure on the champion)"
        )
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
            f"({q['rows']} labelled rows{of_window(q)}, {q['positives']} positives)"
        )
    return f"monitoring: {'; '.join(parts)} in {window}"


def _features(drift: dict[str, Any]) -> int:
    """Every judged feature: those compared and those empty on a side (not compared)."""
    return len(drift.get("columns", {})) + len(drift.get("empty_columns", []))


def of_window(quality: dict[str, Any]) -> str:
    """ " of <window>" when quality was judged on its own (matured) window."""
    return f" of {quality['window']}" if quality.get("window") else ""


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
) -> Decision:
    """The run's decision (module docstring); ``last``: kind -> the last alert's {key, at}."""
    v = verdicts(measured, mon)
    d = Decision(status=OK, retrain=False, reason="", verdicts=v)
    breached = [k for k in RETRAIN_KINDS if v[k] == BREACH]
    why_not = not_judged(measured, mon, v)

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
    elif len(why_not) == len(RETRAIN_KINDS):
        d.status = WARMING if WARMING in v.values() else THIN
        d.reason = "no verdict: " + "; ".join(why_not.values())
    else:
        d.reason = "no breach"
    d.notes += [f"not judged: {why}" for k, why in why_not.items() if k not in breached]
    cold = warming_up(measured.get("data_drift"))
    if cold and v["data_drift"] != WARMING:
        d.notes.append(
            "features warming up, not in the drift share (their window has not filled for "
            f"enough rows yet; prediction drift may still feel them): {cold}"
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
