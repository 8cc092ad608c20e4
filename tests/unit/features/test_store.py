"""The Feast store: config parity, the A7 online guard, the A8 training-set checks.

A small real store (3 simulated days x 200 transactions, tables built, definitions applied)
is shared by the module; each test says what it writes to the online store.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from include import layout
from include.config import get_settings
from include.data import lake
from include.features import schema, store, tables, training_set
from include.spec import load_spec
from include.steps import materialize_features as pipeline
from tests.conftest import ROOT

FIRST = date(2026, 11, 18)
DAYS = [FIRST + timedelta(days=i) for i in range(3)]
ROWS = 200
FSPEC = schema.feature_spec(load_spec(ROOT / "usecase" / "fraud.yaml"))
CUSTOMER = FSPEC.view("customer_transaction_stats")
MERCHANT = FSPEC.view("merchant_daily_stats")


@pytest.fixture(scope="module")
def feast_root(tmp_path_factory):
    from devtools.simulator import simulate_day, simulate_labels

    root = tmp_path_factory.mktemp("feast") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_DATA_ROOT", str(root))
        for var in (
            "MLOPS_LAKE_URI",
            "MLOPS_FEATURES_URI",
            "MLOPS_FEAST_ONLINE_STORE",
            "MLOPS_REDIS_URL",
        ):
            mp.delenv(var, raising=False)
        settings = get_settings()
        spec = load_spec(ROOT / "usecase" / "fraud.yaml")
        for d in DAYS:
            lake.stage(
                simulate_day(spec, d, rows=ROWS).transactions,
                layout.partition_uri(settings.lake_uri, "transactions", d),
            )
            lab = simulate_labels(spec, d, rows=ROWS, since=FIRST)
            if len(lab):
                lake.stage(lab, layout.partition_uri(settings.lake_uri, "labels", d))
        pipeline.compute_tables([d.isoformat() for d in DAYS])
        store.apply_definitions()
        yield root


def _utc(d: date, hour: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def _transactions(root: Path) -> pd.DataFrame:
    lake_uri = str(root / "lake")
    return pd.concat([lake.read_partition(lake_uri, "transactions", d) for d in DAYS])


def _online_as_of(fs, customers: list[str]) -> list:
    rows = [{"customer_id": c, "merchant_id": 1} for c in customers]
    got = fs.get_online_features(
        features=[f"{CUSTOMER.name}:{CUSTOMER.as_of}"], entity_rows=rows
    ).to_dict()
    return got[CUSTOMER.as_of]


def test_feature_store_yaml_matches_the_python_config(feast_root) -> None:
    from feast.repo_config import load_repo_config

    yaml_cfg = load_repo_config(ROOT / "feature_repo", ROOT / "feature_repo" / "feature_store.yaml")
    py_cfg = store.repo_config()
    assert yaml_cfg.project == py_cfg.project == "fraud_detection"
    assert yaml_cfg.registry.path == py_cfg.registry.path == str(feast_root / "feast/registry.db")
    assert yaml_cfg.online_store.type == py_cfg.online_store.type
    assert yaml_cfg.online_store.path == py_cfg.online_store.path
    assert yaml_cfg.offline_store.type == py_cfg.offline_store.type == "file"
    assert (
        yaml_cfg.materialization_config.online_write_batch_size
        == py_cfg.materialization_config.online_write_batch_size
    )


def test_redis_is_selected_by_settings(monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_FEAST_ONLINE_STORE", "redis")
    monkeypatch.setenv("MLOPS_REDIS_URL", "redis://:s3cret@cache:6380/2")
    cfg = store.online_store_config(get_settings())
    assert cfg["type"].endswith("GuardedRedisOnlineStore")
    assert cfg["connection_string"] == "cache:6380,db=2,password=s3cret"
    monkeypatch.setenv("MLOPS_FEAST_ONLINE_STORE", "memcached")
    with pytest.raises(ValueError, match="sqlite' or 'redis"):
        store.online_store_config(get_settings())


def test_A7_an_older_window_never_overwrites_newer_online_values(feast_root, tmp_path) -> None:
    # given customers active on the first and the last day, and a copy of the empty online DB
    # behind Feast's stock SQLite store (the control that shows the fault)
    tx = _transactions(feast_root)
    days = tx.groupby("customer_id")["event_timestamp"].agg(["min", "max"])
    both = days[(days["min"].dt.date == DAYS[0]) & (days["max"].dt.date == DAYS[-1])]
    customers = [str(c) for c in both.index[:5]]
    assert customers, "fixture needs customers active on the first and last day"
    stock_db = tmp_path / "stock.db"
    # SQLite's backup API: the online DB is in WAL mode, its file alone may miss the tables
    with sqlite3.connect(feast_root / "feast/online.db") as src, sqlite3.connect(stock_db) as dst:
        src.backup(dst)
    guarded = store.feature_store()
    stock = _stock_store(stock_db)
    newer = (_utc(DAYS[-1]), _utc(DAYS[-1] + timedelta(days=1), 1))
    older = (_utc(DAYS[0] - timedelta(days=2)), _utc(DAYS[0] + timedelta(days=1)))
    # when the newest window is materialized, then an older one (a backfill)
    for fs in (guarded, stock):
        for start, end in (newer, older):
            with store.pruned_view(
                str(feast_root / "features"),
                feast_root / "feast" / "tmp",
                DAYS[0] - timedelta(days=3),
                DAYS[-1],
            ) as view:
                fs.config.repo_path = view.path
                fs.materialize(start_date=start, end_date=end)
    # then the guarded store still serves the newest rows; the stock one went back in time
    after_newer = [pd.Timestamp(t) for t in _online_as_of(guarded, customers)]
    assert all(t.date() == DAYS[-1] for t in after_newer), after_newer
    stock_values = [pd.Timestamp(t) for t in _online_as_of(stock, customers)]
    assert all(t.date() < DAYS[-1] for t in stock_values), "the stock store no longer regresses?"


def _stock_store(db: Path):
    from feast import FeatureStore

    cfg = store.repo_config()
    return FeatureStore(
        config=cfg.__class__(
            **{
                **cfg.model_dump(by_alias=True, exclude={"online_config", "online_store"}),
                "online_store": {"type": "sqlite", "path": str(db)},
            }
        )
    )


def test_A7_a_late_row_inside_a_materialized_window_reaches_the_online_store(feast_root) -> None:
    # given a materialized store and a later partition holding a late row for a customer,
    # stamped before the end of the already-materialized window but after its online value
    pipeline.materialize_partitions([d.isoformat() for d in DAYS])
    fs = store.feature_store()
    late_day = DAYS[-1] + timedelta(days=1)
    features_uri = str(feast_root / "features")
    row = pd.read_parquet(layout.feature_table_uri(features_uri, CUSTOMER.name, DAYS[-1])).tail(1)
    customer = str(row["customer_id"].iloc[0])
    current = pd.Timestamp(_online_as_of(fs, [customer])[0])
    stamp = max(current, pd.Timestamp(_utc(DAYS[-1], 0))) + pd.Timedelta(seconds=30)
    row["event_timestamp"] = row[CUSTOMER.as_of] = stamp
    row["customer_txn_count_1d"] = 4242
    tables.write_table(row, features_uri, CUSTOMER.name, late_day)
    try:
        # when the late partition is materialized with its look-back window
        pipeline.materialize_partitions([late_day.isoformat()])
        # then the online value moved forward to the late row
        got = fs.get_online_features(
            features=[f"{CUSTOMER.name}:customer_txn_count_1d"],
            entity_rows=[{"customer_id": customer}],
        ).to_dict()
        assert got["customer_txn_count_1d"] == [4242]
    finally:
        shutil.rmtree(Path(layout.feature_table_uri(features_uri, CUSTOMER.name, late_day)).parent)


def _online_rows(root: Path) -> dict[str, list]:
    with sqlite3.connect(root / "feast/online.db") as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            n: sorted(db.execute(f'SELECT entity_key, feature_name, value, event_ts FROM "{n}"'))
            for n in names
        }


def _empty_online_tables(root: Path) -> None:
    """Earlier tests leave newer rows (a late partition since removed) the guard would keep."""
    with sqlite3.connect(root / "feast/online.db") as db:
        for name in _online_rows(root):
            db.execute(f'DELETE FROM "{name}"')


def test_materializing_in_pieces_of_keys_writes_what_one_call_writes(
    feast_root, monkeypatch
) -> None:
    # given every day materialized into emptied online tables with one Feast call per view
    window = (_utc(DAYS[0] - timedelta(days=2)), _utc(DAYS[-1] + timedelta(days=1), 1))
    monkeypatch.setattr(store, "MATERIALIZE_CHUNK_ROWS", 10**9)
    _empty_online_tables(feast_root)
    store.materialize(*window)
    whole = _online_rows(feast_root)
    assert any(whole.values())
    # when the online tables are emptied again and the window loaded in pieces of ~7 rows
    _empty_online_tables(feast_root)
    monkeypatch.setattr(store, "MATERIALIZE_CHUNK_ROWS", 7)
    store.materialize(*window)
    # then the online store holds exactly the same rows
    assert _online_rows(feast_root) == whole


def test_key_chunks_are_sorted_runs_of_distinct_keys_of_bounded_rows() -> None:
    import pyarrow as pa

    # given 60 rows of 9 keys, one key holding 20 of them
    keys = pa.chunked_array([[f"k{i % 8}" for i in range(40)] + ["k9"] * 20])
    # when cut into runs of about 10 rows
    runs = store.key_chunks(keys, 10)
    # then each key is in exactly one run, in sorted order, and a run holds fewer than 10
    # rows besides those of its first key
    flat = [k for run in runs for k in run.to_pylist()]
    assert flat == sorted(set(keys.to_pylist()))
    counts = pd.Series(keys.to_pylist()).value_counts()
    assert len(runs) > 1
    for run in map(pa.Array.to_pylist, runs):
        assert counts[run].sum() - counts[run[0]] < 10
    assert store.key_chunks(pa.chunked_array([[]], type=pa.string()), 10) == []
    assert [r.to_pylist() for r in store.key_chunks([3, 1, 1, 2], 2)] == [[1], [2, 3]]


def _entities(root: Path, n: int = 50) -> pd.DataFrame:
    tx = _transactions(root)
    columns = list(training_set.entity_columns(store.feature_spec_from()))
    return tx[columns].sample(n, random_state=0).reset_index(drop=True)


def test_historical_features_one_row_per_entity_row_in_order_without_leakage(feast_root) -> None:
    entity_df = _entities(feast_root)
    # a duplicate (same keys and time): Feast alone would collapse the pair into one row
    entity_df = pd.concat([entity_df, entity_df.tail(1).assign(amount=1.0)], ignore_index=True)
    out = training_set.historical_features(entity_df, include_as_of=True)
    assert len(out) == len(entity_df)
    pd.testing.assert_frame_equal(out[entity_df.columns], entity_df)
    assert (out[CUSTOMER.as_of] == out["event_timestamp"]).all()  # the row at t itself
    assert (out[MERCHANT.as_of] <= out["event_timestamp"]).all()
    assert out["customer_txn_count_30d"].notna().all()
    assert out["hour_of_day"].tolist() == out["event_timestamp"].dt.hour.tolist()
    assert (
        out["amount_to_customer_mean_30d"].iloc[-1] != out["amount_to_customer_mean_30d"].iloc[-2]
    )
    plain = training_set.historical_features(entity_df)
    assert list(plain.columns) == [
        *entity_df.columns,
        *schema.model_features(store.feature_spec_from()),
    ]


def test_retrieval_runs_on_duckdb_and_gives_the_file_stores_rows(feast_root, monkeypatch) -> None:
    from include.features.offline_store import TYPE, PrunedDuckDBOfflineStore

    # given entity rows of every day, one a duplicate of another's keys and time
    entity_df = _entities(feast_root, 150)
    entity_df = pd.concat([entity_df, entity_df.tail(1).assign(amount=1.0)], ignore_index=True)
    calls = []
    real = PrunedDuckDBOfflineStore.get_historical_features
    monkeypatch.setattr(
        PrunedDuckDBOfflineStore,
        "get_historical_features",
        staticmethod(lambda *a, **kw: calls.append(1) or real(*a, **kw)),
    )
    # when the training read runs (DuckDB) and the same read on Feast's file store (Dask)
    duck = training_set.historical_features(entity_df, include_as_of=True)
    assert calls, "the point-in-time read did not use the DuckDB store"
    assert store.RETRIEVAL_OFFLINE_STORE == TYPE
    monkeypatch.setattr(store, "RETRIEVAL_OFFLINE_STORE", "file")
    dask = training_set.historical_features(entity_df, include_as_of=True)
    # then every row has the same features, in the same order
    pd.testing.assert_frame_equal(duck, dask, check_exact=True)


def test_pieces_of_a_day_give_the_same_rows_as_one_call(feast_root, monkeypatch) -> None:
    # given entity rows of every day with a duplicate (keys and time), fetched in one call
    entity_df = _entities(feast_root, 120)
    entity_df = pd.concat([entity_df, entity_df.tail(1).assign(amount=1.0)], ignore_index=True)
    whole = training_set.historical_features(entity_df, include_as_of=True)
    # when Feast is called on pieces of at most 7 rows (a large day's memory cap)
    monkeypatch.setattr(training_set, "MAX_CHUNK_ROWS", 7)
    pieces = training_set.historical_features(entity_df, include_as_of=True)
    # then every row gets the same features, in the same order
    pd.testing.assert_frame_equal(pieces, whole, check_exact=True)


def test_a_piece_never_exceeds_the_cap_nor_holds_a_duplicate_key_and_time() -> None:
    # given 3 days of rows, many sharing a key and a time (Feast would collapse those)
    stamps = pd.to_datetime(["2026-11-18 10:00", "2026-11-19 10:00", "2026-11-20 10:00"], utc=True)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i % 5}" for i in range(60)],
            "event_timestamp": [stamps[i % 3] for i in range(60)],
        }
    )
    # when it is cut into pieces of at most 4 rows
    pieces = training_set._chunks(frame, 1, "customer_id", 4)
    # then each row is in exactly one piece, no piece exceeds 4 rows or repeats (key, time)
    assert sorted(i for p in pieces for i in p.index) == list(range(60))
    assert max(len(p) for p in pieces) <= 4
    assert not any(p.duplicated(["customer_id", "event_timestamp"]).any() for p in pieces)


def test_A8_entity_row_before_every_feature_row_raises_instead_of_vanishing(feast_root) -> None:
    entity_df = _entities(feast_root, 5)
    early = entity_df.copy()
    early.loc[0, "event_timestamp"] = pd.Timestamp(_utc(DAYS[0] - timedelta(days=60)))
    with pytest.raises(training_set.FeatureRowsDropped, match="dropped|no .* row"):
        training_set.historical_features(early)
    unknown = entity_df.copy()
    unknown.loc[0, "customer_id"] = "cus_9999999"
    with pytest.raises(training_set.FeatureRowsDropped, match="customer_id"):
        training_set.historical_features(unknown)
    naive = entity_df.assign(event_timestamp=entity_df["event_timestamp"].dt.tz_localize(None))
    with pytest.raises(training_set.EntityFrameInvalid, match="tz-aware"):
        training_set.historical_features(naive)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Return as soon as 127.0.0.1:``port`` accepts a connection; fail the test clearly if
    ``proc`` exits first or nothing listens within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                pytest.fail(f"nothing accepted connections on port {port} in {timeout} s: {exc}")
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs a redis-server binary")
def test_A7_redis_guard_keeps_newest_and_rewrites_equal_stamps(feast_root, monkeypatch) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        monkeypatch.setenv("MLOPS_FEAST_ONLINE_STORE", "redis")
        monkeypatch.setenv("MLOPS_REDIS_URL", f"redis://127.0.0.1:{port}/0")
        _wait_for_port(port, proc)
        fs = store.feature_store()
        view = fs.get_feature_view(CUSTOMER.name)
        fs._get_provider().online_store.update(fs.config, [], [view], [], [], False)
        newer = _row(7, _utc(DAYS[-1], 12), count=2)
        fs.write_to_online_store(CUSTOMER.name, newer)
        fs.write_to_online_store(CUSTOMER.name, _row(7, _utc(DAYS[0], 12), count=1))
        assert _count(fs, 7) == 2  # the older row was refused
        fs.write_to_online_store(CUSTOMER.name, _row(7, _utc(DAYS[-1], 12), count=3))
        assert _count(fs, 7) == 3  # an equal stamp (a recomputed partition) is rewritten
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _row(customer: int, ts: datetime, count: int) -> pd.DataFrame:
    view = store.feature_spec_from().view(CUSTOMER.name)
    row = {name: (count if kind == "int" else 1.0) for name, kind in view.columns.items()}
    row.update({"customer_id": customer, "event_timestamp": ts, view.as_of: ts})
    return pd.DataFrame([row])


def _count(fs, customer: int) -> int:
    got = fs.get_online_features(
        features=[f"{CUSTOMER.name}:customer_txn_count_1d"],
        entity_rows=[{"customer_id": customer}],
    ).to_dict()
    return got["customer_txn_count_1d"][0]


def test_the_checks_behind_the_helper_fail_on_stale_or_future_rows() -> None:
    # given Feast's answer for two entity rows and the stamps it should have picked
    t = pd.Timestamp("2026-11-20 12:00", tz="UTC")
    expected = pd.DataFrame(
        {
            "__entity_row": [0, 1],
            "event_timestamp": [t, t],
            CUSTOMER.as_of: [t, t],
            MERCHANT.as_of: [t, t],
        }
    )
    answer = expected.copy()
    training_set._check_as_of(answer, expected, FSPEC)  # the right rows pass
    stale = answer.assign(**{CUSTOMER.as_of: [t, t - pd.Timedelta(hours=1)]})
    with pytest.raises(training_set.FeatureRowsStale):
        training_set._check_as_of(stale, expected, FSPEC)
    future = answer.assign(**{MERCHANT.as_of: [t, t + pd.Timedelta(seconds=1)]})
    with pytest.raises(training_set.FeatureLeakage):
        training_set._check_no_leakage(future, FSPEC)
