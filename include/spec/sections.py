"""The use-case spec's sections as typed, frozen pydantic dataclasses.

The classes mirror the YAML file key by key, so they are at once the typed view every stage
reads, the validator (types, ranges, unknown keys) and the JSON Schema editors check spec
files with (``make spec-schema``). Checks that need two sections (a feature's column exists in
its feed, a label window covers the label delay) live in :mod:`include.spec.references`;
:func:`include.spec.load_spec` runs both and reports every problem of a file at once.

Importing this costs pydantic and the standard library only, so DAG files may import it.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema

# Unknown keys are refused (a misspelt optional key would silently fall back to its default),
# no NaN or infinity is a threshold, and every section is frozen once loaded.
_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)


def _distinct(items: tuple[Any, ...]) -> tuple[Any, ...]:
    twice = sorted({str(i) for i in items if items.count(i) > 1})
    if twice:
        raise ValueError(f"lists {twice} more than once")
    return items


Text = Annotated[str, Field(strict=True, min_length=1)]
Number = StrictFloat  # an int is a number too; a bool, a string or NaN are not
NonNegative = Annotated[StrictFloat, Field(ge=0)]
Positive = Annotated[StrictFloat, Field(gt=0)]
Share = Annotated[StrictFloat, Field(ge=0, le=1)]
Rate = Annotated[StrictFloat, Field(gt=0, lt=1)]
Count = Annotated[StrictInt, Field(ge=0)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
Texts = Annotated[tuple[Text, ...], Field(min_length=1), AfterValidator(_distinct)]
Days = Annotated[tuple[PositiveInt, ...], Field(min_length=1), AfterValidator(_distinct)]
Scalar = StrictStr | StrictInt | StrictFloat

ColumnType = Literal["string", "int", "float", "timestamp"]
NUMERIC_TYPES = ("int", "float")
# What a spec may name. Listed here rather than imported from the stages so that loading a
# spec stays cheap (no numpy, no scikit-learn); tests/unit/spec/test_vocabularies.py checks
# they match include.training.train.FAMILIES, include.modeling.metrics.METRICS and
# include.features.request_time.TRANSFORMS.
CANDIDATE_FAMILIES = ("xgboost", "pytorch_mlp")
METRICS = ("pr_auc", "roc_auc", "recall_at_fpr", "brier", "ece")
Family = Literal["xgboost", "pytorch_mlp"]
Metric = Literal["pr_auc", "roc_auc", "recall_at_fpr", "brier", "ece"]
# Aggregations of a column per entity over a window [t - W, t) (include.features.compute).
AGGREGATIONS = ("count", "sum", "mean", "std", "min", "max", "distinct_count", "ratio")
Aggregation = Literal["count", "sum", "mean", "std", "min", "max", "distinct_count", "ratio"]
# Request-time transforms (include.features.request_time.TRANSFORMS) and their input count.
REQUEST_TRANSFORMS = {
    "ratio": 2,
    "difference": 2,
    "value": 1,
    "log1p": 1,
    "hour_of_day": 1,
    "day_of_week": 1,
}
Transform = Literal["ratio", "difference", "value", "log1p", "hour_of_day", "day_of_week"]
# A scored event's decision: at or above the threshold it goes to a person.
DECISIONS = ("approve", "review")
# When a promotion the gate passed waits for a person (model.approval.required_when).
APPROVAL_CONDITIONS = ("always", "drift_retrain", "slice_gap_grew")
# Evidently's per-column drift methods the spec may name, and those scored as a p-value.
DRIFT_METHODS = ("wasserstein", "psi", "kl_div", "jensenshannon", "hellinger", "ks", "anderson")
P_VALUE_DRIFT_METHODS = ("ks", "anderson")
DriftMethod = Literal[
    "wasserstein", "psi", "kl_div", "jensenshannon", "hellinger", "ks", "anderson"
]
# Keys the loader sets (from the file's layout), never written in a spec file.
SET_BY_LOADER = {"ColumnSpec": ("name",), "FeedSpec": ("name",), "UseCaseSpec": ("path",)}
# The window placeholder of an aggregation's name: "customer_txn_count_{w}d".
WINDOW = "{w}"


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
    return value


# ---------------------------------------------------------------------------------- feeds
@dataclass(frozen=True, config=_CONFIG)
class ColumnSpec:
    """One column of a feed: its type and the per-row rules validation enforces."""

    dtype: ColumnType
    nullable: StrictBool = False
    max_null_fraction: Share = 0.0
    min: Number | None = None
    max: Number | None = None
    values: Annotated[tuple[Scalar, ...], Field(min_length=1)] | None = None
    regex: Annotated[str | None, AfterValidator(_regex)] = None
    # Personal data (a person's id, name, e-mail): pseudonymised at ingest with the
    # platform's keyed hash (include.privacy); the lake, features, models and monitoring
    # only ever see the pseudonym, a string. Rules above apply to the raw value.
    pii: StrictBool = False
    description: str = ""
    # The key under feeds.<feed>.columns, set by the loader (not written in the file).
    name: SkipJsonSchema[str] = ""

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if (self.min is not None or self.max is not None) and self.dtype not in NUMERIC_TYPES:
            raise ValueError(f"min and max apply to int and float columns, not {self.dtype}")
        if self.max_null_fraction > 0 and not self.nullable:
            raise ValueError("max_null_fraction needs nullable: true")


@dataclass(frozen=True, config=_CONFIG)
class RowCountSpec:
    min: Count = 1
    max: PositiveInt = 10_000_000

    def __post_init__(self) -> None:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")


# What a failed history check does: quarantine the batch, or publish it and mail once.
HistoryAction = Literal["quarantine", "warn"]
HISTORY_ACTIONS = ("quarantine", "warn")


@dataclass(frozen=True, config=_CONFIG)
class HistoryCheck:
    """One batch-level comparison with the feed's profile: its tolerance and its action."""

    tolerance: NonNegative
    action: HistoryAction = "quarantine"


