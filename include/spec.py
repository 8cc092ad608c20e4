"""Typed view of the use-case spec (``usecase/fraud.yaml`` by default).

The spec holds every use-case parameter (feeds, schema, thresholds, label delay, model
target, alert recipients, column names) so that no use-case constant lives in code. Every
section is a frozen dataclass, checked when the spec is loaded: a malformed spec fails at
once with a :class:`SpecError` naming the file and the key, not later inside a task.

Sections (``UseCaseSpec`` attribute: class):

* ``feeds``: :class:`FeedSpec` per feed (columns, rules); the platform's two feeds are
  ``transactions`` (the events to score) and ``labels`` (their later outcome);
* ``alerts``: :class:`AlertSpec`; ``labels``: :class:`LabelsSpec` (label delay, maturity);
* ``features``: :class:`FeaturesSpec` (Feast names, windows, entity join keys);
* ``model``: :class:`ModelSpec` (target, split, gate policy, training minimums);
* ``serving``: :class:`ServingSpec`, ``monitoring``: :class:`MonitoringSpec` (defaulted);
* ``simulator``: :class:`SimulatorSpec`, or None (dev tooling only: a production spec
  needs none).

:attr:`UseCaseSpec.names` gathers the column names code joins, splits and labels on (the
event key and time, the label time, the target, the entity join keys). Importing this
module costs only PyYAML, so DAG files may import it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ColumnType = Literal["string", "int", "float", "timestamp"]

# The platform's feeds: each has its ingest DAG and its lake folder under these names.
TRANSACTIONS_FEED = "transactions"
LABELS_FEED = "labels"
# What a spec may name. Listed here rather than imported from the training code so that
# loading a spec stays cheap (no numpy, no scikit-learn); tests/unit/test_spec.py checks
# they match include.training.train.FAMILIES and include.modeling.metrics.METRICS.
CANDIDATE_FAMILIES = ("xgboost", "pytorch_mlp")
METRICS = ("pr_auc", "roc_auc", "recall_at_fpr", "brier", "ece")
# A scored transaction's decision: at or above the threshold it goes to the fraud team.
DECISIONS = ("approve", "review")
# When a promotion the gate passed waits for a person (model.approval.required_when):
# every promotion; a retrain monitoring triggered (its reason starts with "monitoring");
# a challenger whose gap to the overall metric grew, on some judged slice, against the
# champion's gap on the same slice.
APPROVAL_CONDITIONS = ("always", "drift_retrain", "slice_gap_grew")


class SpecError(ValueError):
    """The use-case spec is malformed; the message names the key and the file."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    nullable: bool = False
    max_null_fraction: float = 0.0
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] | None = None
    regex: str | None = None


@dataclass(frozen=True)
class FeedSpec:
    name: str
    key: str
    timestamp: str
    columns: tuple[ColumnSpec, ...]
    extra_columns: Literal["reject", "drop"] = "reject"
    min_rows: int = 1
    max_rows: int = 10_000_000
    allowed_lateness_hours: float = 48.0
    max_batch_mb: float = 512.0
    sensitive_attributes: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class AlertSpec:
    recipients: tuple[str, ...]
    from_email: str
    subject_prefix: str = "[airflow-mlops]"


@dataclass(frozen=True)
class LabelsSpec:
    """When labels arrive: a chargeback ``min..max`` days after its transaction; a
    transaction without one is confirmed genuine ``maturity_days`` after it."""

    chargeback_delay_min_days: float
    chargeback_delay_max_days: float
    maturity_days: int

    @property
    def max_delay_days(self) -> float:
        """A transaction's label arrives at most this many days after it."""
        return max(self.chargeback_delay_max_days, float(self.maturity_days))


@dataclass(frozen=True)
class FeaturesSpec:
    """The ``features`` section as written (derived values: ``include.features.schema``)."""

    project: str  # the Feast project
    feature_service: str  # versioned: training and serving ask for it by name
    customer_windows_days: tuple[int, ...]  # ascending, each >= 1
    merchant_window_days: int
    ttl_days: int
    entities: dict[str, str]  # entity name -> its join key, a transactions column
    materialize_overlap_days: int = 2


