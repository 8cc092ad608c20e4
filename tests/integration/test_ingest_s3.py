"""The same ingest DAG against S3 (a moto server on loopback): landing, lake and quarantine
are ``s3://`` URIs, as in the production setup."""

from __future__ import annotations

import json
from datetime import date

import pytest

from devtools.simulator import land
from include import storage
from include.data import lake
from include.spec import load_spec
from tests.integration.conftest import run_dag, task_states

pytestmark = pytest.mark.e2e
DAY = date(2026, 11, 20)


@pytest.fixture
def s3(data_root, monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.conftest import _free_port

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "MLOPS_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLOPS_LANDING_URI": "s3://landing",
        "MLOPS_LAKE_URI": "s3://lake/prod",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=env["MLOPS_S3_ENDPOINT_URL"])
    client.create_bucket(Bucket="landing")
    client.create_bucket(Bucket="lake")
    yield client
    server.stop()


def test_clean_and_faulty_batches_on_s3(s3, mailbox, dagbag) -> None:
    spec = load_spec()
    # given a clean batch landed in S3, when ingested, then the partition is in S3
    land(spec, "transactions", DAY, rows=1000)
    dr = run_dag(dagbag, "ingest_transactions", batch_date=DAY.isoformat())
    assert str(dr.state) == "success", task_states(dr)
    assert lake.partition_row_counts("s3://lake/prod", "transactions") == {DAY.isoformat(): 1000}
    assert mailbox.messages == []
    # given a faulty batch for the next day, it ends in S3 quarantine with its evidence
    nxt = date(2026, 11, 21)
    (landed,) = land(spec, "transactions", nxt, rows=1000, fault="header_only")
    raw = storage.read_bytes(landed)
    dr = run_dag(dagbag, "ingest_transactions", batch_date=nxt.isoformat())
    assert str(dr.state) == "failed"
    keys = [o.uri for o in storage.list_objects(f"s3://lake/prod/quarantine/transactions/{nxt}")]
    (raw_copy,) = [k for k in keys if "/raw/" in k]
    assert storage.read_bytes(raw_copy) == raw and not storage.exists(landed)
    (result_uri,) = [k for k in keys if k.endswith("/validation_result.json")]
    result = json.loads(storage.read_bytes(result_uri))
    assert not result["success"]
    assert any(k.endswith("/data_docs/index.html") for k in keys)
    assert len(mailbox.messages) == 1 and "s3://lake/prod/quarantine" in mailbox.body(
        mailbox.messages[0]
    )
    assert lake.partition_row_counts("s3://lake/prod", "transactions") == {DAY.isoformat(): 1000}


def test_feature_tables_live_on_s3_like_local_ones(s3, monkeypatch, data_root) -> None:
    """The offline feature tables are written to and read from S3 (``MLOPS_FEATURES_URI``):
    the same partitions and the same rows as a local features folder."""
    from datetime import timedelta

    from devtools.simulator import simulate_day, simulate_labels
    from include import layout
    from include.config import get_settings
    from include.features import schema, store, tables
    from include.steps.materialize_features import compute_tables

    spec = load_spec()
    days = [DAY - timedelta(days=i) for i in (2, 1, 0)]
    s3.create_bucket(Bucket="features")
    monkeypatch.setenv("MLOPS_FEATURES_URI", "s3://features/offline")
    settings = get_settings()
    for d in days:
        lake.stage(
            simulate_day(spec, d, rows=300).transactions,
            layout.partition_uri(settings.lake_uri, "transactions", d),
        )
        lake.stage(
            simulate_labels(spec, d, rows=300, since=days[0]),
            layout.partition_uri(settings.lake_uri, "labels", d),
        )
    summary = compute_tables([d.isoformat() for d in days])
    fspec = schema.feature_spec(spec)
    views = [v.name for v in fspec.views]
    for view in views:
        assert tables.existing_partitions("s3://features/offline", view) == days
    # the same computation into a local folder gives the same rows
    local = tables.build_partitions(
        days, lake_uri=settings.lake_uri, features_uri=str(data_root / "f"), fspec=fspec
    )
    assert local == summary
    scratch = data_root / "scratch"
    with (
        store.pruned_view(settings.features_uri, scratch, days[0], days[-1]) as remote,
        store.pruned_view(str(data_root / "f"), scratch, days[0], days[-1]) as here,
    ):
        assert set(remote.tables) == set(here.tables) == set(views)
        for view in views:
            assert remote.tables[view].equals(here.tables[view])
