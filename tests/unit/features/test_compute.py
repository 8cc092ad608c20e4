"""Feature computation on tiny frames: point-in-time correctness, windows, idempotent tables.

Given hand-made transactions and labels, when customer/merchant rows are computed, then each
row stamped s aggregates exactly the events in ``[s - W, s)`` (checked against a brute-force
loop), a planted future transaction or late-arriving label changes nothing stamped before it,
and a partition's tables are the same bytes however often they are built.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.data import lake
from include.features import compute, schema, tables
from include.spec import load_spec
from include.steps.materialize_features import NoPartitionsToCompute, resolve_partitions
from tests.conftest import ROOT

DAY = date(2026, 11, 20)
T0 = pd.Timestamp("2026-11-20 12:00", tz="UTC")


@pytest.fixture(scope="module")
def fspec() -> schema.FeatureSpec:
    return schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml"))


CUSTOMER_VIEW, MERCHANT_VIEW = "customer_transaction_stats", "merchant_daily_stats"
NO_LABELS = pd.DataFrame(columns=["transaction_id", "label_timestamp", "is_fraud"])


def customer_stats(history: pd.DataFrame, target: pd.DataFrame, fspec) -> pd.DataFrame:
    """The fraud spec's per-event customer view of ``target`` (its day: the first one's)."""
    day = pd.Timestamp(target["event_timestamp"].min()).date()
    return compute.view_stats(fspec.view(CUSTOMER_VIEW), history, NO_LABELS, target, day, fspec)


def merchant_stats(history, labels, target, day, fspec) -> pd.DataFrame:
    return compute.view_stats(fspec.view(MERCHANT_VIEW), history, labels, target, day, fspec)


def tx(rows: list[tuple]) -> pd.DataFrame:
    """(customer, merchant, time, amount, channel) rows as a validated-transactions frame."""
    frame = pd.DataFrame(rows, columns=["customer_id", "merchant_id", "ts", "amount", "channel"])
    frame["event_timestamp"] = pd.to_datetime(frame.pop("ts"), utc=True)
    frame["transaction_id"] = [f"tx_{i:016x}" for i in range(len(frame))]
    # The customer is pii in the fraud spec: the lake holds its pseudonym, a string.
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


def brute_force(history: pd.DataFrame, customer: int, s: pd.Timestamp, days: int) -> dict:
    """The reference: a plain loop over the customer's events in [s - days, s)."""
    mine = history[history["customer_id"] == customer]
    inside = mine[
        (mine.event_timestamp >= s - pd.Timedelta(days=days)) & (mine.event_timestamp < s)
    ]
    amounts = inside["amount"].to_numpy(dtype=float)
    return {
        "count": len(inside),
        "mean": amounts.mean() if len(amounts) else np.nan,
        "std": amounts.std(ddof=1) if len(amounts) > 1 else np.nan,
        "online": (inside.channel == "online").mean() if len(inside) else np.nan,
        "distinct": inside.merchant_id.nunique(),
    }


def test_customer_rows_match_a_brute_force_loop_on_random_history(fspec) -> None:
    # given 40 days of random transactions of 5 customers, with ties and window-edge times
    rng = np.random.default_rng(1)
    n = 400
    times = T0 - pd.to_timedelta(rng.integers(0, 40 * 86_400, n), unit="s")
    times = times.append(pd.DatetimeIndex([T0 - pd.Timedelta(days=7), T0, T0]))
    history = tx(
        [
            (
                int(rng.integers(1, 6)),
                int(rng.integers(1, 8)),
                t,
                float(rng.integers(1, 500)),
                str(rng.choice(["online", "pos", "atm"])),
            )
            for t in times
        ]
    )
    history.loc[history.index[-3:], "customer_id"] = "3"
    target = history[history.event_timestamp >= T0 - pd.Timedelta(days=2)]
    # when
    rows = customer_stats(history, target, fspec)
    # then two stamps per target transaction, each equal to the reference over [s - W, s)
    assert set(rows.columns) == {
        "customer_id",
        "event_timestamp",
        *fspec.view(CUSTOMER_VIEW).columns,
    }
    expected_stamps = set(zip(target.customer_id, target.event_timestamp, strict=False)) | {
        (c, t + compute.EPSILON)
        for c, t in zip(target.customer_id, target.event_timestamp, strict=False)
    }
    assert set(zip(rows.customer_id, rows.event_timestamp, strict=False)) == expected_stamps
    for row in rows.itertuples(index=False):
        for w in (1, 7, 30):
            ref = brute_force(history, row.customer_id, row.event_timestamp, w)
            got = row._asdict()
            assert got[f"customer_txn_count_{w}d"] == ref["count"]
            np.testing.assert_allclose(got[f"customer_amount_mean_{w}d"], ref["mean"], rtol=1e-9)
            np.testing.assert_allclose(got[f"customer_amount_std_{w}d"], ref["std"], rtol=1e-6)
            np.testing.assert_allclose(got[f"customer_online_share_{w}d"], ref["online"])
        ref30 = brute_force(history, row.customer_id, row.event_timestamp, 30)
        assert row.customer_distinct_merchants_30d == ref30["distinct"]
        assert row.customer_as_of == row.event_timestamp


