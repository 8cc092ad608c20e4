"""What the feature store holds, derived from the spec: views, feature columns, request inputs.

Inputs: the use-case spec (``features`` section, ``feeds.transactions`` columns and lateness,
``labels`` delays, the column names of :attr:`include.spec.UseCaseSpec.names`). Output: a
:class:`FeatureSpec`, the one plan that the computation (:mod:`include.features.compute`),
the Feast definitions (``feature_repo/definitions.py``), training, batch scoring and the
online service all read, so tables written and schemas declared can not drift apart. No
column of a use case is named here: every name comes from the spec. No Feast, no pandas:
importing this costs nothing.

* one :class:`View` per entity: its join key, its stamps (``per_event`` or ``daily``) and its
  :class:`Aggregate` columns, window-major (every aggregation's 1-day column, then 7-day...);
  each view also stores ``<entity>_as_of``, the stamp of the row, so that every read can say
  which stored row answered (leakage and skew checks);
* the request view: :class:`RequestFeature` transforms of request fields and stored features.

Tables (derived data, rebuildable from the validated lake at any time):

    <features>/<view>/date=<YYYY-MM-DD>/data.parquet   one file per partition (include.layout)

``<features>`` is the ``features_uri`` setting (local or ``s3://``). Feast's file sources
name them by a relative path (``features/<view>``) that every offline read resolves against
a local *pruned view* (``include.features.store.pruned_view``), a copy of just the
partitions a time range needs. They are a cache of the lake, not a record: deleting them
loses nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from include.spec import UseCaseSpec

# Feast's timestamp column: of the feature tables, of the entity dataframe and of the
# request (Feast's default name; the feeds' own timestamp columns come from the spec).
TIMESTAMP = "event_timestamp"
AS_OF_SUFFIX = "_as_of"
# Aggregations whose value is a whole count; the others are real numbers (NaN: no data).
_COUNTS = ("count", "distinct_count")


@dataclass(frozen=True)
class Aggregate:
    """One feature column of a view: ``function`` of ``column`` over ``window`` days."""

    feature: str
    function: str  # include.spec.AGGREGATIONS
    window: int
    column: str | None  # None for count
    source: str  # "events" (by event time) | "labels" (by label time)
    equals: Any = None  # ratio: the value whose share is taken

    @property
    def kind(self) -> str:
        return "int" if self.function in _COUNTS else "float"


@dataclass(frozen=True)
class View:
    """A feature view: one entity's aggregations, stored per stamp."""

    name: str
    entity: str
    join_key: str
    key_type: str  # "int" | "string": the join key column's type
    stamps: str  # "per_event" | "daily"
    aggregates: tuple[Aggregate, ...]
    description: str = ""

    @property
    def as_of(self) -> str:
        """The column holding each row's own stamp."""
        return f"{self.entity}{AS_OF_SUFFIX}"

    @property
    def features(self) -> list[str]:
        return [a.feature for a in self.aggregates]

    @property
    def columns(self) -> dict[str, str]:
        """Feature columns -> kind ("int" | "float" | "timestamp"), in table order."""
        return {**{a.feature: a.kind for a in self.aggregates}, self.as_of: "timestamp"}

    @property
    def longest_window(self) -> int:
        return max(a.window for a in self.aggregates)

    def windows(self, source: str) -> list[int]:
        return [a.window for a in self.aggregates if a.source == source]


@dataclass(frozen=True)
class RequestFeature:
    """A request-time feature: ``function`` (include.features.request_time.TRANSFORMS) of
    ``inputs``, each a request field (under Feast's names: the event time is
    :data:`TIMESTAMP`) or a stored feature."""

    name: str
    function: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSpec:
    """Everything the feature code derives from the spec."""

    project: str
    feature_service: str
    views: tuple[View, ...]
    request_view: str | None  # the on-demand view (None: no request-time features)
    request: tuple[RequestFeature, ...]
    # Request fields the transforms read besides the event time: column -> "int" | "float".
    request_fields: dict[str, str]
    materialize_overlap_days: int
    ttl_days: int
    lateness_days: int  # rows may arrive this many days after their event (ceil)
    label_delay_days: int  # a label arrives at most this many days after its event
    events_feed: str  # the feed of events (its lake folder)
    labels_feed: str  # the feed of their outcomes
    tx_key: str  # the events' (and labels') key
    event_ts: str  # the events feed's timestamp
    label_ts: str  # the labels feed's timestamp: when the label became known
    target: str  # the labels' 0/1 outcome

    @property
    def join_keys(self) -> list[str]:
        """Every view's join key, in view order, once each."""
        return list(dict.fromkeys(v.join_key for v in self.views))

    @property
    def longest_window(self) -> int:
        return max(v.longest_window for v in self.views)

    @property
    def event_columns(self) -> list[str]:
        """Events columns the aggregations read (beyond keys and time)."""
        cols = [a.column for v in self.views for a in v.aggregates if a.source == "events"]
        return [c for c in dict.fromkeys(cols) if c is not None and c not in self.join_keys]

    @property
    def label_aggregates(self) -> bool:
        return any(v.windows("labels") for v in self.views)

    @property
    def transaction_lookback_days(self) -> int:
        """Earlier event partitions a partition's features read: the longest window, plus
        lateness (rows of partition D start D-lateness), plus the label delay (labels in a
        window need their event's entity), plus one day of margin."""
        return self.longest_window + self.lateness_days + self.label_delay_days + 1

    @property
    def label_lookback_days(self) -> int:
        longest = max((w for v in self.views for w in v.windows("labels")), default=0)
        return longest + self.lateness_days + 1

    def view(self, name: str) -> View:
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(f"no feature view {name!r}; known: {[v.name for v in self.views]}")


