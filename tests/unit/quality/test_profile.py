"""The feed's profile: versions with their partitions, and what never enters it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from include.config import REPO_ROOT
from include.data import lake
from include.quality import profile
from include.spec import load_spec

SPEC = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
START = dt.date(2026, 11, 1)


def _publish(lake_uri: str, feed: str, day: dt.date, frame: pd.DataFrame) -> None:
    staged = f"{lake_uri}/staging/{feed}-{day}.parquet"
    lake.stage(frame, staged)
    lake.publish(staged, lake_uri, feed, day)


def _labels(n: int, positives: int) -> pd.DataFrame:
    stamp = pd.Timestamp("2026-11-01T12:00:00Z")
    return pd.DataFrame(
        {
            "transaction_id": [f"tx_{i:016x}" for i in range(n)],
            "event_timestamp": [stamp] * n,
            "label_timestamp": [stamp] * n,
            "is_fraud": pd.array([1] * positives + [0] * (n - positives), dtype="Int64"),
        }
    )


def test_each_change_of_the_last_partitions_is_a_version_naming_them(tmp_path: Path) -> None:
    lake_uri, feed = str(tmp_path / "lake"), SPEC.feed("labels")
    for i in range(3):
        _publish(lake_uri, "labels", START + dt.timedelta(days=i), _labels(100 + i, 2))
        built = profile.rebuild(lake_uri, feed, f"run{i}")
        assert built.version == i + 1
    again = profile.rebuild(lake_uri, feed, "run3")  # nothing changed: no new version
    assert again.version == 3 and profile.versions(lake_uri, "labels") == [1, 2, 3]
    stored = json.loads((tmp_path / "lake/profiles/labels/v3.json").read_text())
    assert stored["partitions"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert stored["sources"]["2026-11-02"].endswith("validated/labels/date=2026-11-02/data.parquet")
    assert [stored["stats"][d]["rows"] for d in stored["partitions"]] == [100, 101, 102]
    assert stored["run_id"] == "run2"
    # a day published again with other content (its statistics recorded at publish, as
    # ingest does) is a new version
    _publish(lake_uri, "labels", START, _labels(150, 2))
    fresh = lake.read_partition(lake_uri, "labels", START)
    profile.record_partition(lake_uri, "labels", START, profile.partition_stats(fresh, feed, START))
    assert profile.rebuild(lake_uri, feed, "run4").stats["2026-11-01"]["rows"] == 150


def test_a_labels_feed_ramping_up_over_its_label_delay_is_not_its_normal(tmp_path) -> None:
    """The first days of labels hold only the fastest outcomes (here chargebacks); the
    confirmations arrive after the maturity. Those days never enter the profile."""
    lake_uri, feed = str(tmp_path / "lake"), SPEC.feed("labels")
    ramp = profile.ramp_days(SPEC, "labels")
    assert ramp == 7 and profile.ramp_days(SPEC, "transactions") == 0  # maturity 7 > delay 5
    days = [START + dt.timedelta(days=i) for i in range(10)]
    for i, d in enumerate(days):
        _publish(lake_uri, "labels", d, _labels(30 if i < ramp else 10_000, 30))
        profile.record_partition(
            lake_uri,
            "labels",
            d,
            profile.partition_stats(lake.read_partition(lake_uri, "labels", d), feed, d),
        )
        built = profile.rebuild(lake_uri, feed, "r", ramp_days=ramp)
        if i < ramp:
            assert built is None
    assert built.partitions == [d.isoformat() for d in days[ramp:]]
    assert {s["rows"] for s in built.stats.values()} == {10_000}
