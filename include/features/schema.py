"""What the feature store holds: view names, feature columns and table locations.

Inputs: the use-case spec (``features`` section, ``feeds.transactions.allowed_lateness_hours``,
``labels`` delays, the column names of :attr:`include.spec.UseCaseSpec.names`). Outputs: a
:class:`FeatureSpec` (with every column name the feature code reads) and the column lists
that both the
computation (:mod:`include.features.compute`) and the Feast definitions
(``feature_repo/definitions.py``) use, so the tables written and the schemas declared can not
drift apart. No Feast, no pandas: importing this costs nothing.

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

from include.spec import TRANSACTIONS_FEED, SpecError, UseCaseSpec

CUSTOMER_VIEW = "customer_transaction_stats"  # one row per transaction event (two stamps)
MERCHANT_VIEW = "merchant_daily_stats"  # one row per merchant and day (+ first-seen rows)
REQUEST_VIEW = "transaction_request_stats"  # on-demand: computed from the request
TABLE_VIEWS = (CUSTOMER_VIEW, MERCHANT_VIEW)
# Feast's timestamp column: of the feature tables, of the entity dataframe and of the
# request (Feast's default name; the feeds' own timestamp columns come from the spec).
TIMESTAMP = "event_timestamp"
CUSTOMER_AS_OF = "customer_as_of"
MERCHANT_AS_OF = "merchant_as_of"
# The feature views are per customer and per merchant: features.entities must name both.
CUSTOMER_ENTITY = "customer"
MERCHANT_ENTITY = "merchant"
# Merchant volume window: not a spec parameter yet (the spec names the fraud-rate window).
MERCHANT_VOLUME_DAYS = 7
# Transaction columns the features are computed from (the features' own definition).
AMOUNT = "amount"
CHANNEL = "channel"
ONLINE_CHANNEL = "online"


@dataclass(frozen=True)
class FeatureSpec:
    """The spec's ``features`` section plus the delays the look-back depends on and the
    column names of the feeds the features read (all from the spec)."""

    project: str
    feature_service: str
    customer_windows_days: tuple[int, ...]
    merchant_window_days: int
    materialize_overlap_days: int
    ttl_days: int
    lateness_days: int  # rows may arrive this many days after their event (ceil)
    label_delay_days: int  # a label arrives at most this many days after its transaction
    tx_key: str  # the transactions' (and labels') key
    event_ts: str  # the transactions feed's timestamp
    label_ts: str  # the labels feed's timestamp: when the label became known
    target: str  # the labels' 0/1 outcome
    customer_key: str  # join key of the customer entity (a transactions column)
    merchant_key: str  # join key of the merchant entity (a transactions column)

    @property
    def longest_customer_window(self) -> int:
        return max(self.customer_windows_days)

    @property
    def transaction_lookback_days(self) -> int:
        """Earlier transaction partitions a partition's features read: the longest window,
        plus lateness (rows of partition D start D-lateness), plus the label delay (labels
        in the merchant window need their transaction's merchant), plus one day of margin."""
        longest = max(self.longest_customer_window, self.merchant_window_days)
        return longest + self.lateness_days + self.label_delay_days + 1

    @property
    def label_lookback_days(self) -> int:
        return self.merchant_window_days + self.lateness_days + 1


def feature_spec(spec: UseCaseSpec) -> FeatureSpec:
    """The typed ``features`` section with what the feature code derives from the spec."""
    features, names = spec.features, spec.names
    missing = [e for e in (CUSTOMER_ENTITY, MERCHANT_ENTITY) if e not in features.entities]
    if missing:
        raise SpecError(
            f"{spec.path}: features.entities lacks {missing}: the feature views are per "
            f"{CUSTOMER_ENTITY} and per {MERCHANT_ENTITY}"
        )
    fspec = FeatureSpec(
        project=features.project,
        feature_service=features.feature_service,
        customer_windows_days=features.customer_windows_days,
        merchant_window_days=features.merchant_window_days,
        materialize_overlap_days=features.materialize_overlap_days,
        ttl_days=features.ttl_days,
        lateness_days=math.ceil(spec.feed(TRANSACTIONS_FEED).allowed_lateness_hours / 24),
        label_delay_days=math.ceil(spec.labels.max_delay_days),
        tx_key=names.tx_key,
        event_ts=names.event_ts,
        label_ts=names.label_ts,
        target=names.target,
        customer_key=features.entities[CUSTOMER_ENTITY],
        merchant_key=features.entities[MERCHANT_ENTITY],
    )
    if fspec.ttl_days < max(fspec.longest_customer_window, MERCHANT_VOLUME_DAYS):
        # A value older than the TTL is dropped by Feast: the TTL must cover the windows.
        raise SpecError(f"{spec.path}: features.ttl_days must be >= the longest window")
    return fspec


def customer_features(fspec: FeatureSpec) -> dict[str, str]:
    """Customer feature columns -> kind ("int" | "float" | "timestamp"), in table order."""
    cols: dict[str, str] = {}
    for w in fspec.customer_windows_days:
        cols[f"customer_txn_count_{w}d"] = "int"
        cols[f"customer_amount_mean_{w}d"] = "float"
        cols[f"customer_amount_std_{w}d"] = "float"
        cols[f"customer_online_share_{w}d"] = "float"
    cols[f"customer_distinct_merchants_{fspec.longest_customer_window}d"] = "int"
    cols[CUSTOMER_AS_OF] = "timestamp"
    return cols


def merchant_features(fspec: FeatureSpec) -> dict[str, str]:
    """Merchant feature columns -> kind, in table order."""
    w = fspec.merchant_window_days
    return {
        f"merchant_txn_count_{MERCHANT_VOLUME_DAYS}d": "int",
        f"merchant_fraud_rate_{w}d": "float",
        f"merchant_label_count_{w}d": "int",
        MERCHANT_AS_OF: "timestamp",
    }


def request_features(fspec: FeatureSpec) -> dict[str, str]:
    """Outputs of the on-demand view (computed from the request + customer features)."""
    return {
        f"amount_to_customer_mean_{fspec.longest_customer_window}d": "float",
        "hour_of_day": "int",
    }


def model_features(fspec: FeatureSpec) -> list[str]:
    """The model's inputs from the feature service: every feature except the ``*_as_of``
    stamps, which say which stored row answered (for leakage and skew checks)."""
    names = [*customer_features(fspec), *merchant_features(fspec), *request_features(fspec)]
    return [n for n in names if n not in (CUSTOMER_AS_OF, MERCHANT_AS_OF)]


def source_path(view: str) -> str:
    """The FileSource path Feast stores: relative, resolved against the store's repo_path
    (the data root), so one registry serves any data root and pruned views (see store)."""
    return f"features/{view}"
