"""Feature tables computed by shards of join keys are the bytes of the whole computation.

Given a small lake and a shard threshold forced down so that every day is cut into many
shards, when the tables of several days are built, then every Parquet file is byte for byte
the file the unsharded computation writes (rows, order, dtypes, floats), for the bundled
fraud spec (a per-event string key, a daily int key counting labels) and for the generic
spec of test_compute (labels counted by a per-event key), on a lake with what real feeds
carry: late rows, a re-delivered event under another entity, missing keys and values,
labels of events outside the look-back.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.data import lake
from include.features import schema, shards, tables
from include.spec import load_spec
from tests.conftest import ROOT
from tests.unit.features.test_compute import DAY, GENERIC, _land_lake


def _fraud_lake(tmp_path: Path) -> tuple[schema.FeatureSpec, str, list[date]]:
    lake_uri = str(tmp_path / "lake")
    # 10 days: genuine transactions are confirmed after 7, so the last days count labels.
    days = _land_lake(lake_uri, days=10, rows=200)
    return schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml")), lake_uri, days[-3:]


def _generic_lake(tmp_path: Path) -> tuple[schema.FeatureSpec, str, list[date]]:
    """Six days of the GENERIC spec's feeds, written the way the lake holds partitions."""
    path = tmp_path / "generic.yaml"
    path.write_text(GENERIC)
    gspec = schema.feature_spec(load_spec(path))
    lake_uri = str(tmp_path / "lake")
    rng = np.random.default_rng(3)
    days = [DAY - timedelta(days=5 - i) for i in range(6)]
    shops = np.array([f"shop-{i}" for i in range(12)] + [None], dtype=object)
    labelled = []
    previous = None
    for i, day in enumerate(days):
        n = 160
        start = pd.Timestamp(day, tz="UTC")
        # Rows up to a day late, whole seconds: ties within a shop and at window edges.
        at = start + pd.to_timedelta(rng.integers(-86_400, 86_400, n), unit="s")
        events = pd.DataFrame(
            {
                "id": [f"e{i}-{j}" for j in range(n)],
                "happened": at,
                "shop": rng.choice(shops, n),
                "price": np.where(rng.random(n) < 0.15, np.nan, rng.random(n) * 100),
                "kind": rng.choice(["a", "b", "c"], n),
            }
        )
        if previous is not None:
            # A re-delivery: events of the day before again, some under another shop; their
            # labels belong to the shard of the earliest row (compute._labels_of).
            again = previous.sample(12, random_state=i).copy()
            again.loc[again.index[:6], "shop"] = rng.choice(shops[:-1], 6)
            events = pd.concat([events, again], ignore_index=True)
        lake.stage(events, lake.partition_uri(lake_uri, "transactions", day))
        previous = events
        known = events.assign(
            known_at=events["happened"]
            + pd.to_timedelta(rng.integers(60, 2 * 86_400, len(events)), unit="s"),
            bad=rng.integers(0, 2, len(events)),
            status=rng.choice(["refund", "kept"], len(events)),
        )
        labelled.append(known[["id", "known_at", "bad", "status"]])
    found = pd.concat(labelled, ignore_index=True)
    stray = found.sample(10, random_state=1).assign(id=[f"gone-{j}" for j in range(10)])
    found = pd.concat([found, stray, found.sample(8, random_state=2)], ignore_index=True)
    for day in days:
        mine = found[found["known_at"].dt.date == day]
        lake.stage(mine.reset_index(drop=True), lake.partition_uri(lake_uri, "labels", day))
    return gspec, lake_uri, days[3:]


LAKES = {"fraud": _fraud_lake, "generic": _generic_lake}


