"""Given the production profile started from nothing on the eight reference days, when the
loop has run (ingest → validate → materialize → train → gate → deploy), then the tasks ran
on the Celery workers, on both of them; the champion's artifacts are in S3 behind the MLflow
server; the online features are in Redis; and the service answers with the new version."""

from __future__ import annotations

import httpx
import pytest

from scripts.production.trial import ProductionRun
from tests.production.conftest import champion, profile_env, serving_status, task_instances

# The first test also waits for the profile's bootstrap (session fixture `prod`).
pytestmark = pytest.mark.timeout(2700)

LOOP = ("ingest_transactions", "ingest_labels", "materialize_features", "train_model")


def test_loop_ran_on_both_celery_workers(prod: ProductionRun, api) -> None:
    tis = [ti for ti in task_instances(api) if ti["state"] == "success"]
    assert {ti["dag_id"] for ti in tis} >= {*LOOP, "deploy_model"}
    assert {ti["executor"] or "CeleryExecutor" for ti in tis} == {"CeleryExecutor"}
    workers = {ti["hostname"].rsplit("/", 1)[-1] for ti in tis}
    assert workers == {"worker-1", "worker-2"}, workers
    # every stage ran somewhere, and the two workers shared the load
    per_worker = {w: sum(ti["hostname"].endswith(w) for ti in tis) for w in workers}
    assert min(per_worker.values()) >= 5, per_worker


def test_champion_artifacts_are_in_s3_behind_the_mlflow_server(prod: ProductionRun) -> None:
    import boto3
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    version = champion(prod)
    with profile_env(prod):
        client = MlflowClient(prod.url("MLOPS_MLFLOW_PORT"))
        run = client.get_run(version.run_id)
        # the client only knows the server: artifacts go through it (mlflow-artifacts:/)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
        s3 = boto3.client("s3", endpoint_url=prod.url("MLOPS_S3_PORT"))
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow-artifacts")
            for o in page.get("Contents", [])
        ]
        model_files = [k for k in keys if k.endswith("/MLmodel")]
        assert model_files, keys[:20]
        # the registered version's own files are among them, and readable through the server
        local = download_artifacts(
            f"models:/{version.name}/{version.version}",
            tracking_uri=prod.url("MLOPS_MLFLOW_PORT"),
        )
        assert any(p.endswith("MLmodel") for p in _files(local))
        model_id = getattr(version, "model_id", None) or ""
        assert any(model_id in k for k in model_files) or any(version.run_id in k for k in keys), (
            model_id,
            version.run_id,
            model_files[:5],
        )


def test_online_features_are_in_redis(prod: ProductionRun) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=prod.ports["MLOPS_REDIS_PORT"], db=1)
    keys = list(client.scan_iter(count=1000))
    assert len(keys) > 100, len(keys)
    assert all(k.endswith(b"fraud_detection") for k in keys[:50]), keys[:3]


def test_the_service_answers_with_the_new_version(prod: ProductionRun) -> None:
    from include.deployment import checks

    version = champion(prod)
    status = serving_status(prod)
    assert status["ready"] is True, status
    assert str(status["model"]["version"]) == str(version.version)
    with profile_env(prod):
        tx = checks.golden_requests(rows=1)[0]
    token = prod.secrets["MLOPS_SERVING_TOKEN"]
    resp = httpx.post(
        f"{prod.url('MLOPS_SERVING_PORT')}/predict",
        json={"transactions": [tx]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert str(resp.json()["model"]["version"]) == str(version.version)
    assert resp.json()["predictions"][0]["scored"] is True, resp.json()


def _files(root: str) -> list[str]:
    import os

    return [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]
