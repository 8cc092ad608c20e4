"""Tier 3: the serving path's feature lookup (``serving.online``) against Feast itself.

The reader decodes Feast's online store without Feast, so every check compares it with Feast:
its wire format (entity keys, ``Value`` protos, Redis field names and stamps) against Feast's
own functions; its answers against ``include.features.training_set.online_features`` (Feast's
``get_online_features``) and the point-in-time training set on the session's platform
(SQLite), and on a small store of our own materialized into SQLite and into the machine's
Redis (C4: what serving reads is what training read). Unknown and expired entities are
flagged, never silently scored (D3); a store that can not be read raises ``StoreUnavailable``,
which is not "entity missing" (B9).

Expiry: Feast 0.67's ``get_online_features`` does not apply the views' TTL (only its
pre-computed vector path does), so Feast serves a row older than the TTL as present. The
reader keeps Feast's values but flags the row ``expired`` by the TTL rule of the training
set's point-in-time join; the own-store tests show both answers side by side on rows older
than the TTL by the wall clock, and a test pins ``now`` for the boundary.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.config import get_settings
from include.data import lake
from include.features import schema, store, tables, training_set
from serving import online
from serving.online import EXPIRED, MISSING, OnlineFeatures, StoreUnavailable
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
SAMPLE = 300  # real transactions of the newest day per parity check
UNKNOWN = 9_999_999  # an id no simulated customer or merchant has
EVENTS_FEED = "transactions"  # the fraud spec's feed of scored events
REDIS_URL = os.environ.get("MLOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


# ------------------------------------------------------------------------- wire format
def test_entity_keys_are_feasts_bytes() -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    for value in (0, 1, 17, -5, 2**63 - 1, -(2**63), np.int64(42)):
        want = serialize_entity_key(
            EntityKey(join_keys=["customer_id"], entity_values=[Value(int64_val=int(value))]),
            entity_key_serialization_version=3,
        )
        assert online.serialize_entity_key({"customer_id": value}) == want
    both = EntityKey(
        join_keys=["merchant_id", "customer_id", "ü_key"],
        entity_values=[Value(int64_val=3), Value(int64_val=9), Value(string_val="naïve")],
    )
    assert online.serialize_entity_key(
        {"merchant_id": 3, "customer_id": 9, "ü_key": "naïve"}
    ) == serialize_entity_key(both, entity_key_serialization_version=3)
    for bad in (1.0, True, None):
        with pytest.raises(TypeError):
            online.serialize_entity_key({"customer_id": bad})


def test_values_decode_as_feast_reads_them() -> None:
    from feast.protos.feast.types.Value_pb2 import Null, Value
    from feast.type_map import NULL_TIMESTAMP_INT_VALUE, feast_value_type_to_python_type

    cases = [
        *(Value(int64_val=v) for v in (0, 1, -1, 300, 2**63 - 1, -(2**63))),
        *(Value(double_val=v) for v in (0.0, -0.0, 1.5, -2.25e-300, math.inf, math.nan)),
        *(Value(float_val=v) for v in (0.0, 0.1, -3.5e38)),
        *(Value(unix_timestamp_val=v) for v in (0, 1_796_083_200, NULL_TIMESTAMP_INT_VALUE)),
        Value(),  # what Feast's materialization writes for a null
    ]
    for proto in cases:
        want = feast_value_type_to_python_type(proto)
        got = online.decode_value(proto.SerializeToString())
        if isinstance(want, datetime):
            want = int(want.timestamp())
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), proto
        else:
            assert got == want and type(got) is type(want), (proto, got, want)
    assert online.decode_value(None) is None
    # null_val: Feast never writes it, its servers read it as null (feature_server_utils);
    # only feast_value_type_to_python_type returns the enum's 0
    assert online.decode_value(Value(null_val=Null.NULL).SerializeToString()) is None
    with pytest.raises(online.ValueDecodeError, match="field 2"):
        online.decode_value(Value(string_val="x").SerializeToString())


def test_redis_fields_and_stamps_are_feasts() -> None:
    import mmh3
    from feast.infra.online_stores.helpers import _mmh3
    from google.protobuf.timestamp_pb2 import Timestamp

    for text in ("", "a", "ab", "abc", "abcd", "abcde", "customer_transaction_stats:hour", "ü∂"):
        assert online.murmur3_32(text.encode()) == mmh3.hash(text, signed=False), text
    for view, feature in (("merchant_daily_stats", "merchant_fraud_rate_30d"), ("v", "ü")):
        assert online.redis_field(view, feature) == _mmh3(f"{view}:{feature}")
    for seconds, nanos in ((0, 0), (1_796_083_200, 1000), (1_796_083_139, 999_999_999)):
        raw = Timestamp(seconds=seconds, nanos=nanos).SerializeToString()
        # what RedisOnlineStore._get_features_for_entity makes of it
        want = datetime.fromtimestamp(seconds + nanos / 1e9, tz=UTC)
        assert online.decode_timestamp(raw) == want


def test_sqlite_stamps_round_trip_as_in_feast_in_any_time_zone(monkeypatch) -> None:
    from feast.infra.online_stores.sqlite import adapt_datetime_epoch, convert_timestamp

    stamp = datetime(2026, 11, 30, 23, 59, 59)  # naive UTC, as Feast's writers pass it
    for zone in ("UTC", "Asia/Kathmandu", "America/St_Johns"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        stored = adapt_datetime_epoch(stamp)
        want = convert_timestamp(str(stored).encode()).replace(tzinfo=UTC)
        assert online.sqlite_event_ts(stored) == want == stamp.replace(tzinfo=UTC), zone
    monkeypatch.delenv("TZ")
    time.tzset()


def test_importing_the_reader_costs_no_feast_and_no_pandas() -> None:
    code = (
        "import sys, serving.online; "
        "print(sorted(m for m in ('feast', 'pandas', 'redis', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ the session platform
def _newest_transactions(n: int = SAMPLE) -> pd.DataFrame:
    settings = get_settings()
    day = lake.partitions(settings.lake_uri, EVENTS_FEED)[-1]
    tx = lake.read_partition(settings.lake_uri, EVENTS_FEED, day)
    return tx.sample(min(n, len(tx)), random_state=7).reset_index(drop=True)


def _views(fspec: schema.FeatureSpec) -> tuple[schema.View, schema.View]:
    """The fraud spec's customer and merchant views (and no other)."""
    assert [v.entity for v in fspec.views] == ["customer", "merchant"], fspec.views
    return fspec.view("customer_transaction_stats"), fspec.view("merchant_daily_stats")


