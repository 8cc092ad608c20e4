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