def _build(lake_uri: str, out: Path, days: list[date], fspec: schema.FeatureSpec):
    summary = tables.build_partitions(days, lake_uri=lake_uri, features_uri=str(out), fspec=fspec)
    files = {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*.parquet"))}
    return summary, files


@pytest.mark.parametrize("name", sorted(LAKES))
def test_sharded_tables_are_the_bytes_of_the_whole_computation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # given a lake, and its tables computed whole (the default threshold: one shard a day)
    fspec, lake_uri, days = LAKES[name](tmp_path)
    calls: list[int] = []
    real = shards.ShardedLake.partition_tables

    def counted(self, day, n):
        calls.append(n)
        return real(self, day, n)

    monkeypatch.setattr(shards.ShardedLake, "partition_tables", counted)
    whole_summary, whole = _build(lake_uri, tmp_path / "whole", days, fspec)
    assert calls == []
    # when the threshold is forced down so every day is cut into several shards
    monkeypatch.setattr(shards, "SHARD_ROWS", 400)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    spans = [tables.PartitionCache.span, tables.PartitionCache.get]
    for method in spans:  # a sharded day never holds the look-back
        monkeypatch.setattr(tables.PartitionCache, method.__name__, _refused)
    sharded_summary, sharded = _build(lake_uri, tmp_path / "sharded", days, fspec)
    # then every day was sharded, into several shards...
    assert len(calls) == len(days) and min(calls) >= 4, calls
    # ...and every table is the same file, byte for byte
    assert sharded_summary == whole_summary
    assert list(sharded) == list(whole)
    assert len(whole) == len(fspec.views) * len(days)
    for path in whole:
        got, expected = pd.read_parquet(sharded[path]), pd.read_parquet(whole[path])
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=path)
        assert sharded[path].read_bytes() == whole[path].read_bytes(), path
    # the views count labels, and some rows of every view saw some
    label_features = [a.feature for v in fspec.views for a in v.aggregates if a.source == "labels"]
    rows = pd.concat([pd.read_parquet(p) for p in whole.values()])
    assert label_features and (rows[label_features].fillna(0) > 0).any().all()
    assert list(scratch.iterdir()) == []  # the splits are removed at the end of the run


def _refused(*args, **kwargs):
    raise AssertionError("a sharded day read the look-back whole")


def test_a_shard_of_the_look_back_has_the_rows_and_dtypes_of_the_whole_look_back(
    tmp_path: Path,
) -> None:
    """A lake whose partitions disagree on a column's type (a feed whose writer changed):
    pandas picks the span's dtype from every partition, ignoring empty and all-missing ones,
    and a shard's piece of a partition can be either where the partition is not."""
    # given three events partitions of the generic spec: prices as floats with a gap, as
    # text (None in most rows), as whole numbers; some rows without a shop
    path = tmp_path / "generic.yaml"
    path.write_text(GENERIC)
    gspec = schema.feature_spec(load_spec(path))
    lake_uri = str(tmp_path / "lake")
    days = [DAY - timedelta(days=2 - i) for i in range(3)]
    prices = [
        [1.5, np.nan] * 20,
        ["7"] + [None] * 39,
        list(range(40)),
    ]
    for i, (day, price) in enumerate(zip(days, prices, strict=True)):
        frame = pd.DataFrame(
            {
                "id": [f"e{i}-{j}" for j in range(40)],
                "happened": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.arange(40), "min"),
                "shop": [None if j % 9 == 0 else f"shop-{j % 7}" for j in range(40)],
                "price": price,
                "kind": "a",
            }
        )
        lake.stage(frame, lake.partition_uri(lake_uri, "transactions", day))
    whole = tables.PartitionCache(lake_uri, gspec).span("transactions", days[0], days[-1])
    # when the look-back is split into shards of the shop and each shard gathered
    with shards.ShardedLake(lake_uri, gspec) as sharded:
        (group,) = sharded.groups
        for day in days:
            sharded._split_events(day, 6)
        splits = [sharded._splits[("events", d, group.index, 6, None)] for d in days]
        parts = [shards._gather(splits, i, group.events) for i in range(6)]
    # then each shard is the look-back's rows of its shops, in order, with its dtypes
    seen = set()
    for part in parts:
        assert not seen & set(part["shop"]), "a shop in two shards"
        seen |= set(part["shop"])
        expected = whole.loc[whole["id"].isin(part["id"]), list(group.events)]
        pd.testing.assert_frame_equal(part, expected.reset_index(drop=True), check_exact=True)
    assert seen == set(whole["shop"].dropna())
    assert sum(len(p) for p in parts) == whole["shop"].notna().sum()