def _check(tolerance: float, action: str) -> Any:
    return Field(default_factory=lambda: HistoryCheck(tolerance=tolerance, action=action))


@dataclass(frozen=True, config=_CONFIG)
class HistorySpec:
    """What a normal batch of the feed looks like, learned from its last published batches.

    The profile (``include.quality.profile``) holds, per published partition: the row count,
    each column's null share, numeric quantiles, category shares, distinct keys per entity and
    when the batch arrived. A new batch is compared with the range those partitions span, each
    bound widened by the check's ``tolerance``:

    * ``row_count``, ``distinct_keys``: a share of the range's ends (0.25: 25 % below the
      smallest, 25 % above the largest);
    * ``quantiles`` (10th, 50th, 90th percentile of each numeric column): a factor for
      columns whose history is all positive (0.5: below smallest / 1.5 or above largest
      x 1.5, so a unit change shows as a ratio), else a share of the interquartile range;
    * ``category_share``: share points (0.10: ten points beyond the range; never tighter
      than four binomial standard errors of the batch's size);
    * ``new_categories``: the share of rows whose value the history never had;
      ``vanished_categories``: a value present in every partition that the batch lacks,
      judged only when the batch should have held at least 10 of it (tolerance unused);
    * ``null_share``: share points above the largest null share of the history (never
      tighter than four binomial standard errors), judged where that is stricter than the
      column's own ``max_null_fraction``;
    * ``arrival_hours``: hours later (after the day's end) than the latest arrival of the
      history.

    With fewer than ``min_partitions`` partitions every check only warns; with none there is
    nothing to compare with. ``ignore``: columns left out (identifiers are: the key, and the
    entities' join keys are only counted)."""

    partitions: PositiveInt = 14
    min_partitions: PositiveInt = 5
    max_categories: PositiveInt = 30
    ignore: tuple[Text, ...] = ()
    row_count: HistoryCheck = _check(0.25, "quarantine")
    distinct_keys: HistoryCheck = _check(0.25, "warn")
    quantiles: HistoryCheck = _check(0.5, "quarantine")
    category_share: HistoryCheck = _check(0.10, "warn")
    new_categories: HistoryCheck = _check(0.01, "warn")
    vanished_categories: HistoryCheck = _check(0.0, "warn")
    null_share: HistoryCheck = _check(0.01, "quarantine")
    arrival_hours: HistoryCheck = _check(12.0, "warn")

    def __post_init__(self) -> None:
        if self.min_partitions > self.partitions:
            raise ValueError(
                f"min_partitions ({self.min_partitions}) is above partitions ({self.partitions})"
            )