def test_a_customer_row_at_t_excludes_t_and_the_row_just_after_includes_it(fspec) -> None:
    history = tx([(1, 1, T0 - pd.Timedelta(hours=2), 10.0, "pos"), (1, 2, T0, 30.0, "online")])
    rows = customer_stats(history, history.tail(1), fspec).set_index("event_timestamp")
    at, after = rows.loc[T0], rows.loc[T0 + compute.EPSILON]
    assert at.customer_txn_count_1d == 1 and at.customer_amount_mean_1d == 10.0
    assert after.customer_txn_count_1d == 2 and after.customer_amount_mean_1d == 20.0
    assert at.customer_online_share_1d == 0.0 and after.customer_online_share_1d == 0.5
    assert after.customer_distinct_merchants_30d == 2


def test_a_planted_future_transaction_is_never_used(fspec) -> None:
    # given a history, and the same history plus a transaction one minute after T0
    past = tx([(1, 1, T0 - pd.Timedelta(days=1, hours=1), 10.0, "pos"), (1, 1, T0, 20.0, "pos")])
    future = pd.concat(
        [past, tx([(1, 9, T0 + pd.Timedelta(minutes=1), 9999.0, "online")])], ignore_index=True
    )
    # when the rows of the T0 transaction are computed from each
    clean = customer_stats(past, past.tail(1), fspec)
    planted = customer_stats(future, past.tail(1), fspec)
    # then they are identical: nothing after a stamp leaks into it
    pd.testing.assert_frame_equal(clean, planted)
    assert planted.customer_amount_mean_30d.max() < 9999.0


def labels(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["transaction_id", "label_timestamp", "is_fraud"])
    frame["label_timestamp"] = pd.to_datetime(frame["label_timestamp"], utc=True)
    return frame


def test_merchant_fraud_rate_uses_only_labels_that_had_arrived(fspec) -> None:
    # given merchant 7's transactions and labels: one arrived before T0, one arrives after
    history = tx(
        [
            (1, 7, T0 - pd.Timedelta(days=5), 10.0, "pos"),
            (2, 7, T0 - pd.Timedelta(days=4), 10.0, "pos"),
            (3, 7, T0, 10.0, "pos"),
        ]
    )
    ids = history.transaction_id.tolist()
    arrived = labels([(ids[0], T0 - pd.Timedelta(days=1), 1)])
    late = pd.concat([arrived, labels([(ids[1], T0 + pd.Timedelta(hours=1), 0)])])
    target = history.tail(1)
    # when the partition's merchant rows are computed with and without the late label
    before = merchant_stats(history, arrived, target, DAY, fspec)
    after = merchant_stats(history, late, target, DAY, fspec)
    # then the row at T0 (first transaction of the day) sees one fraud label of one...
    at_t0 = after.set_index("event_timestamp").loc[T0]
    assert at_t0.merchant_label_count_30d == 1 and at_t0.merchant_fraud_rate_30d == 1.0
    pd.testing.assert_series_equal(at_t0, before.set_index("event_timestamp").loc[T0])
    assert at_t0.merchant_txn_count_7d == 2  # volume before T0 only
    # ...and the end-of-day row, stamped after the late label arrived, sees both
    end = after.set_index("event_timestamp").loc[compute.day_end(DAY)]
    assert end.merchant_label_count_30d == 2 and end.merchant_fraud_rate_30d == 0.5
    assert end.merchant_txn_count_7d == 3 and end.merchant_as_of == compute.day_end(DAY)


def _land_lake(lake_uri: str, days: int, rows: int) -> list[date]:
    from devtools.simulator import simulate_day, simulate_labels

    spec = load_spec(ROOT / "usecase" / "fraud.yaml")
    first = DAY - timedelta(days=days - 1)
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        lake.stage(
            simulate_day(spec, d, rows=rows).transactions,
            lake.partition_uri(lake_uri, "transactions", d),
        )
        lab = simulate_labels(spec, d, rows=rows, since=first)
        if len(lab):
            lake.stage(lab, lake.partition_uri(lake_uri, "labels", d))
        out.append(d)
    return out