def _amount(fspec: schema.FeatureSpec) -> str:
    """The fraud spec's one request field besides keys and time."""
    (amount,) = fspec.request_fields
    return amount


def _key(view: schema.View, value) -> int | str:
    """A key as the online store holds it: a pii key (the customer) is its pseudonym."""
    return str(value) if view.key_type == "string" else int(value)


def _requests(tx: pd.DataFrame) -> list[dict]:
    """Request rows (named by the spec) for the transactions, plus unknown entities."""
    fspec = store.feature_spec_from()
    customer, merchant = _views(fspec)
    amount = _amount(fspec)
    rows = [
        {
            customer.join_key: _key(customer, r[customer.join_key]),
            merchant.join_key: _key(merchant, r[merchant.join_key]),
            amount: float(r[amount]),
            fspec.event_ts: r[fspec.event_ts].to_pydatetime(),
        }
        for _, r in tx.iterrows()
    ]
    known = rows[0]
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    unknown = [
        {**known, customer.join_key: _key(customer, UNKNOWN), fspec.event_ts: at},
        {**known, merchant.join_key: _key(merchant, UNKNOWN), fspec.event_ts: at},
        {
            **known,
            customer.join_key: _key(customer, UNKNOWN),
            merchant.join_key: _key(merchant, UNKNOWN),
            amount: 7.0,
        },
    ]
    return rows + unknown