@dataclass(frozen=True)
class SplitSpec:
    """Fractions of the labelled window, oldest rows first: each > 0, summing to 1."""

    train: float
    validation: float
    holdout: float

    def __post_init__(self) -> None:
        shares = self.as_dict()
        if min(shares.values()) <= 0 or abs(sum(shares.values()) - 1.0) > 1e-6:
            raise ValueError(f"fractions must each be > 0 and sum to 1, got {shares}")

    def as_dict(self) -> dict[str, float]:
        """``{"train": ..., "validation": ..., "holdout": ...}`` in time order."""
        return {"train": self.train, "validation": self.validation, "holdout": self.holdout}


@dataclass(frozen=True)
class ApprovalSpec:
    """``model.approval``: when a promotion the gate passed waits for a person (Airflow's
    human-in-the-loop approval), and what an unanswered request becomes.

    ``required_when`` lists :data:`APPROVAL_CONDITIONS` (any one suffices; empty: never);
    ``slice_gap_tolerance``: a slice's gap must grow by more than this to count."""

    required_when: tuple[str, ...] = ("drift_retrain", "slice_gap_grew")
    timeout_hours: float = 72.0
    on_timeout: Literal["reject", "approve"] = "reject"
    slice_gap_tolerance: float = 0.01

    @property
    def timeout_answer(self) -> str:
        """The ApprovalOperator option an unanswered request resolves to."""
        return "Approve" if self.on_timeout == "approve" else "Reject"


@dataclass(frozen=True)
class ModelSpec:
    """The ``model`` section: what is learnt, how it is judged, when training may start."""

    target: str  # a 0/1 column of the labels feed
    registered_name: str  # the MLflow registered model
    split: SplitSpec
    primary_metric: str  # what the gate and the search compare (one of METRICS)
    promotion_margin: float  # a challenger must beat the champion by at least this
    recall_at_fpr: float  # recall is reported at this false-positive rate
    slice_metric: str
    max_slice_gap: float  # no sensitive slice may fall further below the overall metric
    min_slice_rows: int  # smaller slices are reported, not judged
    min_training_rows: int  # fewer matured labelled rows: training is skipped, not failed
    min_positives: int
    candidates: tuple[str, ...]  # model families to train (CANDIDATE_FAMILIES)
    tuning_budget: int  # configs tried per family
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    minimums: dict[str, float] = field(default_factory=dict)  # a first model's floor
    rejection_mail_cooldown_hours: float = 24.0
    approval: ApprovalSpec = field(default_factory=ApprovalSpec)


@dataclass(frozen=True)
class ServingSpec:
    """Online scoring and deployment. The decision threshold is the score at which the
    champion's false-positive rate on its holdout is ``target_false_positive_rate``; it is
    fixed at training time and stored with the model version."""

    target_false_positive_rate: float
    # The latency budget: the HTTP p99 of one transaction including the feature lookup
    # (deploy check and post-switch watch), and the in-process single-row predict p99 and
    # artifact size a candidate must meet to become champion (the gate).
    p99_ms: float = 50.0
    model_p99_ms: float = 5.0
    max_model_mb: float = 50.0
    # Post-switch watch: this long, rolled back beyond these limits (the service's metrics).
    watch_seconds: float = 20.0
    max_error_rate: float = 0.01
    # Request limits: transactions per request, body size, in-flight requests (beyond: 429).
    max_batch: int = 100
    max_body_kb: int = 256
    max_concurrency: int = 64
    # The decision for a transaction that can not be scored (entity missing or expired).
    unscored_decision: str = "review"
    # The MLflow alias that follows the version serving production (deployment history).
    deployed_alias: str = "production"


# Evidently's per-column drift methods the spec may name (numerical features and the score).
DRIFT_METHODS = ("wasserstein", "psi", "kl_div", "jensenshannon", "hellinger", "ks", "anderson")
# Of those, the methods whose score is a p-value (drift below the threshold).
P_VALUE_DRIFT_METHODS = ("ks", "anderson")