def _view(name: str, entity: Any, key_type: str) -> View:
    aggregates = []
    for window in entity.windows:  # window-major: a table reads short to long
        for agg in entity.aggregations:
            if window in agg.windows:
                aggregates.append(
                    Aggregate(
                        feature=agg.feature(window),
                        function=agg.function,
                        window=window,
                        column=agg.column,
                        source=agg.source,
                        equals=agg.equals,
                    )
                )
    return View(
        name=entity.view,
        entity=name,
        join_key=entity.join_key,
        key_type="string" if key_type == "string" else "int",
        stamps=entity.stamps,
        aggregates=tuple(aggregates),
        description=entity.description,
    )


def feature_spec(spec: UseCaseSpec) -> FeatureSpec:
    """The feature plan of ``spec`` (checked when the spec was loaded)."""
    features, names = spec.features, spec.names
    events = spec.events_feed
    # A pii join key is the pseudonym (a string) everywhere past ingest (include.privacy).
    views = [
        _view(name, entity, "string" if column.pii else column.dtype)
        for name, entity in features.entities.items()
        for column in [events.column(entity.join_key)]
    ]
    # Per-event views first: Feast's point-in-time join keeps one entity row per (first
    # view's join key, time), so the first key should be the one events rarely share at
    # one instant (include.features.training_set splits the rest into rounds).
    views = sorted(views, key=lambda v: v.stamps != "per_event")
    request = [
        RequestFeature(
            t.name, t.function, tuple(TIMESTAMP if i == names.event_ts else i for i in t.inputs)
        )
        for t in (features.request.transforms if features.request else ())
    ]
    fields = {
        name: "int" if events.column(name).dtype == "int" else "float"
        for name in spec.request_fields
    }
    return FeatureSpec(
        project=features.project,
        feature_service=features.feature_service,
        views=tuple(views),
        request_view=features.request.view if features.request else None,
        request=tuple(request),
        request_fields=fields,
        materialize_overlap_days=features.materialize_overlap_days,
        ttl_days=features.ttl_days,
        lateness_days=math.ceil(events.allowed_lateness_hours / 24),
        label_delay_days=math.ceil(spec.labels.max_delay_days),
        events_feed=names.events_feed,
        labels_feed=names.labels_feed,
        tx_key=names.tx_key,
        event_ts=names.event_ts,
        label_ts=names.label_ts,
        target=names.target,
    )


def request_features(fspec: FeatureSpec) -> dict[str, str]:
    """Outputs of the on-demand view -> kind (the hour and weekday are whole numbers)."""
    whole = ("hour_of_day", "day_of_week")
    return {r.name: "int" if r.function in whole else "float" for r in fspec.request}


def model_features(fspec: FeatureSpec) -> list[str]:
    """The model's inputs from the feature service: every view's features, then the
    request-time ones (the ``*_as_of`` stamps are not inputs)."""
    return [*(f for v in fspec.views for f in v.features), *request_features(fspec)]


def feature_windows(fspec: FeatureSpec) -> dict[str, int]:
    """Model feature -> the days of history its value needs before it is complete.

    An aggregate over ``W`` days needs ``W`` days of events before its stamp; one counted by
    label time needs the label delay on top (until then the label stream is still filling:
    the first events' outcomes are not all delivered). A request-time feature needs what its
    inputs need (a request field or the event time: 0, complete on the first day). In
    :func:`model_features` order. Monitoring judges a feature's drift only on rows whose
    history covers this (``include.monitoring.warmup``)."""
    days = {
        a.feature: a.window + (fspec.label_delay_days if a.source == "labels" else 0)
        for v in fspec.views
        for a in v.aggregates
    }
    for r in fspec.request:
        days[r.name] = max((days.get(i, 0) for i in r.inputs), default=0)
    return {f: days[f] for f in model_features(fspec)}


def as_of_columns(fspec: FeatureSpec) -> list[str]:
    return [v.as_of for v in fspec.views]


def source_path(view: str) -> str:
    """The FileSource path Feast stores: relative, resolved against the store's repo_path
    (the data root), so one registry serves any data root and pruned views (see store)."""
    return f"features/{view}"