def _assert_same_as_feast(ours: list[online.Assembled], feast: dict[str, list]) -> None:
    """Value for value (null == NaN) and the same stored rows (the ``*_as_of`` stamps)."""
    fspec = store.feature_spec_from()
    names = schema.model_features(fspec)
    assert all(list(a.values) == names for a in ours)
    for name in names:
        want = np.array([math.nan if v is None else float(v) for v in feast[name]])
        np.testing.assert_array_equal([a.values[name] for a in ours], want, err_msg=name)
    for entity, column in ((v.entity, v.as_of) for v in _views(fspec)):
        got = [a.as_of[entity] and a.as_of[entity].replace(microsecond=0) for a in ours]
        assert got == [training_set.as_timestamp(v) for v in feast[column]], column


def test_C4_lookup_equals_feasts_online_features_value_for_value(platform) -> None:
    # given real transactions of the newest validated day and three with unknown entities
    rows = _requests(_newest_transactions())
    # when the reader and Feast look them up in the platform's SQLite online store
    with OnlineFeatures.open() as reader:
        ours = reader.lookup(rows)
    feast = training_set.online_features(rows)
    # then every model feature and every stored row's stamp are Feast's
    _assert_same_as_feast(ours, feast)
    assert sum(a.scorable for a in ours) == len(rows) - 3  # the platform's rows are fresh
    hours = [r[store.feature_spec_from().event_ts].astimezone(UTC).hour for r in rows]
    assert [a.values["hour_of_day"] for a in ours] == hours


def test_C4_lookup_equals_the_training_set_at_the_same_time(platform) -> None:
    # given transactions scored just after the last materialized day: the point-in-time
    # join at that time picks the rows the online store holds
    tx = _newest_transactions(40).drop_duplicates("customer_id")
    at = pd.Timestamp(platform.days[-1] + timedelta(days=1), tz="UTC") + pd.Timedelta(minutes=30)
    entity_df = tx.assign(event_timestamp=at)
    # when training reads them and serving looks them up at that time
    offline = training_set.historical_features(entity_df, include_as_of=True)
    with OnlineFeatures.open() as reader:
        ours = reader.lookup(_requests(entity_df)[: len(entity_df)], now=at.to_pydatetime())
    # then the features are the training set's, from the same stored rows
    for name in schema.model_features(store.feature_spec_from()):
        np.testing.assert_array_equal(
            [a.values[name] for a in ours], offline[name].astype("float64"), err_msg=name
        )
    customer, merchant = _views(store.feature_spec_from())
    assert [a.as_of["customer"] for a in ours] == list(offline[customer.as_of].dt.floor("s"))
    assert [a.as_of["merchant"] for a in ours] == list(offline[merchant.as_of])
    assert all(a.scorable for a in ours)


def test_D3_unknown_entities_are_flagged_missing_never_scored(platform) -> None:
    fspec = store.feature_spec_from()
    rows = _requests(_newest_transactions(1))[1:]  # the three unknown ones
    with OnlineFeatures.open() as reader:
        customer, merchant, both = reader.lookup(rows)
    assert customer.unscored == {"customer": MISSING} and customer.as_of["customer"] is None
    assert merchant.unscored == {"merchant": MISSING} and merchant.as_of["customer"] is not None
    assert both.unscored == {"customer": MISSING, "merchant": MISSING}
    assert not (customer.scorable or merchant.scorable or both.scorable)
    customer_view, _ = _views(fspec)
    customer_cols = [f for f in customer_view.features if f in customer.values]
    assert customer_cols and all(math.isnan(customer.values[f]) for f in customer_cols)
    assert math.isnan(customer.values[f"amount_to_customer_mean_{customer_view.longest_window}d"])
    assert not math.isnan(merchant.values["customer_txn_count_30d"])
    assert math.isnan(merchant.values["merchant_fraud_rate_30d"])


def test_D3_a_row_older_than_the_ttl_is_flagged_expired_with_feasts_values(platform) -> None:
    # given fresh rows, looked up at a time when their stored rows are past the TTL
    rows = _requests(_newest_transactions(50))[:-3]
    with OnlineFeatures.open() as reader:
        fresh = reader.lookup(rows)
        newest = max(max(a.as_of.values()) for a in fresh)
        oldest = min(min(a.as_of.values()) for a in fresh)
        later = reader.lookup(rows, now=newest + reader.ttl + timedelta(seconds=1))
        boundary = reader.lookup(rows, now=oldest + reader.ttl)
        with pytest.raises(online.RequestRowInvalid, match="tz-aware"):
            reader.lookup(rows, now=datetime(2026, 1, 1))
    # then every transaction is flagged expired, with the values Feast serves (it does not
    # apply the TTL online), and a row exactly TTL old is still usable (training's rule)
    assert all(a.scorable for a in fresh)
    assert all(a.unscored == {"customer": EXPIRED, "merchant": EXPIRED} for a in later)
    _assert_same_as_feast(later, training_set.online_features(rows))
    assert all(a.scorable for a in boundary)


