"""A feed's normal: the statistics of its last published partitions, versioned with lineage.

When a partition is published, :func:`record_partition` writes its statistics (row count,
null share per column, numeric quantiles, category shares, distinct keys per identifier,
arrival time) next to the feed's profiles, and :func:`rebuild` writes a new profile version
over the feed's last ``history.partitions`` published partitions when they changed. Only
published partitions have statistics, so a quarantined batch never moves the profile (an
accepted one does: it is published).

The history checks (``include.quality.history``) read the newest version: the bounds of a
new batch are the range its partitions span. A profile is JSON::

    {"feed", "version", "built_at", "run_id", "partitions": [day, ...],
     "sources": {day: partition uri}, "stats": {day: partition statistics}}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd

from include import layout, storage
from include.spec import FeedSpec, UseCaseSpec

QUANTILES = (0.1, 0.5, 0.9)
_VERSION = re.compile(r"^v([0-9]+)\.json$")


@dataclass(frozen=True)
class Roles:
    """What the profile measures in each column of a feed."""

    numeric: tuple[str, ...]  # quantiles
    text: tuple[str, ...]  # category shares, when few distinct values
    declared: tuple[str, ...]  # columns with a declared set of values (always categories)
    identifiers: tuple[str, ...]  # distinct count only
    nullable: tuple[str, ...]  # null share


def identifiers(spec: UseCaseSpec, feed: str) -> tuple[str, ...]:
    """The feed's columns that name an entity (features are kept per them): the profile
    counts their distinct values rather than their quantiles."""
    if spec.feed(feed).role != "events":
        return ()
    return tuple(e.join_key for e in spec.features.entities.values())


def roles(feed: FeedSpec, identifiers: Iterable[str] = ()) -> Roles:
    """The key and timestamp are neither; ``identifiers`` (entity join keys) are counted."""
    ignore = {feed.key, feed.timestamp, *feed.history.ignore}
    # A pii column (a pseudonym past ingest) is counted like an entity key, never listed.
    ids = tuple(
        dict.fromkeys(
            c for c in (*identifiers, *feed.pii_columns) if c in feed.columns and c not in ignore
        )
    )
    numeric, text, declared = [], [], []
    for col in feed.column_specs:
        if col.name in ignore or col.name in ids or col.dtype == "timestamp":
            continue
        if col.values is not None:
            declared.append(col.name)
        elif col.dtype in ("int", "float"):
            numeric.append(col.name)
        else:
            text.append(col.name)
    nullable = tuple(c.name for c in feed.column_specs if c.nullable and c.name not in ignore)
    return Roles(tuple(numeric), tuple(text), tuple(declared), ids, nullable)


def quantiles(values: pd.Series) -> dict[str, float]:
    """The profile's quantiles of a column (nulls left out), as GX computes them."""
    clean = pd.to_numeric(values, errors="coerce").dropna()
    if clean.empty:
        return {}
    found = clean.quantile(list(QUANTILES), interpolation="nearest")
    out = {str(q): float(v) for q, v in zip(QUANTILES, found, strict=True)}
    q25, q75 = clean.quantile([0.25, 0.75], interpolation="nearest")
    out["iqr"] = float(q75 - q25)
    return out


def category_shares(values: pd.Series) -> dict[str, float]:
    """Share of each value among the non-null rows (keys as text)."""
    clean = values.dropna()
    if clean.empty:
        return {}
    shares = clean.astype(str).value_counts(normalize=True)
    return {str(k): round(float(v), 6) for k, v in shares.items()}


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def arrival_hours(day: date, arrived: datetime | None) -> float | None:
    """Hours between the end of the batch's day and its arrival (negative: before it ended)."""
    if arrived is None:
        return None
    if arrived.tzinfo is None:
        arrived = arrived.replace(tzinfo=UTC)
    return round((arrived - day_end(day)).total_seconds() / 3600, 3)


def partition_stats(
    frame: pd.DataFrame,
    feed: FeedSpec,
    day: date,
    *,
    identifiers: Iterable[str] = (),
    arrived: datetime | None = None,
) -> dict[str, Any]:
    """The statistics of one batch (typed frame) that its feed's profile keeps."""
    r = roles(feed, identifiers)
    present = set(frame.columns)
    limit = feed.history.max_categories
    categories: dict[str, dict[str, float]] = {}
    for col in (*r.declared, *r.text):
        if col in present:
            shares = category_shares(frame[col])
            if col in r.declared or len(shares) <= limit:
                categories[col] = shares
    return {
        "day": day.isoformat(),
        "rows": len(frame),
        "arrival_hours": arrival_hours(day, arrived),
        "nulls": {
            c: round(float(frame[c].isna().mean()), 6) if len(frame) else 0.0
            for c in r.nullable
            if c in present
        },
        "quantiles": {c: quantiles(frame[c]) for c in r.numeric if c in present},
        "categories": categories,
        "distinct": {c: int(frame[c].nunique()) for c in r.identifiers if c in present},
    }