@dataclass(frozen=True, config=_CONFIG)
class FeedSpec:
    """One landed feed: its schema (``columns``) and the batch-level rules of ingest.

    ``role``: ``events`` (what is scored) or ``labels`` (their outcomes, later); a use case
    has one feed of each."""

    role: Literal["events", "labels"]
    key: Text  # unique per row; labels join their event on it
    timestamp: Text  # the event time (labels: when the outcome became known)
    columns: Annotated[dict[Text, ColumnSpec], Field(min_length=1)]
    # Columns the spec does not know: reject (quarantine) or drop (accept, log, drop).
    extra_columns: Literal["reject", "drop"] = "reject"
    row_count: RowCountSpec = Field(default_factory=RowCountSpec)
    # Rows may arrive late (event time before the batch's day) by at most this much.
    allowed_lateness_hours: NonNegative = 48.0
    # A delivery larger than this is quarantined before it is loaded (A9).
    max_batch_mb: Positive = 512.0
    # Attributes kept for fairness slices, never model features.
    sensitive_attributes: tuple[Text, ...] = ()
    # The batch-level checks against the feed's recent history (HistorySpec).
    history: HistorySpec = Field(default_factory=HistorySpec)
    description: str = ""
    name: SkipJsonSchema[str] = ""  # the key under feeds, set by the loader

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    @property
    def column_specs(self) -> tuple[ColumnSpec, ...]:
        """The columns in file order, each knowing its name."""
        return tuple(self.columns.values())

    def column(self, name: str) -> ColumnSpec:
        return self.columns[name]

    @property
    def pii_columns(self) -> tuple[str, ...]:
        """The columns marked ``pii: true``, in file order."""
        return tuple(n for n, c in self.columns.items() if c.pii)

    @property
    def min_rows(self) -> int:
        return self.row_count.min

    @property
    def max_rows(self) -> int:
        return self.row_count.max


# --------------------------------------------------------------------------------- labels
@dataclass(frozen=True, config=_CONFIG)
class DelaySpec:
    min: NonNegative
    max: NonNegative

    def __post_init__(self) -> None:
        if self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")


@dataclass(frozen=True, config=_CONFIG)
class LabelsSpec:
    """How labels arrive: a positive outcome ``delay_days.min..max`` days after its event;
    an event with no label by then is confirmed negative ``maturity_days`` after it."""

    delay_days: DelaySpec
    maturity_days: Count

    @property
    def max_delay_days(self) -> float:
        """An event's label arrives at most this many days after it."""
        return max(self.delay_days.max, float(self.maturity_days))


# ------------------------------------------------------------------------------- features
@dataclass(frozen=True, config=_CONFIG)
class AggregationSpec:
    """A column aggregated per entity over each window ``[t - W, t)`` before the stamp t.

    ``source: events`` aggregates the events feed by event time; ``source: labels`` the
    labels feed by label time (only outcomes known at t), joined to their event's entity.
    ``ratio`` is the share of rows whose ``column`` equals ``equals``; ``count`` needs no
    column. ``name`` holds ``{w}`` where the window goes (required with several windows).
    """

    name: Text
    function: Aggregation
    windows: Days
    column: Text | None = None
    source: Literal["events", "labels"] = "events"
    equals: Scalar | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.function != "count" and self.column is None:
            raise ValueError(f"{self.function} needs a column")
        if (self.equals is None) == (self.function == "ratio"):
            raise ValueError("equals goes with function ratio, and ratio needs it")
        if len(self.windows) > 1 and WINDOW not in self.name:
            raise ValueError(f"name must hold {WINDOW} where the window goes (several windows)")

    def feature(self, window: int) -> str:
        """The feature's name over ``window`` days."""
        return self.name.replace(WINDOW, str(window))


