"""What the feature store holds: view names, feature columns and table locations.

Inputs: the use-case spec (``features`` section, ``feeds.transactions.allowed_lateness_hours``,
``labels`` delays). Outputs: a :class:`FeatureSpec` and the column lists that both the
computation (:mod:`include.features.compute`) and the Feast definitions
(``feature_repo/definitions.py``) use, so the tables written and the schemas declared can not
drift apart. No Feast, no pandas: importing this costs nothing.

Tables (derived data, rebuildable from the validated lake at any time):

    <data_root>/features/<view>/date=<YYYY-MM-DD>/data.parquet   one file per partition

They live under the data root rather than the lake because Feast's file offline store reads
them by a path that is resolved against the store's ``repo_path`` (the data root), and
because they are a cache of the lake, not a record: deleting them loses nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from include.spec import SpecError, UseCaseSpec

CUSTOMER_VIEW = "customer_transaction_stats"  # one row per transaction event (two stamps)
MERCHANT_VIEW = "merchant_daily_stats"  # one row per merchant and day (+ first-seen rows)
REQUEST_VIEW = "transaction_request_stats"  # on-demand: computed from the request
TABLE_VIEWS = (CUSTOMER_VIEW, MERCHANT_VIEW)
TIMESTAMP = "event_timestamp"
CUSTOMER_KEY = "customer_id"
MERCHANT_KEY = "merchant_id"
CUSTOMER_AS_OF = "customer_as_of"
MERCHANT_AS_OF = "merchant_as_of"
# Merchant volume window: not a spec parameter yet (the spec names the fraud-rate window).
MERCHANT_VOLUME_DAYS = 7
ONLINE_CHANNEL = "online"


@dataclass(frozen=True)
class FeatureSpec:
    """The spec's ``features`` section plus the delays the look-back depends on."""

    project: str
    feature_service: str
    customer_windows_days: tuple[int, ...]
    merchant_window_days: int
    materialize_overlap_days: int
    ttl_days: int
    lateness_days: int  # rows may arrive this many days after their event (ceil)
    label_delay_days: int  # a label arrives at most this many days after its transaction

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
    """Read and check the spec's ``features`` section."""
    raw = spec.raw.get("features") or {}
    try:
        windows = tuple(sorted(int(w) for w in raw["customer_windows_days"]))
        fspec = FeatureSpec(
            project=str(raw["project"]),
            feature_service=str(raw["feature_service"]),
            customer_windows_days=windows,
            merchant_window_days=int(raw["merchant_window_days"]),
            materialize_overlap_days=int(raw.get("materialize_overlap_days", 2)),
            ttl_days=int(raw["ttl_days"]),
            lateness_days=math.ceil(spec.feed("transactions").allowed_lateness_hours / 24),
            label_delay_days=math.ceil(
                max(
                    float(spec.labels["chargeback_delay_days"]["max"]),
                    float(spec.labels["maturity_days"]),
                )
            ),
        )
    except (KeyError, TypeError) as exc:
        raise SpecError(f"{spec.path}: features/labels section is missing {exc}") from None
    if not windows or min(windows) < 1 or fspec.merchant_window_days < 1:
        raise SpecError(f"{spec.path}: feature windows must be whole days >= 1")
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


def features_root(data_root: Path) -> Path:
    return data_root / "features"


def table_dir(data_root: Path, view: str) -> Path:
    return features_root(data_root) / view


def table_path(data_root: Path, view: str, day: date) -> Path:
    return table_dir(data_root, view) / f"date={day.isoformat()}" / "data.parquet"


def source_path(view: str) -> str:
    """The FileSource path Feast stores: relative, resolved against the store's repo_path
    (the data root), so one registry serves any data root and pruned views (see store)."""
    return f"features/{view}"