# ------------------------------------------------------------------------------- storage
def record_partition(lake_uri: str, feed: str, day: date, stats: dict[str, Any]) -> str:
    """Keep a published partition's statistics (a re-publication replaces them)."""
    uri = layout.partition_profile_uri(lake_uri, feed, day)
    storage.write_bytes(uri, json.dumps(stats, indent=1, sort_keys=True).encode())
    return uri


@dataclass
class Profile:
    feed: str
    version: int
    built_at: str
    run_id: str
    partitions: list[str]
    sources: dict[str, str]
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "version": self.version,
            "built_at": self.built_at,
            "run_id": self.run_id,
            "partitions": self.partitions,
            "sources": self.sources,
            "stats": self.stats,
        }

    def history_for(self, day: date) -> list[dict[str, Any]]:
        """The partitions a batch of ``day`` is compared with: all but ``day`` itself (a
        re-run of a day is compared with the others, not with its earlier self)."""
        return [self.stats[d] for d in self.partitions if d != day.isoformat()]


def versions(lake_uri: str, feed: str) -> list[int]:
    found = []
    for obj in storage.list_objects(layout.profiles_dir(lake_uri, feed)):
        m = _VERSION.match(obj.name)
        if m:
            found.append(int(m.group(1)))
    return sorted(found)


def load(lake_uri: str, feed: str, version: int) -> Profile:
    data = json.loads(storage.read_bytes(layout.profile_uri(lake_uri, feed, version)))
    return Profile(**data)


def latest(lake_uri: str, feed: str) -> Profile | None:
    """The feed's newest profile, or None before its first published partition."""
    found = versions(lake_uri, feed)
    return load(lake_uri, feed, found[-1]) if found else None


def _stats_of(
    lake_uri: str, feed: FeedSpec, day: date, identifiers: Iterable[str]
) -> dict[str, Any]:
    uri = layout.partition_profile_uri(lake_uri, feed.name, day)
    if storage.exists(uri):
        return json.loads(storage.read_bytes(uri))
    # Published before profiles existed: measured from the partition (its arrival unknown).
    from include.data import lake

    stats = partition_stats(
        lake.read_partition(lake_uri, feed.name, day), feed, day, identifiers=identifiers
    )
    record_partition(lake_uri, feed.name, day, stats)
    return stats


def ramp_days(spec: UseCaseSpec, feed: str) -> int:
    """Days after a feed's first partition that are not yet its normal: a labels feed fills
    up over the label delay (its first days hold only the fastest outcomes of the first
    events), an events feed is normal from its first day."""
    if spec.feed(feed).role != "labels":
        return 0
    return math.ceil(spec.labels.max_delay_days)


def rebuild(
    lake_uri: str,
    feed: FeedSpec,
    run_id: str,
    identifiers: Iterable[str] = (),
    *,
    ramp_days: int = 0,
) -> Profile | None:
    """A new version over the last ``history.partitions`` published partitions, written
    only when they (or their statistics) differ from the newest version's. The first
    ``ramp_days`` after the feed's first partition never enter it (:func:`ramp_days`)."""
    from include.data import lake

    published = lake.partitions(lake_uri, feed.name)
    if not published:
        return None
    settled = [d for d in published if d >= published[0] + timedelta(days=ramp_days)]
    days = settled[-feed.history.partitions :]
    if not days:
        return None
    ids = list(identifiers)
    stats = {d.isoformat(): _stats_of(lake_uri, feed, d, ids) for d in days}
    current = latest(lake_uri, feed.name)
    if current is not None and current.stats == stats:
        return current
    profile = Profile(
        feed=feed.name,
        version=(current.version + 1) if current else 1,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run_id=run_id,
        partitions=[d.isoformat() for d in days],
        sources={d.isoformat(): layout.partition_uri(lake_uri, feed.name, d) for d in days},
        stats=stats,
    )
    storage.write_bytes(
        layout.profile_uri(lake_uri, feed.name, profile.version),
        json.dumps(profile.to_dict(), indent=1, sort_keys=True).encode(),
    )
    return profile