@dataclass(frozen=True)
class MonitoringSpec:
    """Drift, skew, quality and staleness monitoring of production (``monitor_drift``).

    Every threshold is a decision of the monitoring policy; ``bench/staleness.py`` measures
    the quality-versus-age curve they are chosen from (README, "Monitoring")."""

    # The current window: this many days of scored transactions, ending the day before a run.
    window_days: int = 3
    # Fewer scored rows in a window: "not enough data", never drift, never a retrain.
    min_sample_rows: int = 1000
    # Per-feature drift: Evidently's method and threshold, fixed here so the verdict does not
    # switch tests with the sample size (Evidently's default does). Distance methods:
    # drifted when the score >= threshold; p-value methods (ks, anderson): when < threshold.
    drift_method: str = "wasserstein"
    drift_threshold: float = 0.1
    drift_share: float = 0.5  # dataset drift when at least this share of features drifted
    # The score distribution against the champion's own holdout scores (same method).
    prediction_drift_threshold: float = 0.1
    # Each side of a comparison is sampled (seeded) down to this many rows; the report says so.
    max_rows: int = 50_000
    # Training/serving skew: captured online features vs the offline features of the same
    # transactions; a feature is skewed at this distance; below min_skew_rows no verdict.
    skew_threshold: float = 0.05
    min_skew_rows: int = 200
    # Quality on matured labels: judged only with this many labelled rows and positives;
    # a breach is a fall of PR-AUC or recall at the spec's FPR below the champion's holdout
    # figure by more than these (absolute) amounts.
    min_labelled_rows: int = 1000
    min_positives: int = 20
    max_pr_auc_drop: float = 0.10
    max_recall_drop: float = 0.15
    # One breach (same champion) alerts and retrains once per cooldown.
    retrain_cooldown_hours: float = 72.0
    # A retrain monitoring triggers trains on this many recent days (None: train_model's
    # default window), so that the new regime is not outvoted by weeks of the old one.
    retrain_window_days: int | None = None
    # Staleness: the champion's training data may end at most this long ago, and at most
    # this many monitoring-triggered retrains in a row may fail to replace it.
    max_champion_age_days: int = 30
    max_failed_retrains: int = 2


@dataclass(frozen=True)
class SimulatorSpec:
    """The development simulator (``devtools.simulator``): population and vocabularies."""

    seed: int
    rows_per_day: int
    customers: int
    merchants: int
    fraud_rate: float
    currencies: tuple[str, ...]
    channels: tuple[str, ...]
    merchant_categories: tuple[str, ...]
    countries: tuple[str, ...]
    age_bands: tuple[str, ...]


@dataclass(frozen=True)
class Names:
    """The use case's column names that code joins, splits and labels on."""

    tx_key: str  # the transactions feed's key (also the labels feed's: they join on it)
    event_ts: str  # the transactions feed's timestamp
    label_ts: str  # the labels feed's timestamp: when the outcome became known
    target: str  # model.target, a column of the labels feed
    entities: dict[str, str]  # features.entities: entity name -> join key column


@dataclass(frozen=True)
class UseCaseSpec:
    name: str
    path: Path
    alerts: AlertSpec
    feeds: dict[str, FeedSpec]
    labels: LabelsSpec
    features: FeaturesSpec
    model: ModelSpec
    serving: ServingSpec
    monitoring: MonitoringSpec
    simulator: SimulatorSpec | None = None
    description: str = ""

    def feed(self, name: str) -> FeedSpec:
        try:
            return self.feeds[name]
        except KeyError:
            raise SpecError(f"{self.path}: no feed {name!r}; known: {sorted(self.feeds)}") from None

    @property
    def names(self) -> Names:
        """The use case's column names (checked against the feeds when loaded)."""
        transactions, labels = self.feed(TRANSACTIONS_FEED), self.feed(LABELS_FEED)
        return Names(
            tx_key=transactions.key,
            event_ts=transactions.timestamp,
            label_ts=labels.timestamp,
            target=self.model.target,
            entities=self.features.entities,
        )


# ------------------------------------------------------------------------------ reading
_MISSING: Any = object()


