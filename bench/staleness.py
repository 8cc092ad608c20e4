"""Model staleness: how a champion's quality falls with its age, with and without drift.

What the monitoring thresholds of the spec (``monitoring``: ``window_days``,
``max_pr_auc_drop``, ``retrain_cooldown_hours``, ``max_champion_age_days``) are chosen
from. One XGBoost champion is trained on a fixed window of simulated days, then scored day
by day on the days after it, under each drift scenario of the simulator; per day of age:
PR-AUC, ROC-AUC, recall at the spec's ``model.recall_at_fpr``, and the false-positive rate
and recall at the decision threshold the gate fixed on the training holdout.

Days (``FIRST`` on, one seeded simulated batch per day, the spec's 10k rows in full mode):

* ``history`` days (the features' look-back, 40 days with the bundled spec): transactions
  and labels only, so the window's features are warm (30-day customer windows, 30-day
  merchant fraud rates), as on a platform that has been running;
* ``train_days`` (14; ``--quick`` 7): the training window, every transaction with its final
  label (the window a training run sees once its labels have matured);
* ages 1..``max_age`` (21; ``--quick`` 8): the days after the window. Drift starts on age 1
  (``Drift(start=...)``), as a step: the simulator has no ramp. The window's data and the
  model are therefore identical in every scenario: the model is trained once.

Scenarios, and why these strengths (the simulator's ``--covariate-drift`` /
``--concept-drift``, 0..1):

* ``none``: the world stays as it was. A stationary simulator gives a flat curve, so its
  day-to-day spread is the *noise floor* a quality threshold must stay above.
* ``covariate`` 0.5: amounts x1.5, a quarter of the channel mix moves to online (~35 % ->
  ~51 % of purchases), 10 points more purchases abroad: the size of a holiday or travel
  season, a change in who buys what, not in what fraud looks like. 1.0 (amounts x2, half the
  mix moved) is past any seasonal swing.
* ``concept`` 0.3: three fraud bursts in ten switch to a new modus operandi (small daytime
  in-person grocery/pharmacy buys at home) and 1.8 % of genuine purchases start to look like
  the old fraud (online, abroad, at night, risky merchants, ~4x the usual amount), about as
  many as there are frauds: a fraud ring adapting to the controls during a travel season,
  the case retraining exists for.
* ``concept_mild`` 0.1: the early phase of that change (one burst in ten, 0.6 % look-alikes),
  the smallest shift the quality threshold should still catch.

The simulator's concept knob is steep: the look-alikes are 6 % x strength of *all* rows
against a 1.5 % fraud rate, so 0.5 already leaves this model a PR-AUC of ~0.1 (a quick
run: 0.02-0.24 a day) and 0.8 or 1.0 (more look-alikes than frauds by 3-4x) only shows that a
model of the old pattern is useless, which needs no experiment. 0.1 and 0.3 bracket the
range where a threshold choice matters.

Everything runs in memory through the project's own code, nothing is re-implemented:

* data: ``devtools.simulator.simulate_day`` / ``simulate_labels`` (the labels that had
  arrived by each day feed the merchant fraud rates);
* feature tables: ``include.features.tables.partition_tables`` (``compute.view_stats`` per
  view of the spec) per partition, over a :class:`~include.features.tables.PartitionCache`
  that serves the simulated partitions instead of reading the lake. Day D's tables see the
  partitions up to D only;
* point-in-time join: the latest table row at or before each transaction within the TTL,
  found by ``include.features.training_set._expected_as_of`` (the independent check every
  Feast retrieval is held to: ``historical_features`` raises ``FeatureRowsStale`` unless Feast
  returns exactly these rows), plus the spec's request-time transforms through
  ``include.features.request_time.frame`` (what Feast's on-demand view runs). Feast itself
  is not called: it would add minutes and nothing to the values. A scored day joins against
  the tables of the days up to it (what batch scoring sees that night);
* training: ``include.training.split.time_split`` (the spec's 70/15/15 time split),
  ``include.training.xgb.search_space`` / ``fit`` (seeded configs, early stopping), the best
  config by validation PR-AUC, as ``train_candidates`` picks it, minus the MLflow logging;
* threshold and metrics: ``include.modeling.metrics.threshold_at_fpr`` on the holdout at
  ``serving.target_false_positive_rate`` (the gate's rule) and ``classification_metrics``.

Also per age: the metrics pooled over the trailing ``monitoring.window_days`` days (what a
quality check over that window sees). Seeds are fixed (simulator seed from the spec,
training seed 42, one XGBoost thread): a re-run gives the same numbers.

Output: a table per scenario, ``bench/results/staleness.json`` (``--quick`` / ``--smoke``:
``staleness-quick.json`` / ``staleness-smoke.json``; run by the harness: next to its
``--out``), the curve as Markdown tables (``.md``) and a plot (``.png``) next to it.
``python -m bench.staleness [--quick | --smoke]`` or ``python -m bench --only staleness``
(then also in ``latest.json``). Measured
on the 2-core dev machine: ``--quick`` ~35 s, full ~4.5 min (bench/README.md, "Model
staleness", has the curve and what the thresholds take from it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import REPO_ROOT, Figure, Size

RESULTS = REPO_ROOT / "bench" / "results" / "staleness.json"
QUICK_RESULTS = RESULTS.with_name("staleness-quick.json")  # a quick run keeps the full figures
FIRST = date(2026, 3, 2)  # the first history day
COVARIATE = 0.5
CONCEPT = 0.3
CONCEPT_MILD = 0.1
# name -> (covariate, concept) strength from age 1 on.
SCENARIOS: dict[str, tuple[float, float]] = {
    "none": (0.0, 0.0),
    "covariate": (COVARIATE, 0.0),
    "concept": (0.0, CONCEPT),
    "concept_mild": (0.0, CONCEPT_MILD),
}
DROPS = (0.05, 0.10)  # PR-AUC falls (absolute, below the holdout figure) reported per scenario
NOISE_WINDOWS = (1, 3, 7)  # spread of the PR-AUC pooled over this many days (the noise floor)
BOOTSTRAP = 200  # resamples of the holdout: the spread of the reference figure itself
_ROW = "__entity_row"


@dataclass(frozen=True)
class Setup:
    """One experiment's size; ``None`` takes the value from the spec."""

    train_days: int
    max_age: int
    rows_per_day: int | None = None  # simulator.rows_per_day
    history_days: int | None = None  # the features' transaction look-back
    tuning_budget: int | None = None  # model.tuning_budget
    window_days: int | None = None  # monitoring.window_days
    first_day: date = FIRST
    seed: int = 42
    threads: int = 1  # one XGBoost thread: a re-run grows the same trees