@dataclass(frozen=True, config=_CONFIG)
class EntitySpec:
    """An entity (what features are kept per) and the feature view of its aggregations."""

    join_key: Text  # a column of the events feed
    view: Text  # the Feast feature view: <entity>_<grain>_stats
    aggregations: Annotated[tuple[AggregationSpec, ...], Field(min_length=1)]
    # per_event: a row at each of the entity's events (before it, and just after it: what its
    # next event sees); daily: a row at the end of each day plus at its first event of a day
    # (cheaper for entities with many events per day, such as a merchant).
    stamps: Literal["per_event", "daily"] = "per_event"
    description: str = ""

    @property
    def windows(self) -> tuple[int, ...]:
        return tuple(sorted({w for a in self.aggregations for w in a.windows}))


@dataclass(frozen=True, config=_CONFIG)
class TransformSpec:
    """A request-time feature: a named transform (``REQUEST_TRANSFORMS``) of request fields
    (columns of the events feed) and stored features, computed the same way in training,
    batch scoring and the online service."""

    name: Text
    function: Transform
    inputs: Annotated[tuple[Text, ...], Field(min_length=1)]
    description: str = ""

    def __post_init__(self) -> None:
        arity = REQUEST_TRANSFORMS[self.function]
        if len(self.inputs) != arity:
            raise ValueError(f"{self.function} takes {arity} input(s), got {len(self.inputs)}")


@dataclass(frozen=True, config=_CONFIG)
class RequestSpec:
    view: Text  # the Feast on-demand feature view
    transforms: Annotated[tuple[TransformSpec, ...], Field(min_length=1)]


@dataclass(frozen=True, config=_CONFIG)
class FeaturesSpec:
    """The features: per-entity aggregations and request-time transforms. The Feast
    entities, views and feature service are generated from this (``feature_repo/``)."""

    project: Text  # the Feast project
    feature_service: Text  # versioned: training and serving ask for it by name
    ttl_days: PositiveInt  # Feast drops a stored value older than this
    entities: Annotated[dict[Text, EntitySpec], Field(min_length=1)]
    request: RequestSpec | None = None
    # Materialization re-reads this far back so that late rows reach the online store.
    materialize_overlap_days: Count = 2

    @property
    def join_keys(self) -> dict[str, str]:
        """Entity name -> its join key column."""
        return {name: e.join_key for name, e in self.entities.items()}

    @property
    def windows(self) -> tuple[int, ...]:
        """Every window of every aggregation, ascending."""
        return tuple(sorted({w for e in self.entities.values() for w in e.windows}))


# ---------------------------------------------------------------------------------- model
@dataclass(frozen=True, config=_CONFIG)
class SplitSpec:
    """Fractions of the labelled window, oldest rows first: each > 0, summing to 1."""

    train: Annotated[StrictFloat, Field(gt=0, le=1)]
    validation: Annotated[StrictFloat, Field(gt=0, le=1)]
    holdout: Annotated[StrictFloat, Field(gt=0, le=1)]

    def __post_init__(self) -> None:
        if abs(sum(self.as_dict().values()) - 1.0) > 1e-6:
            raise ValueError(f"fractions must sum to 1, got {self.as_dict()}")

    def as_dict(self) -> dict[str, float]:
        """``{"train": ..., "validation": ..., "holdout": ...}`` in time order."""
        return {"train": self.train, "validation": self.validation, "holdout": self.holdout}


@dataclass(frozen=True, config=_CONFIG)
class ApprovalSpec:
    """``model.approval``: when a promotion the gate passed waits for a person (Airflow's
    human-in-the-loop approval), and what an unanswered request becomes.

    ``required_when`` lists :data:`APPROVAL_CONDITIONS` (any one suffices; [] = never);
    ``slice_gap_tolerance``: a slice's gap must grow by more than this to count."""

    required_when: Annotated[
        tuple[Literal["always", "drift_retrain", "slice_gap_grew"], ...],
        AfterValidator(_distinct),
    ] = ("drift_retrain", "slice_gap_grew")
    timeout_hours: Positive = 72.0
    on_timeout: Literal["reject", "approve"] = "reject"
    slice_gap_tolerance: NonNegative = 0.01

    @property
    def timeout_answer(self) -> str:
        """The ApprovalOperator option an unanswered request resolves to."""
        return "Approve" if self.on_timeout == "approve" else "Reject"