class _Section:
    """One mapping of the spec; each error names the file and the key's dotted path.

    Unknown keys are refused: a misspelt optional key would otherwise be silently replaced
    by its default. A key set to null counts as missing.
    """

    def __init__(self, path: Path, where: str, raw: Any, known: Iterable[str]) -> None:
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise SpecError(f"{path}: {where} must be a mapping, got {type(raw).__name__}")
        known = sorted(known)
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise SpecError(f"{path}: {where} has unknown keys {unknown}; known: {known}")
        self.path, self.where, self.raw = path, where, raw

    def dotted(self, key: str) -> str:
        """The key's path from the spec's top, e.g. ``model.split.train``."""
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.path}: {self.dotted(key)} {problem}")

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def value(self, key: str) -> Any:
        if not self.has(key):
            raise self.error(key, "is missing")
        return self.raw[key]

    def text(self, key: str, default: str = _MISSING) -> str:
        if default is not _MISSING and not self.has(key):
            return default
        value = self.value(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        return value

    def number(
        self,
        key: str,
        default: float = _MISSING,
        *,
        minimum: float | None = None,
        above: float | None = None,
        below: float | None = None,
        maximum: float | None = None,
    ) -> float:
        """A real number within the bounds (``minimum``/``maximum`` inclusive)."""
        if default is not _MISSING and not self.has(key):
            return float(default)
        value = self.value(key)
        # bool is an int to Python; `true` is no threshold. NaN and infinity are none either.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(key, f"must be a number, got {value!r}")
        value = float(value)
        for ok, rule, bound in (
            (minimum is None or value >= minimum, ">=", minimum),
            (above is None or value > above, ">", above),
            (below is None or value < below, "<", below),
            (maximum is None or value <= maximum, "<=", maximum),
        ):
            if not ok:
                raise self.error(key, f"must be {rule} {bound:g}, got {value:g}")
        return value

    def whole(self, key: str, default: int = _MISSING, *, minimum: int | None = None) -> int:
        """A whole number (``5000`` or ``5000.0``), at least ``minimum``."""
        if default is not _MISSING and not self.has(key):
            return int(default)
        value = self.value(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        return value

    def texts(self, key: str, *, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A non-empty list of distinct strings (each one of ``choices``, if given)."""
        value = self.value(key)
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a non-empty list, got {value!r}")
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"must list non-empty strings, got {value!r}")
        items = tuple(value)
        if len(set(items)) != len(items):
            raise self.error(key, f"lists a value twice: {list(items)}")
        if choices is not None:
            unknown = [v for v in items if v not in choices]
            if unknown:
                raise self.error(key, f"names unknown {unknown}; known: {list(choices)}")
        return items

    def choice(self, key: str, choices: tuple[str, ...], default: str = _MISSING) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {list(choices)}, got {value!r}")
        return value

    def section(self, key: str, known: Iterable[str], *, required: bool = True) -> _Section:
        if required and not self.has(key):
            raise self.error(key, "is missing")
        return _Section(self.path, self.dotted(key), self.raw.get(key), known)


_TYPES = {"string", "int", "float", "timestamp"}


def _column(feed: str, name: str, raw: dict[str, Any], path: Path) -> ColumnSpec:
    ctype = raw.get("type")
    if ctype not in _TYPES:
        raise SpecError(f"{path}: feeds.{feed}.columns.{name}.type must be one of {sorted(_TYPES)}")
    values = raw.get("values")
    return ColumnSpec(
        name=name,
        type=ctype,
        nullable=bool(raw.get("nullable", False)),
        max_null_fraction=float(raw.get("max_null_fraction", 0.0)),
        min=raw.get("min"),
        max=raw.get("max"),
        values=tuple(values) if values is not None else None,
        regex=raw.get("regex"),
    )


def _feed(name: str, raw: dict[str, Any], path: Path) -> FeedSpec:
    try:
        columns = tuple(_column(name, c, v or {}, path) for c, v in raw["columns"].items())
        rows = raw.get("row_count", {})
        feed = FeedSpec(
            name=name,
            key=raw["key"],
            timestamp=raw["timestamp"],
            columns=columns,
            extra_columns=raw.get("extra_columns", "reject"),
            min_rows=int(rows.get("min", 1)),
            max_rows=int(rows.get("max", 10_000_000)),
            allowed_lateness_hours=float(raw.get("allowed_lateness_hours", 48)),
            max_batch_mb=float(raw.get("max_batch_mb", 512)),
            sensitive_attributes=tuple(raw.get("sensitive_attributes", ())),
        )
    except KeyError as exc:
        raise SpecError(f"{path}: feeds.{name} is missing {exc}") from None
    if feed.extra_columns not in ("reject", "drop"):
        raise SpecError(f"{path}: feeds.{name}.extra_columns must be 'reject' or 'drop'")
    for required in (feed.key, feed.timestamp):
        if required not in feed.column_names:
            raise SpecError(f"{path}: feeds.{name}: {required!r} is not a declared column")
    return feed


def _alerts(top: _Section) -> AlertSpec:
    s = top.section("alerts", ("recipients", "from_email", "subject_prefix"), required=False)
    # No recipients (or an empty list) is allowed: MLOPS_ALERT_RECIPIENTS may name them.
    listed = s.raw.get("recipients") not in (None, [])
    return AlertSpec(
        recipients=s.texts("recipients") if listed else (),
        from_email=s.text("from_email", "airflow-mlops@localhost"),
        subject_prefix=s.text("subject_prefix", "[airflow-mlops]"),
    )


def _labels(top: _Section) -> LabelsSpec:
    s = top.section("labels", ("chargeback_delay_days", "maturity_days"))
    delay = s.section("chargeback_delay_days", ("min", "max"))
    low = delay.number("min", minimum=0)
    return LabelsSpec(
        chargeback_delay_min_days=low,
        chargeback_delay_max_days=delay.number("max", minimum=low),
        maturity_days=s.whole("maturity_days", minimum=0),
    )


def _features(top: _Section, transactions: FeedSpec) -> FeaturesSpec:
    s = top.section(
        "features",
        (
            "project",
            "feature_service",
            "customer_windows_days",
            "merchant_window_days",
            "materialize_overlap_days",
            "ttl_days",
            "entities",
        ),
    )
    windows = s.value("customer_windows_days")
    if not isinstance(windows, list) or not windows:
        raise s.error("customer_windows_days", f"must be a non-empty list, got {windows!r}")
    days = []
    for i, w in enumerate(windows):
        if isinstance(w, bool) or not isinstance(w, int) or w < 1 or w in days:
            raise s.error(f"customer_windows_days[{i}]", f"must be distinct whole days >= 1: {w!r}")
        days.append(w)
    raw_entities = s.value("entities")
    if not isinstance(raw_entities, dict) or not raw_entities:
        raise s.error("entities", "must map each entity to its join key column")
    entities = s.section("entities", (str(k) for k in raw_entities))
    keys = {str(name): entities.text(name) for name in entities.raw}
    for name, column in keys.items():
        if column not in transactions.column_names:
            raise entities.error(
                name,
                f"{column!r} is not a column of feeds.{transactions.name}: entities join "
                "on the scored events' columns",
            )
    return FeaturesSpec(
        project=s.text("project"),
        feature_service=s.text("feature_service"),
        customer_windows_days=tuple(sorted(days)),
        merchant_window_days=s.whole("merchant_window_days", minimum=1),
        ttl_days=s.whole("ttl_days", minimum=1),
        entities=keys,
        materialize_overlap_days=s.whole("materialize_overlap_days", 2, minimum=0),
    )


def _model(top: _Section, labels: FeedSpec) -> ModelSpec:
    s = top.section(
        "model",
        (
            "target",
            "registered_name",
            "champion_alias",
            "challenger_alias",
            "split",
            "primary_metric",
            "promotion_margin",
            "minimums",
            "recall_at_fpr",
            "slice_metric",
            "max_slice_gap",
            "min_slice_rows",
            "min_training_rows",
            "min_positives",
            "candidates",
            "tuning_budget",
            "rejection_mail_cooldown_hours",
            "approval",
        ),
    )
    target = s.text("target")
    if target not in labels.column_names:
        raise s.error("target", f"{target!r} is not a column of feeds.{labels.name}")
    parts = s.section("split", ("train", "validation", "holdout"))
    fractions = {p: parts.number(p, above=0, maximum=1) for p in ("train", "validation", "holdout")}
    try:
        split = SplitSpec(**fractions)
    except ValueError as exc:
        raise s.error("split", str(exc)) from None
    floors = s.section("minimums", METRICS, required=False)
    model = ModelSpec(
        target=target,
        registered_name=s.text("registered_name"),
        split=split,
        primary_metric=s.choice("primary_metric", METRICS),
        promotion_margin=s.number("promotion_margin", minimum=0),
        recall_at_fpr=s.number("recall_at_fpr", above=0, below=1),
        slice_metric=s.choice("slice_metric", METRICS),
        max_slice_gap=s.number("max_slice_gap", minimum=0),
        min_slice_rows=s.whole("min_slice_rows", minimum=1),
        min_training_rows=s.whole("min_training_rows", minimum=1),
        min_positives=s.whole("min_positives", minimum=1),
        candidates=s.texts("candidates", choices=CANDIDATE_FAMILIES),
        tuning_budget=s.whole("tuning_budget", minimum=1),
        champion_alias=s.text("champion_alias", "champion"),
        challenger_alias=s.text("challenger_alias", "challenger"),
        minimums={str(metric): floors.number(metric) for metric in floors.raw},
        rejection_mail_cooldown_hours=s.number("rejection_mail_cooldown_hours", 24.0, minimum=0),
        approval=_approval(s),
    )
    if model.champion_alias == model.challenger_alias:
        raise s.error("challenger_alias", "must differ from model.champion_alias")
    return model


def _approval(model: _Section) -> ApprovalSpec:
    names = [f.name for f in dataclasses.fields(ApprovalSpec)]
    s = model.section("approval", names, required=False)
    d = ApprovalSpec()
    when = s.raw.get("required_when", list(d.required_when))
    # An empty list is a decision (no promotion waits for a person), unlike a missing key.
    if not isinstance(when, list) or not all(isinstance(w, str) and w for w in when):
        raise s.error(
            "required_when",
            f"must be a list of conditions from {list(APPROVAL_CONDITIONS)} ([] = never), "
            f"got {when!r}",
        )
    unknown = [w for w in when if w not in APPROVAL_CONDITIONS]
    if unknown:
        raise s.error(
            "required_when",
            f"names unknown conditions {unknown}; known: {list(APPROVAL_CONDITIONS)} "
            "([] = no approval)",
        )
    if len(set(when)) != len(when):
        raise s.error("required_when", f"lists a condition twice: {when}")
    return ApprovalSpec(
        required_when=tuple(when),
        timeout_hours=s.number("timeout_hours", d.timeout_hours, above=0),
        on_timeout=s.choice("on_timeout", ("reject", "approve"), d.on_timeout),
        slice_gap_tolerance=s.number("slice_gap_tolerance", d.slice_gap_tolerance, minimum=0),
    )


def _serving(top: _Section, model: ModelSpec) -> ServingSpec:
    names = [f.name for f in dataclasses.fields(ServingSpec)]
    s = top.section("serving", names, required=False)
    d = ServingSpec(target_false_positive_rate=model.recall_at_fpr)
    serving = ServingSpec(
        target_false_positive_rate=s.number(
            "target_false_positive_rate", model.recall_at_fpr, above=0, below=1
        ),
        p99_ms=s.number("p99_ms", d.p99_ms, above=0),
        model_p99_ms=s.number("model_p99_ms", d.model_p99_ms, above=0),
        max_model_mb=s.number("max_model_mb", d.max_model_mb, above=0),
        watch_seconds=s.number("watch_seconds", d.watch_seconds, minimum=0),
        max_error_rate=s.number("max_error_rate", d.max_error_rate, minimum=0, maximum=1),
        max_batch=s.whole("max_batch", d.max_batch, minimum=1),
        max_body_kb=s.whole("max_body_kb", d.max_body_kb, minimum=1),
        max_concurrency=s.whole("max_concurrency", d.max_concurrency, minimum=1),
        unscored_decision=s.choice("unscored_decision", DECISIONS, d.unscored_decision),
        deployed_alias=s.text("deployed_alias", d.deployed_alias),
    )
    if serving.deployed_alias in (model.champion_alias, model.challenger_alias):
        raise s.error("deployed_alias", "must differ from the champion and challenger aliases")
    return serving


def _monitoring(top: _Section) -> MonitoringSpec:
    names = [f.name for f in dataclasses.fields(MonitoringSpec)]
    s = top.section("monitoring", names, required=False)
    d = MonitoringSpec()
    mon = MonitoringSpec(
        window_days=s.whole("window_days", d.window_days, minimum=1),
        min_sample_rows=s.whole("min_sample_rows", d.min_sample_rows, minimum=1),
        drift_method=s.choice("drift_method", DRIFT_METHODS, d.drift_method),
        drift_threshold=s.number("drift_threshold", d.drift_threshold, above=0),
        drift_share=s.number("drift_share", d.drift_share, above=0, maximum=1),
        prediction_drift_threshold=s.number(
            "prediction_drift_threshold", d.prediction_drift_threshold, above=0
        ),
        max_rows=s.whole("max_rows", d.max_rows, minimum=100),
        skew_threshold=s.number("skew_threshold", d.skew_threshold, above=0),
        min_skew_rows=s.whole("min_skew_rows", d.min_skew_rows, minimum=1),
        min_labelled_rows=s.whole("min_labelled_rows", d.min_labelled_rows, minimum=1),
        min_positives=s.whole("min_positives", d.min_positives, minimum=1),
        max_pr_auc_drop=s.number("max_pr_auc_drop", d.max_pr_auc_drop, minimum=0, maximum=1),
        max_recall_drop=s.number("max_recall_drop", d.max_recall_drop, minimum=0, maximum=1),
        retrain_cooldown_hours=s.number(
            "retrain_cooldown_hours", d.retrain_cooldown_hours, minimum=0
        ),
        retrain_window_days=(
            s.whole("retrain_window_days", minimum=1) if s.has("retrain_window_days") else None
        ),
        max_champion_age_days=s.whole("max_champion_age_days", d.max_champion_age_days, minimum=1),
        max_failed_retrains=s.whole("max_failed_retrains", d.max_failed_retrains, minimum=1),
    )
    if mon.drift_method in P_VALUE_DRIFT_METHODS:
        for key in ("drift_threshold", "prediction_drift_threshold", "skew_threshold"):
            if getattr(mon, key) >= 1:
                raise s.error(key, f"is a p-value with {mon.drift_method}: it must be below 1")
    return mon


def _simulator(top: _Section) -> SimulatorSpec | None:
    if not top.has("simulator"):
        return None
    s = top.section("simulator", [f.name for f in dataclasses.fields(SimulatorSpec)])
    sim = SimulatorSpec(
        seed=s.whole("seed", minimum=0),
        rows_per_day=s.whole("rows_per_day", minimum=0),
        customers=s.whole("customers", minimum=1),
        merchants=s.whole("merchants", minimum=1),
        fraud_rate=s.number("fraud_rate", minimum=0, below=1),
        currencies=s.texts("currencies"),
        channels=s.texts("channels"),
        merchant_categories=s.texts("merchant_categories"),
        countries=s.texts("countries"),
        age_bands=s.texts("age_bands"),
    )
    if sim.merchants < len(sim.countries):
        raise s.error("merchants", f"must be >= one per country ({len(sim.countries)})")
    if len(sim.channels) < 2:
        raise s.error("channels", "must list at least 2 channels")
    return sim


_SECTIONS = (
    "name",
    "description",
    "alerts",
    "simulator",
    "feeds",
    "labels",
    "features",
    "model",
    "serving",
    "monitoring",
)


def load_spec(path: str | Path | None = None) -> UseCaseSpec:
    """Load and check the spec; ``path`` defaults to the settings' ``usecase_spec``."""
    if path is None:
        from include.config import get_settings

        path = get_settings().usecase_spec
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"use-case spec not found: {path} (set MLOPS_USECASE_SPEC)") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("feeds"), dict):
        raise SpecError(f"{path}: expected a mapping with a 'feeds' section")
    # Feeds first: the other sections refer to their columns.
    feeds = {name: _feed(name, f, path) for name, f in raw["feeds"].items()}
    for required in (TRANSACTIONS_FEED, LABELS_FEED):
        if required not in feeds:
            raise SpecError(f"{path}: feeds.{required} is missing (the platform ingests both)")
    transactions, labels = feeds[TRANSACTIONS_FEED], feeds[LABELS_FEED]
    if labels.key != transactions.key:
        raise SpecError(
            f"{path}: feeds.{LABELS_FEED}.key must be feeds.{TRANSACTIONS_FEED}.key "
            f"({transactions.key!r}): a label joins its transaction on it, got {labels.key!r}"
        )
    top = _Section(path, "", raw, _SECTIONS)
    model = _model(top, labels)
    return UseCaseSpec(
        name=top.text("name", path.stem),
        path=path,
        description=top.text("description", ""),
        alerts=_alerts(top),
        feeds=feeds,
        labels=_labels(top),
        features=_features(top, transactions),
        model=model,
        serving=_serving(top, model),
        monitoring=_monitoring(top),
        simulator=_simulator(top),
    )