def _snapshot(root: Path) -> tuple[list[str], dict[str, bytes], dict[str, int]]:
    """Every path under ``root`` (folders too), and each Parquet file's bytes and inode."""
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    files = sorted(root.rglob("*.parquet"))
    data = {p.relative_to(root).as_posix(): p.read_bytes() for p in files}
    inodes = {p.relative_to(root).as_posix(): p.stat().st_ino for p in files}
    return paths, data, inodes


def test_partition_tables_are_replaced_not_appended_and_identical_on_rerun(
    tmp_path: Path, fspec
) -> None:
    # given four landed days whose feature tables were built once
    lake_uri = str(tmp_path / "lake")
    root = tmp_path / "features"
    days = _land_lake(lake_uri, days=4, rows=300)
    first = tables.build_partitions(days, lake_uri=lake_uri, features_uri=str(root), fspec=fspec)
    paths_before, bytes_before, inodes_before = _snapshot(root)
    # when the last two days are built again
    rerun = days[-2:]
    second = tables.build_partitions(rerun, lake_uri=lake_uri, features_uri=str(root), fspec=fspec)
    paths_after, bytes_after, inodes_after = _snapshot(root)
    # then the same rows, the same files and the same bytes: nothing appended or added beside
    assert second == {d.isoformat(): first[d.isoformat()] for d in rerun}
    assert paths_after == paths_before
    assert bytes_after == bytes_before
    # the re-run days were replaced (a new file renamed into place), the others left alone
    views = (CUSTOMER_VIEW, MERCHANT_VIEW)
    replaced = {f"{v}/date={d.isoformat()}/data.parquet" for v in views for d in rerun}
    assert {p for p in inodes_after if inodes_after[p] != inodes_before[p]} == replaced
    # each partition is exactly one data file, and no temporary file is left behind
    for view in views:
        for day in days:
            partition = root / view / f"date={day.isoformat()}"
            assert [p.name for p in partition.iterdir()] == ["data.parquet"], partition
    leftovers = [p for p in paths_after if p.endswith(".tmp") or "/." in f"/{p}"]
    assert leftovers == []
    assert len(bytes_after) == len(views) * len(days)
    assert first[days[0].isoformat()][CUSTOMER_VIEW] == 2 * 300  # t and t + 1 µs
    assert tables.existing_partitions(str(root), MERCHANT_VIEW) == days


def test_partitions_resolve_from_range_events_or_latest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLOPS_LAKE_URI", raising=False)
    with pytest.raises(NoPartitionsToCompute):
        resolve_partitions([])
    days = _land_lake(str(tmp_path / "lake"), days=3, rows=50)
    # Nothing computed yet: every published day is owed (B12), whatever the events name.
    assert resolve_partitions([days[0].isoformat()]) == [d.isoformat() for d in days]
    _features(tmp_path, days)
    assert resolve_partitions([]) == [days[-1].isoformat()]
    assert resolve_partitions([days[0].isoformat()]) == [days[0].isoformat()]
    assert resolve_partitions([], days[0].isoformat(), days[1].isoformat()) == [
        d.isoformat() for d in days[:2]
    ]
    with pytest.raises(NoPartitionsToCompute):
        resolve_partitions([], "2020-01-01", "2020-01-02")


def _features(tmp_path: Path, days: list[date]) -> None:
    """What materialize_features' compute step does for ``days``, on the tmp lake."""
    from include.steps.materialize_features import compute_tables

    compute_tables([d.isoformat() for d in days])


def _republish(tmp_path: Path, feed: str, day: date) -> None:
    """A partition published again (a re-delivery, a late batch): a new file, same rows."""
    uri = lake.partition_uri(str(tmp_path / "lake"), feed, day)
    frame = pd.read_parquet(uri)
    Path(uri).unlink()
    lake.stage(frame, uri)


def test_B12_a_day_whose_asset_event_was_dropped_gets_its_features_from_the_next_run(
    tmp_path: Path, monkeypatch
) -> None:
    """The scheduler dropped the event of the last day's transactions (Airflow deletes the
    queue rows of events that arrive while it creates the run): the next run, whatever it
    was triggered by, computes that day too, once."""
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLOPS_LAKE_URI", raising=False)
    days = _land_lake(str(tmp_path / "lake"), days=3, rows=50)
    _features(tmp_path, days[:2])  # the runs the first two days' events started
    named = [days[0].isoformat()]  # e.g. a labels event of the first day
    assert resolve_partitions(named) == [days[0].isoformat(), days[2].isoformat()]
    assert resolve_partitions([]) == [days[2].isoformat()]  # the latest, and owed
    _features(tmp_path, [days[0], days[2]])
    assert resolve_partitions(named) == named  # healed: owed no more