@dataclass(frozen=True, config=_CONFIG)
class ModelSpec:
    """The ``model`` section: what is learnt, how it is judged, when training may start."""

    target: Text  # a column of the labels feed: the outcome
    registered_name: Text  # the MLflow registered model
    split: SplitSpec
    primary_metric: Metric  # what the gate and the search compare
    promotion_margin: NonNegative  # a challenger must beat the champion by at least this
    recall_at_fpr: Rate  # recall is reported at this false-positive rate
    slice_metric: Metric
    max_slice_gap: NonNegative  # no sensitive slice may fall further below the overall metric
    min_slice_rows: PositiveInt  # smaller slices are reported, not judged
    min_training_rows: PositiveInt  # fewer matured labelled rows: training is skipped
    min_positives: PositiveInt
    candidates: Annotated[tuple[Family, ...], Field(min_length=1), AfterValidator(_distinct)]
    tuning_budget: PositiveInt  # configs tried per family
    # The training set's cap: a window with more matured labelled events trains on a
    # uniform sample of about this many, drawn by event key hash while the partitions are
    # read (the same window gives the same sample), so memory stays bounded at any volume.
    # Training peaked at 3.2 GB for 1M rows (bench/README.md): 2M fits beside the other
    # tasks on a 24 GB worker. A larger number lifts it (None, no cap, is for code: a null
    # in a spec file means the default, as everywhere).
    max_training_rows: PositiveInt | None = 2_000_000
    champion_alias: Text = "champion"
    challenger_alias: Text = "challenger"
    minimums: dict[Metric, Number] = Field(default_factory=dict)  # a first model's floor
    rejection_mail_cooldown_hours: NonNegative = 24.0
    approval: ApprovalSpec = Field(default_factory=ApprovalSpec)
    # The target's value that is the positive class (what the model scores the probability
    # of); every other value is negative. Default 1, for a 0/1 target.
    positive: Scalar = 1

    def positives(self, target: Any) -> Any:
        """0/1 of a target column (a pandas Series): 1 where it is the positive class."""
        return (target == self.positive).astype("int64")

    def __post_init__(self) -> None:
        if self.champion_alias == self.challenger_alias:
            raise ValueError("challenger_alias must differ from champion_alias")
        if self.max_training_rows is not None and self.max_training_rows < self.min_training_rows:
            raise ValueError(
                f"max_training_rows ({self.max_training_rows}) is below min_training_rows "
                f"({self.min_training_rows}): no training set could ever be large enough"
            )


@dataclass(frozen=True, config=_CONFIG)
class ServingSpec:
    """Online scoring and deployment. The decision threshold is the score at which the
    champion's false-positive rate on its holdout is ``target_false_positive_rate`` (unset:
    ``model.recall_at_fpr``); it is fixed at training time and stored with the version."""

    target_false_positive_rate: Rate | None = None
    # The latency budget: HTTP p99 of one event with its feature lookup (deploy check and
    # post-switch watch); in-process single-row predict p99 and artifact size (the gate).
    p99_ms: Positive = 50.0
    model_p99_ms: Positive = 5.0
    max_model_mb: Positive = 50.0
    # Post-switch watch: this long, rolled back beyond this share of failed requests.
    watch_seconds: NonNegative = 20.0
    max_error_rate: Share = 0.01
    # Request limits: events per request, body size, in-flight requests (beyond: 429).
    max_batch: PositiveInt = 100
    max_body_kb: PositiveInt = 256
    max_concurrency: PositiveInt = 64
    # The decision for an event that can not be scored (entity missing or expired).
    unscored_decision: Literal["approve", "review"] = "review"
    # The MLflow alias that follows the version serving production (deployment history).
    deployed_alias: Text = "production"


@dataclass(frozen=True, config=_CONFIG)
class PrivacySpec:
    """What happens to personal data the platform holds raw (landing aside)."""

    # Quarantine evidence (raw files, Data Docs with raw values) is deleted this many days
    # after the batch was quarantined; the summary of why stays.
    quarantine_retention_days: PositiveInt = 30