FULL = Setup(train_days=14, max_age=21)
QUICK = Setup(train_days=7, max_age=8, rows_per_day=4_000, tuning_budget=2)
# Every step once, on the smallest window that trains (tests/unit/bench/test_staleness.py).
SMOKE = Setup(train_days=3, max_age=2, rows_per_day=1_000, history_days=3, tuning_budget=1)
SETUPS: dict[Size, Setup] = {"smoke": SMOKE, "quick": QUICK, "default": FULL}


def results_path(size: Size, folder: Path = RESULTS.parent) -> Path:
    """Where a run of ``size`` writes its curve: ``staleness[-quick|-smoke].json``."""
    return folder / (RESULTS.name if size == "default" else f"staleness-{size}.json")


class _SimulatedLake:
    """The simulated partitions, served the way ``PartitionCache`` serves the lake's."""

    def __init__(self, spec: Any, fspec: Any, rows: int, first: date) -> None:
        self.spec, self.fspec, self.rows, self.first = spec, fspec, rows, first
        self.feeds = (fspec.events_feed, fspec.labels_feed)
        self.frames: dict[tuple[str, date], pd.DataFrame] = {}
        self.fraud: dict[date, np.ndarray] = {}  # the final label of each day's transactions

    def add(self, day: date, drift: Any) -> None:
        """Simulate ``day``'s transactions and the labels that arrive that day."""
        from devtools.simulator import simulate_day, simulate_labels
        from include.features.tables import label_columns

        batch = simulate_day(self.spec, day, rows=self.rows, drift=drift)
        tx, labels = self.feeds
        self.frames[(tx, day)] = batch.transactions
        self.fraud[day] = batch.fraud.astype(np.int64)
        arrived = simulate_labels(self.spec, day, rows=self.rows, drift=drift, since=self.first)
        self.frames[(labels, day)] = arrived[label_columns(self.fspec)]

    def copy(self) -> _SimulatedLake:
        out = _SimulatedLake(self.spec, self.fspec, self.rows, self.first)
        out.frames, out.fraud = dict(self.frames), dict(self.fraud)
        return out

    def cache(self) -> Any:
        """A ``PartitionCache`` over these frames (nothing is read from storage)."""
        from include.features.tables import PartitionCache, transaction_columns

        frames = self.frames
        tx_cols = transaction_columns(self.fspec)
        tx_feed = self.feeds[0]

        class _Cache(PartitionCache):
            def get(self, feed: str, day: date) -> pd.DataFrame | None:
                frame = frames.get((feed, day))
                if frame is None or feed != tx_feed:
                    return frame
                return frame[tx_cols]

        return _Cache("memory://simulated", self.fspec)