def test_B12_a_day_computed_before_its_transactions_were_published_is_owed_again(
    tmp_path: Path, monkeypatch
) -> None:
    """A labels event computed the day while its transactions were not published yet (no
    transaction rows: no customer table); the transactions' event was then dropped."""
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLOPS_LAKE_URI", raising=False)
    days = _land_lake(str(tmp_path / "lake"), days=3, rows=50)
    last = lake.partition_uri(str(tmp_path / "lake"), "transactions", days[2])
    held = pd.read_parquet(last)
    Path(last).unlink()
    _features(tmp_path, days)
    assert resolve_partitions([days[0].isoformat()]) == [days[0].isoformat()]
    lake.stage(held, last)  # published now; its event never reaches materialize_features
    assert resolve_partitions([days[0].isoformat()]) == [days[0].isoformat(), days[2].isoformat()]
    _features(tmp_path, days[2:])
    assert resolve_partitions([days[0].isoformat()]) == [days[0].isoformat()]
    assert lake.partitions(str(tmp_path / "lake"), "labels") == days[2:]
    _republish(tmp_path, "labels", days[2])  # labels too: either feed's partition counts
    assert resolve_partitions([days[0].isoformat()]) == [days[0].isoformat(), days[2].isoformat()]


def test_B12_a_partition_published_while_its_day_was_computed_is_owed_again(
    tmp_path: Path, monkeypatch
) -> None:
    """The day's marker is written after its tables, so it is newer than a partition
    published mid-computation: what counts is the partition the computation listed."""
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLOPS_LAKE_URI", raising=False)
    days = _land_lake(str(tmp_path / "lake"), days=2, rows=50)
    _features(tmp_path, days[:1])
    real = tables.partition_tables

    def published_meanwhile(day, cache, fspec):  # the ingest publishes mid-computation
        out = real(day, cache, fspec)
        _republish(tmp_path, "transactions", day)
        return out

    monkeypatch.setattr(tables, "partition_tables", published_meanwhile)
    _features(tmp_path, days[1:])
    monkeypatch.setattr(tables, "partition_tables", real)
    assert resolve_partitions([days[0].isoformat()]) == [d.isoformat() for d in days]


# --------------------------------------------------------------- the generic engine
GOLDEN = Path(__file__).parent / "golden"


def test_the_fraud_views_equal_the_hand_written_implementation_they_replace(fspec) -> None:
    """Fraud is unchanged by the move to spec-generated features: the tables of a day equal
    those the hand-written customer/merchant code computed (commit 560df9c, golden/)."""
    history = pd.read_parquet(GOLDEN / "transactions.parquet")
    labels_ = pd.read_parquet(GOLDEN / "labels.parquet")
    day = date(2026, 11, 9)  # the last of the 40 days (golden/make_golden.py.txt)
    target = history[history.event_timestamp.dt.date == day]
    for view in fspec.views:
        got = compute.view_stats(view, history, labels_, target, day, fspec)
        expected = pd.read_parquet(GOLDEN / f"{view.name}.parquet")
        if view.key_type == "string":  # pii since: keys are (pseudonym) strings, in
            expected[view.join_key] = expected[view.join_key].astype(str).astype(object)
            order = list(got.columns[:2])  # their own order: (key, time)
            got = got.sort_values(order, kind="stable").reset_index(drop=True)
            expected = expected.sort_values(order, kind="stable").reset_index(drop=True)
        assert list(got.columns) == list(expected.columns), view.name
        pd.testing.assert_frame_equal(got, expected, rtol=1e-9, atol=1e-12)