@dataclass(frozen=True, config=_CONFIG)
class MonitoringSpec:
    """Drift, skew, quality and staleness monitoring of production (``monitor_drift``).

    Every threshold is a decision of the monitoring policy; ``bench/staleness.py`` measures
    the quality-versus-age curve they are chosen from (README, "Monitoring")."""

    # The current window: this many days of scored events, ending the day before a run.
    window_days: PositiveInt = 3
    # Fewer scored rows in a window: "not enough data", never drift, never a retrain.
    min_sample_rows: PositiveInt = 1000
    # Per-feature drift: the method and threshold, fixed so the verdict does not switch
    # tests with the sample size. Distance methods: drifted when the score >= threshold;
    # p-value methods (ks, anderson): when < threshold.
    drift_method: DriftMethod = "wasserstein"
    drift_threshold: Positive = 0.1
    drift_share: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.5
    prediction_drift_threshold: Positive = 0.1
    # Each side of a comparison is sampled (seeded) down to this many rows.
    max_rows: Annotated[StrictInt, Field(ge=100)] = 50_000
    # A window with more scored rows than this is read as a uniform sample of about this
    # many, kept by a hash of the event key while each partition is read (include.data.sample:
    # drift, skew and quality then see the same transactions, and the run's memory stays
    # bounded at any volume). The summary's `sampled` says so; its row counts stay exact.
    max_read_rows: Annotated[StrictInt, Field(ge=1000)] = 2_000_000
    # Training/serving skew: captured online features vs offline features of the same events.
    skew_threshold: Positive = 0.05
    min_skew_rows: PositiveInt = 200
    # Quality on matured labels against the champion's holdout figures (absolute drops).
    min_labelled_rows: PositiveInt = 1000
    min_positives: PositiveInt = 20
    max_pr_auc_drop: Share = 0.10
    max_recall_drop: Share = 0.15
    # One breach (same champion) alerts and retrains once per cooldown.
    retrain_cooldown_hours: NonNegative = 72.0
    # A retrain monitoring triggers trains on this many recent days (None: the default).
    retrain_window_days: PositiveInt | None = None
    # Staleness: the champion's data may end at most this long ago, and at most this many
    # monitoring-triggered retrains in a row may fail to replace it.
    max_champion_age_days: PositiveInt = 30
    max_failed_retrains: PositiveInt = 2

    def __post_init__(self) -> None:
        if self.drift_method in P_VALUE_DRIFT_METHODS:
            for key in ("drift_threshold", "prediction_drift_threshold", "skew_threshold"):
                if getattr(self, key) >= 1:
                    raise ValueError(
                        f"{key} is a p-value with {self.drift_method}: it must be below 1"
                    )


# -------------------------------------------------------------------------- alerts, tools
@dataclass(frozen=True, config=_CONFIG)
class AlertSpec:
    # None or []: MLOPS_ALERT_RECIPIENTS names them.
    recipients: tuple[Text, ...] = ()
    from_email: Text = "airflow-mlops@localhost"
    subject_prefix: Text = "[airflow-mlops]"


@dataclass(frozen=True, config=_CONFIG)
class SimulatorSpec:
    """The development simulator (``devtools.simulator``): population and vocabularies."""

    seed: Count
    rows_per_day: Count
    customers: PositiveInt
    merchants: PositiveInt
    fraud_rate: Annotated[StrictFloat, Field(ge=0, lt=1)]
    currencies: Texts
    channels: Annotated[Texts, Field(min_length=2)]
    merchant_categories: Texts
    countries: Texts
    age_bands: Texts

    def __post_init__(self) -> None:
        if self.merchants < len(self.countries):
            raise ValueError(f"merchants must be >= len(countries) ({len(self.countries)})")