def _tables(lake: _SimulatedLake, days: Sequence[date]) -> dict[date, dict[str, pd.DataFrame]]:
    """Each day's feature tables (``include.features.tables.partition_tables``)."""
    from include.features.tables import partition_tables

    cache = lake.cache()
    return {day: partition_tables(day, cache, lake.fspec) for day in days}


def _views(tables: Mapping[date, Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The offline store over these partitions: every view's rows, concatenated."""
    names = dict.fromkeys(view for t in tables.values() for view in t)
    views = {}
    for view in names:
        frames = [t[view] for t in tables.values() if view in t and len(t[view])]
        views[view] = pd.concat(frames, ignore_index=True)
    return views


def feature_rows(
    entity: pd.DataFrame, views: Mapping[str, pd.DataFrame], fspec: Any
) -> pd.DataFrame:
    """``entity`` with the feature service's model features (and the ``*_as_of`` stamps of the
    rows that answered) appended, point-in-time correct: per row and view the latest row at
    or before it within the TTL (the rows ``historical_features`` must return), then the
    on-demand features. No such row: ``FeatureRowsDropped``."""
    from include.features import request_time, schema
    from include.features.training_set import _expected_as_of

    ts = schema.TIMESTAMP
    out = entity.reset_index(drop=True).copy()
    part = pd.DataFrame(
        {_ROW: np.arange(len(out)), ts: pd.to_datetime(out[fspec.event_ts], utc=True)}
    )
    for view in fspec.views:
        kind = "int64" if view.key_type == "int" else str
        part[view.join_key] = out[view.join_key].astype(kind).to_numpy()
    as_of = _expected_as_of(part, dict(views), fspec).set_index(_ROW).loc[part[_ROW]]
    for view in fspec.views:
        key, stamp = view.join_key, view.as_of
        rows = views[view.name].drop(columns=[ts]).drop_duplicates([key, stamp], keep="last")
        left = pd.DataFrame({key: part[key].to_numpy(), stamp: as_of[stamp].to_numpy()})
        left[stamp] = pd.to_datetime(left[stamp], utc=True).astype(rows[stamp].dtype)
        joined = left.merge(rows, on=[key, stamp], how="left", validate="many_to_one")
        for col in joined.columns:
            if col != key:  # the features and the stamp of the row that answered
                out[col] = joined[col].to_numpy()
    # The transforms read request fields, stored features and the event time (Feast's name).
    inputs = out.assign(**{ts: part[ts].to_numpy()})
    transforms = [(r.name, r.function, r.inputs) for r in fspec.request]
    for col, values in request_time.frame(transforms, inputs).items():
        out[col] = values.to_numpy()
    return out


def _entity(lake: _SimulatedLake, days: Sequence[date], spec: Any) -> pd.DataFrame:
    """The days' transactions (the entity columns) with their final labels."""
    from include.features.training_set import entity_columns

    cols = list(entity_columns(lake.fspec))
    frames = [
        lake.frames[(lake.feeds[0], d)][cols].assign(**{spec.names.target: lake.fraud[d]})
        for d in days
    ]
    return pd.concat(frames, ignore_index=True)


def _train(frame: pd.DataFrame, spec: Any, setup: Setup, budget: int) -> dict[str, Any]:
    """The XGBoost family's search as ``train_candidates`` runs it, without MLflow."""
    from include.features import schema
    from include.modeling import metrics as m
    from include.training import xgb
    from include.training.split import Columns, SplitArrays, feature_matrix, time_split

    policy = spec.model
    features = schema.model_features(schema.feature_spec(spec))
    columns = Columns.of(spec, features)
    split = time_split(frame, columns, policy.split)
    arrays = SplitArrays.of(split)
    trials = []
    for config in xgb.search_space(budget, setup.seed):
        fitted = xgb.fit(
            config,
            arrays,
            threads=setup.threads,
            seed=setup.seed,
            primary_metric=policy.primary_metric,
        )
        val = m.classification_metrics(
            arrays.y_val, fitted.predict(arrays.x_val), fpr_target=policy.recall_at_fpr
        )
        trials.append((val[policy.primary_metric] or -np.inf, fitted, val))
    _, best, validation = max(trials, key=lambda t: t[0])  # first best wins ties, as there
    x_hold = feature_matrix(split.holdout, features)
    y_hold = split.holdout[columns.target].to_numpy(dtype=np.int64)
    p_hold = best.predict(x_hold)
    point = m.threshold_at_fpr(y_hold, p_hold, spec.serving.target_false_positive_rate)
    holdout = m.classification_metrics(y_hold, p_hold, fpr_target=policy.recall_at_fpr)
    holdout["pr_auc_bootstrap_sd"] = _bootstrap_sd(y_hold, p_hold, setup.seed)
    return {
        "model": best,
        "features": features,
        "config": best.config,
        "best_iteration": best.best_iteration,
        "trials": len(trials),
        "split": split.summary(),
        "validation": validation,
        "holdout": holdout,
        "operating_point": point.as_dict(),
    }


def _quality(y: np.ndarray, p: np.ndarray, threshold: float, fpr_target: float) -> dict[str, Any]:
    """The gate's metrics, plus what the holdout's fixed threshold does on these rows."""
    from include.modeling.metrics import classification_metrics

    out = classification_metrics(y, p, fpr_target=fpr_target)
    flagged = p >= threshold
    negatives, positives = y == 0, y == 1
    out["fpr_at_threshold"] = float(flagged[negatives].mean()) if negatives.any() else None
    out["recall_at_threshold"] = float(flagged[positives].mean()) if positives.any() else None
    out["flagged_share"] = float(flagged.mean()) if len(y) else None
    return out


def staleness(
    spec: Any,
    setup: Setup,
    scenarios: Mapping[str, tuple[float, float]] = SCENARIOS,
    *,
    log: Any = None,
) -> dict[str, Any]:
    """Train once on the window, score every later day under each scenario; JSON-able result
    (``days``: one row per age, ``window``: trailing ``window_days`` pooled)."""
    from devtools.simulator import Drift
    from include.features import schema
    from include.modeling.metrics import classification_metrics

    say = log or (lambda _msg: None)
    started = time.perf_counter()
    fspec = schema.feature_spec(spec)
    rows = setup.rows_per_day or spec.simulator.rows_per_day
    history = fspec.transaction_lookback_days if setup.history_days is None else setup.history_days
    budget = setup.tuning_budget or spec.model.tuning_budget
    window = setup.window_days or spec.monitoring.window_days
    fpr_target = spec.model.recall_at_fpr
    first = setup.first_day
    train_days = [first + timedelta(days=history + i) for i in range(setup.train_days)]
    last = train_days[-1]
    score_days = [last + timedelta(days=a) for a in range(1, setup.max_age + 1)]
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    base = _SimulatedLake(spec, fspec, rows, first)
    for i in range(history + setup.train_days):
        base.add(first + timedelta(days=i), None)  # before the drift: every scenario alike
    train_tables = _tables(base, train_days)
    frame = feature_rows(_entity(base, train_days, spec), _views(train_tables), fspec)
    timings["window_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    trained = _train(frame, spec, setup, budget)
    timings["training_s"] = time.perf_counter() - t0
    model, features = trained.pop("model"), trained.pop("features")
    threshold = trained["operating_point"]["threshold"]
    reference = trained["holdout"]["pr_auc"]
    say(
        f"trained on {train_days[0]}..{last} ({len(frame):,} rows, "
        f"{int(frame[spec.names.target].sum())} fraud) in {timings['training_s']:.1f} s: "
        f"holdout PR-AUC {reference:.3f}, threshold {threshold:.4f} "
        f"(holdout FPR {trained['operating_point']['fpr']:.4f})"
    )

    out_scenarios: dict[str, Any] = {}
    for name, (covariate, concept) in scenarios.items():
        t0 = time.perf_counter()
        drift = Drift(covariate, concept, start=score_days[0])
        lake = base.copy()
        for day in score_days:
            lake.add(day, drift)
        tables = {**train_tables, **_tables(lake, score_days)}
        days, scored = [], []
        for age, day in enumerate(score_days, start=1):
            reach = day - timedelta(days=fspec.ttl_days + 1)
            visible = {d: t for d, t in tables.items() if reach <= d <= day}
            rows_df = feature_rows(_entity(lake, [day], spec), _views(visible), fspec)
            y = rows_df[spec.names.target].to_numpy(dtype=np.int64)
            p = model.predict(rows_df[features].astype("float64").to_numpy(dtype=np.float32))
            scored.append((y, p))
            pooled = scored[-window:]
            y_w = np.concatenate([s[0] for s in pooled])
            p_w = np.concatenate([s[1] for s in pooled])
            w = classification_metrics(y_w, p_w, fpr_target=fpr_target)
            days.append(
                {
                    "age": age,
                    "day": day.isoformat(),
                    **_quality(y, p, threshold, fpr_target),
                    "window": {
                        k: w[k] for k in ("rows", "positives", "pr_auc", "roc_auc", "recall_at_fpr")
                    }
                    | {"days": len(pooled)},
                }
            )
        seconds = time.perf_counter() - t0
        timings[f"{name}_s"] = seconds
        out_scenarios[name] = {
            "covariate": covariate,
            "concept": concept,
            "drift_start": score_days[0].isoformat(),
            "days": days,
            "summary": _summary(days, scored, reference, window, fpr_target),
        }
        say(f"scenario {name}: {len(days)} days scored in {seconds:.1f} s")
    if "none" in out_scenarios:  # the drift's own effect: against the same days undrifted
        base_mean = out_scenarios["none"]["summary"]["mean_pr_auc"]
        for sc in out_scenarios.values():
            mean = sc["summary"]["mean_pr_auc"]
            sc["summary"]["mean_pr_auc_vs_none"] = (
                mean - base_mean if None not in (mean, base_mean) else None
            )
    timings["total_s"] = time.perf_counter() - started
    return {
        "setup": {
            **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(setup).items()},
            "rows_per_day": rows,
            "history_days": history,
            "tuning_budget": budget,
            "window_days": window,
            "train_window": f"{train_days[0]}..{last}",
            "fpr_target": fpr_target,
            "target_false_positive_rate": spec.serving.target_false_positive_rate,
        },
        "model": {"training_rows": len(frame), **trained},
        "scenarios": out_scenarios,
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }


def _summary(
    days: list[dict[str, Any]],
    scored: list[tuple[np.ndarray, np.ndarray]],
    reference: float,
    window: int,
    fpr_target: float,
) -> dict[str, Any]:
    """Mean and spread of the PR-AUC (daily and pooled over ``NOISE_WINDOWS`` days), the
    false-positive rate at the fixed threshold, and the first ages the PR-AUC (daily, and over
    the monitoring window) fell below the holdout figure by more than each of ``DROPS``."""
    from include.modeling.metrics import classification_metrics

    daily = np.array([d["pr_auc"] for d in days if d["pr_auc"] is not None], dtype=float)
    fpr = np.array([d["fpr_at_threshold"] for d in days if d["fpr_at_threshold"] is not None])
    out: dict[str, Any] = {
        "reference_pr_auc": reference,
        "mean_pr_auc": float(daily.mean()) if len(daily) else None,
        "min_window_pr_auc": min(
            (d["window"]["pr_auc"] for d in days if d["window"]["pr_auc"] is not None),
            default=None,
        ),
        "mean_fpr_at_threshold": float(fpr.mean()) if len(fpr) else None,
        "last_fpr_at_threshold": float(fpr[-1]) if len(fpr) else None,
    }
    for w in NOISE_WINDOWS:  # overlapping windows: a rough spread, enough to compare lengths
        values = []
        for end in range(w, len(scored) + 1):
            y = np.concatenate([s[0] for s in scored[end - w : end]])
            p = np.concatenate([s[1] for s in scored[end - w : end]])
            values.append(classification_metrics(y, p, fpr_target=fpr_target)["pr_auc"])
        values = [v for v in values if v is not None]
        out[f"sd_pr_auc_{w}d"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    for drop in DROPS:
        for kind, get in (
            ("daily", lambda d: d["pr_auc"]),
            ("window", lambda d: d["window"]["pr_auc"]),
        ):
            ages = [d["age"] for d in days if get(d) is not None and get(d) < reference - drop]
            out[f"first_age_{kind}_drop_{drop:.2f}"] = ages[0] if ages else None
            out[f"ages_{kind}_drop_{drop:.2f}"] = len(ages)
    return out


def _bootstrap_sd(y: np.ndarray, p: np.ndarray, seed: int) -> float | None:
    """Spread of the holdout PR-AUC over seeded resamples of its rows."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    values = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            values.append(average_precision_score(y[i], p[i]))
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


# ------------------------------------------------------------------------------ rendering
def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def tables_text(result: Mapping[str, Any]) -> str:
    """One printed table per scenario: age -> metrics."""
    s, model = result["setup"], result["model"]
    w = s["window_days"]
    lines = []
    for name, sc in result["scenarios"].items():
        lines.append(
            f"\n-- {name} (covariate {sc['covariate']}, concept {sc['concept']} from "
            f"{sc['drift_start']}); holdout PR-AUC {_f(model['holdout']['pr_auc'])}, "
            f"(bootstrap sd {_f(model['holdout']['pr_auc_bootstrap_sd'])}), "
            f"recall@{s['fpr_target']:.0%}FPR {_f(model['holdout']['recall_at_fpr'])} --"
        )
        head = (
            f"{'age':>3} {'day':<10} {'rows':>6} {'pos':>4} {'PR-AUC':>7} {'ROC-AUC':>7} "
            f"{'R@FPR':>6} {'FPR@t':>6} {'R@t':>6} | {f'{w}d PR-AUC':>10} {f'{w}d R@FPR':>9}"
        )
        lines += [head, "-" * len(head)]
        for d in sc["days"]:
            lines.append(
                f"{d['age']:>3} {d['day']:<10} {d['rows']:>6} {d['positives']:>4} "
                f"{_f(d['pr_auc']):>7} {_f(d['roc_auc']):>7} {_f(d['recall_at_fpr']):>6} "
                f"{_f(d['fpr_at_threshold'], 4):>6} {_f(d['recall_at_threshold']):>6} | "
                f"{_f(d['window']['pr_auc']):>10} {_f(d['window']['recall_at_fpr']):>9}"
            )
        sm = sc["summary"]
        firsts = ", ".join(
            f"> {drop:.2f}: day {sm[f'first_age_daily_drop_{drop:.2f}'] or '-'} "
            f"/ {w}d {sm[f'first_age_window_drop_{drop:.2f}'] or '-'}"
            for drop in DROPS
        )
        spread = ", ".join(f"{n}d {_f(sm[f'sd_pr_auc_{n}d'])}" for n in NOISE_WINDOWS)
        vs_none = sm.get("mean_pr_auc_vs_none")
        lines.append(
            f"mean daily PR-AUC {_f(sm['mean_pr_auc'])}"
            + (f" ({vs_none:+.3f} vs none)" if vs_none is not None and name != "none" else "")
            + f", sd over {spread}; mean FPR at t {_f(sm['mean_fpr_at_threshold'], 4)}"
            + f"\nfirst age PR-AUC below holdout by {firsts}"
        )
    return "\n".join(lines)


def curve_markdown(result: Mapping[str, Any]) -> str:
    """The quality-versus-age curve as two Markdown tables: PR-AUC (the day's and the
    monitoring window's), then recall at the spec's FPR and the FPR at the fixed threshold."""
    s, model = result["setup"], result["model"]
    names = list(result["scenarios"])
    n_days = len(result["scenarios"][names[0]]["days"])
    hold, point = model["holdout"], model["operating_point"]
    w, fpr = s["window_days"], f"{s['fpr_target']:.0%}"

    def table(columns: list[tuple[str, str, Any]]) -> list[str]:
        """``columns``: (heading, holdout cell, value of a day row)."""
        lines = [
            "| age | " + " | ".join(c[0] for c in columns) + " |",
            "|---:|" + "---:|" * len(columns),
            "| holdout | " + " | ".join(c[1] for c in columns) + " |",
        ]
        for i in range(n_days):
            cells = [c[2](result["scenarios"][c[3]]["days"][i]) for c in columns]
            lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
        return lines

    pr = [(f"{n}", _f(hold["pr_auc"]), lambda d: _f(d["pr_auc"]), n) for n in names] + [
        (f"{n} {w}d", _f(hold["pr_auc"]), lambda d: _f(d["window"]["pr_auc"]), n) for n in names
    ]
    alerts = [
        (f"{n} recall@{fpr}", _f(hold["recall_at_fpr"]), lambda d: _f(d["recall_at_fpr"]), n)
        for n in names
    ] + [
        (f"{n} FPR@t", _f(point["fpr"], 4), lambda d: _f(d["fpr_at_threshold"], 4), n)
        for n in names
    ]
    out = [f"PR-AUC by age (day, and pooled over the trailing {w} days):", ""]
    out += table(pr)
    out += ["", f"Recall at {fpr} FPR, and FPR at the threshold fixed on the holdout:", ""]
    out += table(alerts)
    return "\n".join(out) + "\n"


def save_plot(result: Mapping[str, Any], path: Path) -> Path | None:
    """The curves as a PNG (matplotlib's Agg canvas, no pyplot); None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        return None
    s, model = result["setup"], result["model"]
    ref = model["holdout"]["pr_auc"]
    fig = MplFigure(figsize=(12, 7.5), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    panels = (
        (axes[0][0], lambda d: d["pr_auc"], "PR-AUC (day)", ref),
        (axes[0][1], lambda d: d["window"]["pr_auc"], f"PR-AUC ({s['window_days']} days)", ref),
        (
            axes[1][0],
            lambda d: d["recall_at_fpr"],
            f"recall at {s['fpr_target']:.0%} FPR",
            model["holdout"]["recall_at_fpr"],
        ),
        (
            axes[1][1],
            lambda d: d["fpr_at_threshold"],
            "FPR at the holdout threshold",
            s["target_false_positive_rate"],
        ),
    )
    for ax, get, title, reference in panels:
        for name, sc in result["scenarios"].items():
            ages = [d["age"] for d in sc["days"]]
            ax.plot(
                ages,
                [get(d) if get(d) is not None else np.nan for d in sc["days"]],
                "o-",
                label=name,
                markersize=3,
            )
        ax.axhline(reference, color="grey", linestyle="--", linewidth=1, label="holdout")
        if "PR-AUC" in title:
            for drop in DROPS:
                ax.axhline(reference - drop, color="grey", linestyle=":", linewidth=1)
        ax.set_title(title)
        ax.set_xlabel("model age (days after the training window)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower left")
    fig.suptitle(
        f"Staleness: XGBoost trained on {s['train_window']}, {s['rows_per_day']:,} rows/day"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# ------------------------------------------------------------------------------ section
def run(size: Size, out: Path | None = None) -> dict[str, Any]:
    """Run, print and save the experiment; returns the section (``figures``: summary rows)."""
    from include.spec import load_spec

    setup = SETUPS[size]
    spec = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
    print(f"\n== Model staleness: one champion scored day by day under drift ({size}) ==")
    result = staleness(spec, setup, log=lambda msg: print(f"  {msg}", flush=True))
    print(tables_text(result))
    out = out or results_path(size)
    out.parent.mkdir(parents=True, exist_ok=True)
    markdown = curve_markdown(result)
    out.with_suffix(".md").write_text(markdown)
    plot = save_plot(result, out.with_suffix(".png"))
    result["files"] = {
        "json": str(out),
        "markdown": str(out.with_suffix(".md")),
        "plot": str(plot) if plot else None,
    }
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\n  total {result['timings']['total_s']:.1f} s; results in {out} (+ .md, .png)")
    ref = result["model"]["holdout"]["pr_auc"]
    figures = [Figure("stale", "staleness experiment wall time", result["timings"]["total_s"], "s")]
    for name, sc in result["scenarios"].items():
        low = sc["summary"]["min_window_pr_auc"]
        if low is not None and ref:
            figures.append(
                Figure(
                    "stale",
                    f"lowest {result['setup']['window_days']}d PR-AUC / holdout ({name})",
                    low / ref,
                    "x",
                    note="quality kept at the worst window; 1 = as on the holdout",
                    better="higher",
                )
            )
    return {**result, "figures": figures}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.staleness",
        description="Train one champion, score it day by day after its window under no, "
        "covariate and concept drift; print and save the quality-versus-age curve.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="4k rows/day, 7 training days, ages 1-8")
    size.add_argument(
        "--smoke", action="store_true", help="1k rows/day, 3 history and training days, ages 1-2"
    )
    parser.add_argument(
        "--out", type=Path, help=f"JSON path (default {RESULTS.name}, --quick {QUICK_RESULTS.name})"
    )
    args = parser.parse_args(argv)
    run("smoke" if args.smoke else "quick" if args.quick else "default", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