GENERIC = """
feeds:
  transactions:
    role: events
    key: id
    timestamp: happened
    columns:
      id: {dtype: string}
      happened: {dtype: timestamp}
      shop: {dtype: string}
      price: {dtype: float, nullable: true, max_null_fraction: 0.5}
      kind: {dtype: string}
  labels:
    role: labels
    key: id
    timestamp: known_at
    columns:
      id: {dtype: string}
      known_at: {dtype: timestamp}
      bad: {dtype: int}
      status: {dtype: string}
labels: {delay_days: {min: 0, max: 1}, maturity_days: 1}
features:
  project: generic
  feature_service: generic_v1
  ttl_days: 5
  entities:
    shop:
      join_key: shop
      view: shop_event_stats
      aggregations:
        - {name: "n_{w}d", function: count, windows: [1, 3]}
        - {name: "sum_{w}d", function: sum, column: price, windows: [1, 3]}
        - {name: "mean_{w}d", function: mean, column: price, windows: [3]}
        - {name: "std_{w}d", function: std, column: price, windows: [3]}
        - {name: "min_{w}d", function: min, column: price, windows: [1, 3]}
        - {name: "max_{w}d", function: max, column: price, windows: [1, 3]}
        - {name: "kinds_{w}d", function: distinct_count, column: kind, windows: [3]}
        - {name: "a_share_{w}d", function: ratio, column: kind, equals: a, windows: [3]}
        - {name: "bad_rate_{w}d", function: mean, source: labels, column: bad, windows: [3]}
        - {name: "labels_{w}d", function: count, source: labels, windows: [3]}
        - {name: "refund_share_{w}d", function: ratio, source: labels, column: status,
           equals: refund, windows: [3]}
model:
  target: bad
  registered_name: generic_bad
  split: {train: 0.7, validation: 0.15, holdout: 0.15}
  primary_metric: pr_auc
  promotion_margin: 0.0
  recall_at_fpr: 0.01
  slice_metric: roc_auc
  max_slice_gap: 0.1
  min_slice_rows: 10
  min_training_rows: 10
  min_positives: 1
  candidates: [xgboost]
  tuning_budget: 1
"""


def _reference(events: pd.DataFrame, lab: pd.DataFrame, shop: str, s: pd.Timestamp, w: int) -> dict:
    """Plain loops over the shop's events in [s - w, s), and its labels known in it."""
    mine = events[
        (events.shop == shop)
        & (events.happened >= s - pd.Timedelta(days=w))
        & (events.happened < s)
    ]
    price = mine.price.dropna()
    known = lab.merge(events[["id", "shop"]], on="id")
    known = known[(known.shop == shop) & (known.known_at >= s - pd.Timedelta(days=w))]
    known = known[known.known_at < s]
    return {
        "n": len(mine),
        "sum": price.sum() if len(price) else np.nan,
        "mean": price.mean() if len(price) else np.nan,
        "std": price.std(ddof=1) if len(price) > 1 else np.nan,
        "min": price.min() if len(price) else np.nan,
        "max": price.max() if len(price) else np.nan,
        "kinds": mine.kind.nunique(),
        "a_share": (mine.kind == "a").mean() if len(mine) else np.nan,
        "bad_rate": known.bad.mean() if len(known) else np.nan,
        "labels": len(known),
        "refund_share": (known.status == "refund").mean() if len(known) else np.nan,
    }


def test_every_aggregation_on_a_string_keyed_entity_matches_a_plain_loop(tmp_path: Path) -> None:
    # given a spec nobody here uses (string keys, nullable prices, labels a day late) and
    # random events with ties and window-edge times
    path = tmp_path / "generic.yaml"
    path.write_text(GENERIC)
    gspec = schema.feature_spec(load_spec(path))
    view = gspec.view("shop_event_stats")
    rng = np.random.default_rng(7)
    n = 500
    at = T0 - pd.to_timedelta(rng.integers(0, 6 * 86_400, n), unit="s")
    at = at.append(pd.DatetimeIndex([T0 - pd.Timedelta(days=1), T0, T0]))
    events = pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(len(at))],
            "happened": at,
            "shop": rng.choice(["north", "south", "east"], len(at)),
            "price": np.where(rng.random(len(at)) < 0.2, np.nan, rng.integers(1, 100, len(at))),
            "kind": rng.choice(["a", "b", "c"], len(at)),
        }
    )
    lab = pd.DataFrame(
        {
            "id": events.id,
            "known_at": events.happened
            + pd.to_timedelta(rng.integers(1, 86_400, len(at)), unit="s"),
            "bad": rng.integers(0, 2, len(at)),
            "status": rng.choice(["refund", "kept", "unknown"], len(at)),
        }
    )
    target = events[events.happened >= T0 - pd.Timedelta(hours=12)]
    # when the view's rows of the target events are computed
    rows = compute.view_stats(view, events, lab, target, DAY, gspec)
    # then each row equals the plain loop over [s - W, s), string keys kept as strings
    assert rows["shop"].map(type).eq(str).all()
    assert len(rows) == 2 * len(target.drop_duplicates(["shop", "happened"]))
    for row in rows.to_dict("records"):
        for agg in view.aggregates:
            ref = _reference(events, lab, row["shop"], row["event_timestamp"], agg.window)
            name = agg.feature.rsplit("_", 1)[0]
            np.testing.assert_allclose(row[agg.feature], ref[name], rtol=1e-9, err_msg=agg.feature)