def test_concurrent_lookups_give_the_sequential_answers(platform) -> None:
    rows = _requests(_newest_transactions(200))
    with OnlineFeatures.open() as reader:
        want = reader.lookup(rows)
        got: dict[int, list] = {}
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                got[i] = [reader.lookup([r])[0] for r in rows[i::8]]
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    for i in range(8):
        for a, b in zip(got[i], want[i::8], strict=True):
            np.testing.assert_array_equal(list(a.values.values()), list(b.values.values()))
            assert (a.as_of, a.unscored) == (b.as_of, b.unscored)


def test_features_are_ordered_as_the_model_asks(platform) -> None:
    rows = _requests(_newest_transactions(5))
    with OnlineFeatures.open() as reader:
        batch = reader.lookup(rows)
        names = list(reversed(reader.feature_names))
    matrix = online.feature_matrix(batch, names, dtype=np.float32)
    assert matrix.shape == (len(rows), len(names)) and matrix.dtype == np.float32
    assert matrix[0, 0] == np.float32(batch[0].values[names[0]])
    np.testing.assert_array_equal(
        online.feature_vector(batch[1], names), [batch[1].values[n] for n in names]
    )
    with pytest.raises(online.FeatureNotServed, match="customer_age"):
        online.feature_vector(batch[0], [*names, "customer_age"])


def test_request_rows_are_checked_before_any_read(platform) -> None:
    fspec = store.feature_spec_from()
    customer, merchant = _views(fspec)
    amount = _amount(fspec)
    row = _requests(_newest_transactions(1))[0]
    bad = [
        ({k: v for k, v in row.items() if k != amount}, r"lacks \['amount'\]"),
        ({**row, customer.join_key: 12.0}, "strings"),  # a pii key: its pseudonym, a string
        ({**row, merchant.join_key: "7"}, "integers"),
        ({**row, amount: None}, "not a number"),
        ({**row, fspec.event_ts: row[fspec.event_ts].replace(tzinfo=None)}, "tz-aware"),
    ]
    with OnlineFeatures.open() as reader:
        assert reader.lookup([]) == []
        for request, message in bad:
            with pytest.raises(online.RequestRowInvalid, match=message):
                reader.lookup([row, request])


def test_B9_a_store_that_can_not_be_read_is_not_a_missing_entity(platform, tmp_path) -> None:
    settings = get_settings()
    # no store file at all (a wrong data root, never materialized)
    with pytest.raises(StoreUnavailable, match="no online store"):
        OnlineFeatures.open(dataclasses.replace(settings, data_root=tmp_path / "none"))
    # a file without the views' tables
    empty = tmp_path / "empty" / "feast" / "online.db"
    empty.parent.mkdir(parents=True)
    sqlite3.connect(empty).close()
    with pytest.raises(StoreUnavailable, match="materialize"):
        OnlineFeatures.open(dataclasses.replace(settings, data_root=empty.parents[1]))
    # Redis down: refused fast, the password kept out of the message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    down = dataclasses.replace(
        settings, feast_online_store="redis", redis_url=f"redis://:s3cret@127.0.0.1:{closed}/0"
    )
    start = time.perf_counter()
    with pytest.raises(StoreUnavailable, match="Redis") as caught:
        OnlineFeatures.open(down, timeout_s=0.2)
    assert time.perf_counter() - start < 2
    assert "s3cret" not in str(caught.value)