@dataclass(frozen=True, config=_CONFIG)
class SourceSpec:
    """Where a development platform's batches come from (production data lands by itself).

    ``simulator``: the ``simulator`` section's generator (``devtools.simulator``).
    ``replay``: a recorded dataset replayed day by day (``devtools.replay``): ``adapter``
    (``module:function``) returns the feeds of one day of the dataset, ``first_day`` to
    ``last_day``; day D of the dataset lands as the batch of D shifted by whole weeks to the
    recent calendar, so weekdays keep their pattern."""

    kind: Literal["simulator", "replay"]
    adapter: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] | None = None
    first_day: date | None = None
    last_day: date | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind == "replay":
            if self.adapter is None or self.first_day is None or self.last_day is None:
                raise ValueError("a replay needs adapter, first_day and last_day")
            if self.first_day > self.last_day:
                raise ValueError(f"first_day {self.first_day} is after last_day {self.last_day}")


# ---------------------------------------------------------------------------- the use case
@dataclass(frozen=True)
class Names:
    """The use case's feed and column names that code joins, splits and labels on."""

    events_feed: str  # the feed of events to score (role: events)
    labels_feed: str  # the feed of their outcomes (role: labels)
    tx_key: str  # the events feed's key (also the labels feed's: they join on it)
    event_ts: str  # the events feed's timestamp
    label_ts: str  # the labels feed's timestamp: when the outcome became known
    target: str  # model.target, a column of the labels feed
    entities: dict[str, str]  # entity name -> join key column


# The roles of a use case's two feeds.
EVENTS = "events"
LABELS = "labels"


@dataclass(frozen=True, config=_CONFIG)
class UseCaseSpec:
    """One use case: its feeds, labels, features, model, serving and monitoring policy."""

    feeds: dict[Text, FeedSpec]
    labels: LabelsSpec
    features: FeaturesSpec
    model: ModelSpec
    name: Text = "use_case"
    description: str = ""
    alerts: AlertSpec = Field(default_factory=AlertSpec)
    serving: ServingSpec = Field(default_factory=ServingSpec)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    simulator: SimulatorSpec | None = None
    # Where a development platform's batches come from (None: they land by themselves).
    source: SourceSpec | None = None
    # The file it was read from, set by the loader.
    path: SkipJsonSchema[Path] = Path("usecase.yaml")

    def __post_init__(self) -> None:
        if self.source is not None and self.source.kind == "simulator" and self.simulator is None:
            raise ValueError("source.kind simulator needs a simulator section")
        # serving's threshold follows the rate the gate judged recall at, unless set.
        if self.serving.target_false_positive_rate is None:
            serving = dataclasses.replace(
                self.serving, target_false_positive_rate=self.model.recall_at_fpr
            )
            object.__setattr__(self, "serving", serving)

    def _role(self, role: str) -> FeedSpec:
        from include.spec.problems import SpecError

        for feed in self.feeds.values():
            if feed.role == role:
                return feed
        raise SpecError(f"{self.path}: no feed has role {role}")

    @property
    def events_feed(self) -> FeedSpec:
        """The feed of events to score."""
        return self._role(EVENTS)

    @property
    def labels_feed(self) -> FeedSpec:
        """The feed of the events' outcomes."""
        return self._role(LABELS)

    def feed(self, name: str) -> FeedSpec:
        from include.spec.problems import SpecError

        try:
            return self.feeds[name]
        except KeyError:
            raise SpecError(f"{self.path}: no feed {name!r}; known: {sorted(self.feeds)}") from None

    @property
    def request_fields(self) -> list[str]:
        """Events columns a scoring request carries besides its key, join keys and time: the
        request-time transforms' inputs that are not stored features."""
        events = self.events_feed
        stored = {
            a.feature(w)
            for e in self.features.entities.values()
            for a in e.aggregations
            for w in a.windows
        }
        transforms = self.features.request.transforms if self.features.request else ()
        inputs = (i for t in transforms for i in t.inputs)
        skip = {events.timestamp, events.key, *self.features.join_keys}
        return [
            i
            for i in dict.fromkeys(inputs)
            if i not in stored and i not in skip and i in events.columns
        ]

    @property
    def names(self) -> Names:
        """The use case's column names (checked against the feeds when loaded)."""
        events, labels = self.events_feed, self.labels_feed
        return Names(
            events_feed=events.name,
            labels_feed=labels.name,
            tx_key=events.key,
            event_ts=events.timestamp,
            label_ts=labels.timestamp,
            target=self.model.target,
            entities=self.features.join_keys,
        )
