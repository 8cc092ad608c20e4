"""Tier 3: ``deploy_model`` end to end against a real stable scoring service.

A copy of the trained platform (tests/platform.py), the stable service started from the
source as ``make run`` starts it (``bentoml serve serving.service:ScoringService``), and the
DAG run with ``dag.test()``: it builds the Bento, serves it privately for the checks,
switches the stable service and watches it. Then: a version switch under continuous
requests (D6: zero non-2xx), a rollback by Param, and a forced failing pre-traffic check
(the old version keeps serving, the run fails, one mail says how to roll back).
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import Counter

import httpx
import pytest
import yaml

from include.deployment.candidate import free_port
from tests.conftest import Mailbox
from tests.integration.conftest import predict_one, run_dag, stable_service, task_states
from tests.integration.test_ingest_dag import _asset_events
from tests.platform import copy_platform, use_platform

pytestmark = pytest.mark.e2e


@pytest.fixture
def deploy_env(trained_platform, tmp_path, monkeypatch):
    """A private platform copy, fast deploy limits, and the stable service running."""
    from serving.auth import ensure_token, token_path

    plat = use_platform(copy_platform(trained_platform, tmp_path / "data"), monkeypatch)
    raw = yaml.safe_load(plat.spec_path.read_text())
    raw.setdefault("serving", {}).update(watch_seconds=2, p99_ms=200)
    plat.spec_path.write_text(yaml.safe_dump(raw))
    port = free_port()
    monkeypatch.setenv("MLOPS_SERVING_URL", f"http://127.0.0.1:{port}")
    token = ensure_token(token_path())
    with stable_service(port, tmp_path / "stable.log") as url:
        yield plat, url, token


def _serving(url: str) -> str | None:
    model = httpx.get(f"{url}/status", timeout=5).json().get("model") or {}
    return None if model.get("version") is None else str(model["version"])


def _second_version(plat) -> str:
    """Register the champion's model again as a new version (same files and tags): a
    deployable version that is not the champion, for pins and rollbacks."""
    from mlflow import MlflowClient

    from include.spec import load_spec

    name = load_spec().model.registered_name
    client = MlflowClient()
    v1 = client.get_model_version(name, plat.champion_version)
    tags = {k: v for k, v in v1.tags.items() if not k.startswith("deploy.")}
    v2 = client.create_model_version(name, v1.source, run_id=v1.run_id, tags=tags)
    for _ in range(50):
        if client.get_model_version(name, v2.version).status == "READY":
            break
        time.sleep(0.1)
    return str(v2.version)


class _Load(threading.Thread):
    """Continuous single-transaction requests on one keep-alive connection."""

    def __init__(self, url: str, token: str, tx: dict) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.tx = url, token, tx
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as http:
            while not self.stop.is_set():
                try:
                    resp = http.post("/predict", json={"transactions": [self.tx]})
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                self.statuses[resp.status_code] += 1
                if resp.status_code == 200:
                    self.versions[str(resp.json()["model"]["version"])] += 1


def test_D6_deploy_then_switch_under_load_then_roll_back_by_param(
    deploy_env, dagbag, mailbox: Mailbox
) -> None:
    from mlflow import MlflowClient

    from include.deployment import checks, history
    from include.spec import load_spec

    plat, url, token = deploy_env
    spec = load_spec()
    name = spec.model.registered_name
    assert _serving(url) is None
    assert httpx.get(f"{url}/readyz", timeout=5).status_code == 503  # nothing deployed yet

    # when the champion is deployed
    first = run_dag(dagbag, "deploy_model")
    assert str(first.state) == "success", task_states(first)
    # then the stable address serves it, with the token only
    assert _serving(url) == plat.champion_version
    # and the watch's canary requests were answered but not captured (capture flushes
    # every 2 s): monitoring sees client traffic only
    time.sleep(3)
    capture = plat.root / "lake" / "capture"
    assert not list(capture.rglob("*.jsonl")), "deployment canaries reached the capture"
    tx = checks.golden_requests(spec, rows=1)[0]
    resp = predict_one(url, token, tx)
    assert resp.status_code == 200, resp.text
    assert str(resp.json()["model"]["version"]) == plat.champion_version
    assert httpx.post(f"{url}/predict", json={"transactions": [tx]}, timeout=10).status_code == 401
    # and the deployment is recorded: alias, tags, lake record, Asset event
    client = MlflowClient()
    deployed = client.get_model_version_by_alias(name, spec.serving.deployed_alias)
    assert str(deployed.version) == plat.champion_version
    assert deployed.tags["deploy.outcome"] == "serving"
    assert deployed.tags["deploy.dag_run_id"] == first.run_id
    events = _asset_events("deployed_model", first)
    assert len(events) == 1 and events[0]["version"] == plat.champion_version, events
    assert mailbox.messages == []

    # when another version is pinned while clients keep sending requests (D6)
    v2 = _second_version(plat)
    load = _Load(url, token, tx)
    load.start()
    try:
        time.sleep(1.0)
        pinned = run_dag(dagbag, "deploy_model", version=v2)
        time.sleep(1.0)
    finally:
        load.stop.set()
        load.join(15)
    assert str(pinned.state) == "success", task_states(pinned)
    assert _serving(url) == v2
    # then no request failed across the switch, and both versions answered
    assert not load.errors, load.errors[:3]
    assert set(load.statuses) == {200}, load.statuses
    assert set(load.versions) == {plat.champion_version, v2}, load.versions
    assert sum(load.statuses.values()) > 50, load.statuses
    # and client traffic is captured, with the version that answered each request
    time.sleep(3)
    captured = [
        json.loads(line)
        for part in capture.rglob("*.jsonl")
        for line in part.read_text().splitlines()
    ]
    assert {str(r["model_version"]) for r in captured} >= {plat.champion_version, v2}

    # when the previous version is deployed again by Param (a rollback)
    back = run_dag(dagbag, "deploy_model", version=plat.champion_version)
    assert str(back.state) == "success", task_states(back)
    assert _serving(url) == plat.champion_version
    assert (
        str(client.get_model_version_by_alias(name, spec.serving.deployed_alias).version)
        == plat.champion_version
    )
    assert client.get_model_version(name, v2).tags["deploy.outcome"] == "replaced"
    records = history.records()
    # every watch judged real traffic from the service's own metrics (canaries included)
    for rec in records:
        watch = rec["detail"]["watch"]
        assert watch["requests"] >= watch["canary_sent"] > 0, watch
        assert watch["error_rate"] == 0.0 and watch["p99_ms_upper_bound"] is not None, watch
    outcomes = [(r["version"], r["outcome"]) for r in records]
    assert outcomes == [
        (plat.champion_version, "serving"),
        (v2, "serving"),
        (plat.champion_version, "serving"),
    ], outcomes

    # and asking for what already serves changes nothing
    again = run_dag(dagbag, "deploy_model", version=plat.champion_version)
    assert task_states(again)["resolve_version"] == "skipped", task_states(again)
    assert mailbox.messages == []


def test_a_failing_pre_traffic_check_leaves_the_old_version_serving_with_one_mail(
    deploy_env, dagbag, mailbox: Mailbox, monkeypatch
) -> None:
    from include.deployment import history

    plat, url, token = deploy_env
    first = run_dag(dagbag, "deploy_model")
    assert str(first.state) == "success", task_states(first)
    v2 = _second_version(plat)

    # when the latency budget can not be met (a forced failing smoke test)
    raw = yaml.safe_load(plat.spec_path.read_text())
    raw["serving"]["p99_ms"] = 0.001
    plat.spec_path.write_text(yaml.safe_dump(raw))
    failed = run_dag(dagbag, "deploy_model", version=v2)

    # then the run fails at the check, the old version still serves, nothing switched
    assert str(failed.state) == "failed", task_states(failed)
    states = task_states(failed)
    assert states["check_candidate"] == "failed", states
    assert states["switch"] in ("upstream_failed", "skipped"), states
    assert _serving(url) == plat.champion_version
    # and one mail says what failed and how to roll back or retry
    assert len(mailbox.messages) == 1, mailbox.subjects()
    subject = mailbox.messages[0]["Subject"]
    text = html.unescape(Mailbox.body(mailbox.messages[0]))  # the mail is HTML
    assert "DEPLOY FAILED" in subject and f"v{plat.champion_version} still serves" in subject
    assert "latency" in text and "p99" in text
    assert f'"version": "{plat.champion_version}"' in text  # the rollback command
    assert f'"version": "{v2}"' in text  # the retry command
    assert [r["outcome"] for r in history.records()][-1] == "failed_at_check_candidate"