# --------------------------------------------------------------- a store of our own
def _redis_reachable() -> bool:
    from urllib.parse import urlparse

    url = urlparse(REDIS_URL)
    try:
        with socket.create_connection((url.hostname, url.port or 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _own_store(platform, root: Path, tx: pd.DataFrame, stale: dict[str, set[int]]) -> None:
    """The platform's feature tables for the entities of ``tx`` into ``root`` (those in
    ``stale`` moved back by the TTL + 2 days), applied and materialized into the store the
    settings name, through Feast and the guarded stores."""
    fspec = store.feature_spec_from()
    keep = {v.name: (v.join_key, set(tx[v.join_key])) for v in _views(fspec)}
    shift = pd.Timedelta(days=fspec.ttl_days + 2)
    stamps = []
    for view, (key, ids) in keep.items():
        stamp_cols = [schema.TIMESTAMP, *schema.as_of_columns(fspec)]
        for day in platform.days:
            uri = Path(platform.root / "features" / view / f"date={day}" / "data.parquet")
            if not uri.exists():
                continue
            frame = pd.read_parquet(uri)
            frame = frame[frame[key].isin(ids)].copy()
            old = frame[key].isin(stale.get(view, set()))
            for col in (c for c in stamp_cols if c in frame.columns):
                frame.loc[old, col] = frame.loc[old, col] - shift
            tables.write_table(frame, str(root / "features"), view, day)
            stamps += list(frame[schema.TIMESTAMP])
    store.apply_definitions()
    store.materialize(min(stamps) - timedelta(seconds=1), max(stamps) + timedelta(seconds=1))


def _redis_keys(tx: pd.DataFrame) -> list[bytes]:
    fspec = store.feature_spec_from()
    project = fspec.project.encode()
    return [
        online.serialize_entity_key({view.join_key: _key(view, v)}) + project
        for view in _views(fspec)
        for v in tx[view.join_key].unique()
    ]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_C4_D3_own_store_feast_serves_stale_rows_the_reader_flags_them(
    platform, tmp_path, monkeypatch, backend
) -> None:
    if backend == "redis" and not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS_URL} (set MLOPS_TEST_REDIS_URL)")
    # given a fresh data root over a few of the platform's entities, some moved back past
    # the TTL, materialized by Feast (through the guarded stores) into SQLite or Redis
    fspec = store.feature_spec_from()
    customer, merchant = _views(fspec)
    tx = _newest_transactions(2000).drop_duplicates(customer.join_key).head(30)
    root = tmp_path / "data"
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(root))
    monkeypatch.setenv("MLOPS_FEAST_ONLINE_STORE", backend)
    monkeypatch.setenv("MLOPS_REDIS_URL", REDIS_URL)
    stale = {
        customer.name: set(tx[customer.join_key].head(5)),
        merchant.name: set(tx[merchant.join_key].iloc[10:12]),
    }
    client = None
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.delete(*_redis_keys(tx))  # a guarded store never overwrites newer leftovers
    try:
        _own_store(platform, root, tx, stale)
        rows = _requests(tx)
        # when the reader and Feast (at the wall clock) look them up
        with OnlineFeatures.open() as reader:
            assert type(reader.store).__name__.lower().startswith(backend)
            ours = reader.lookup(rows)
        feast = training_set.online_features(rows)
    finally:
        if client is not None:
            client.delete(*_redis_keys(tx))
            client.close()
    # then the values and stored rows are Feast's, stale ones included
    _assert_same_as_feast(ours, feast)
    for i, (a, r) in enumerate(zip(ours, rows, strict=True)):
        want = {}
        for entity, key, view, probe in (
            ("customer", customer.join_key, customer.name, "customer_txn_count_30d"),
            ("merchant", merchant.join_key, merchant.name, "merchant_txn_count_7d"),
        ):
            if r[key] in (UNKNOWN, str(UNKNOWN)):
                want[entity] = MISSING
            elif r[key] in stale[view]:
                want[entity] = EXPIRED
                assert feast[probe][i] is not None  # Feast serves it as present
        assert a.unscored == want, (i, r)
    assert sum(a.unscored.get("customer") == EXPIRED for a in ours) >= 5
    assert sum(a.unscored.get("merchant") == EXPIRED for a in ours) >= 2
    assert sum(a.scorable for a in ours) >= 15
    if backend == "sqlite":  # the reader's path is the one the Feast config names
        assert store.online_store_config(get_settings())["path"] == str(reader.store.path)
