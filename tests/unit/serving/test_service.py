"""The service without a server: the HTTP guard (D1, D4, D5, E4), scoring and decisions
(D3, the threshold boundary), the store down (B9: with a fake store, and with a real
``redis-server`` stopped, hung and restarted under the running service) and the model
manager (pinned, pointer, failed loads keep the old version)."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import bentoml
import numpy as np
import pytest

from include.features import schema
from include.privacy.pseudonym import Pseudonymiser
from serving import model as served
from serving import online, pointer
from serving import service as svc_module
from tests.redis_server import (
    PASSWORD,
    double_value,
    write_feast_rows,
)

SPEC = svc_module.SPEC
FEATURES = schema.model_features(schema.feature_spec(SPEC))
TOKEN = "unit-test-token-0123456789"
NOW = datetime.now(UTC)
PII_KEY = bytes(range(32))
PSEUDO = Pseudonymiser(PII_KEY)
# customers 900-999 are unknown to the online store (FakeOnline), by their pseudonym
UNKNOWN = {PSEUDO.value(f"cus_{i:06d}") for i in range(900, 1000)}


@pytest.fixture(autouse=True)
def _pii_key(monkeypatch):
    monkeypatch.setenv("MLOPS_PII_KEY", PII_KEY.hex())


def tx(i: int = 1, **changes) -> dict:
    out = {
        "transaction_id": f"tx_{i:016x}",
        "customer_id": f"cus_{i:06d}",
        "merchant_id": 7,
        "amount": 100.0,
        "event_timestamp": (NOW - timedelta(minutes=1)).isoformat(),
    }
    return out | changes


# --------------------------------------------------------------------------- ASGI driver
async def _call(app, *, method="POST", path="/predict", headers=None, chunks=(b"",)):
    """One request through an ASGI app; returns (status, headers, json body, bytes pulled)."""
    pulled = 0
    queue = list(chunks)
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if not queue:
            await asyncio.sleep(3600)  # a client that never sends more
        chunk = queue.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    hdrs = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], hdrs, json.loads(body) if body else None, pulled


def call(app, **kwargs):
    return asyncio.run(_call(app, **kwargs))


async def downstream(scope, receive, send):
    """Stands in for BentoML's routes (/status, /readyz, ...): echoes what reached it."""
    message = await receive()
    body = json.dumps({"reached": True, "bytes": len(message["body"])}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class FakeScorer:
    """Stands in for the running ScoringService behind the guard: its token, and an
    ``answer`` that records the validated transactions (and can be held or made to fail)."""

    token = TOKEN

    def __init__(self) -> None:
        self.reached: list[list] = []
        self.release: asyncio.Event | None = None
        self.fail = False

    async def answer(self, transactions, steps):
        self.reached.append(list(transactions))
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise RuntimeError("boom: a bug while scoring")
        steps.mark("predict")
        return svc_module.contract.PredictResponse(
            request_id="r1",
            model=svc_module.contract.ModelRef(name="fraud_is_fraud", version="3"),
            predictions=[],
        )


@pytest.fixture
def scorer(monkeypatch):
    fake = FakeScorer()
    monkeypatch.setattr(bentoml, "get_current_service", lambda: fake)
    return fake


@pytest.fixture
def guard(scorer):
    return svc_module.RequestGuard(downstream)


def auth(content_type="application/json", token=TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": content_type}


def payload(*txs) -> bytes:
    return json.dumps({"transactions": list(txs)}).encode()


def test_a_valid_request_is_read_whole_validated_once_and_answered_by_the_guard(
    guard, scorer, monkeypatch
) -> None:
    # given a valid body sent in two chunks, and a count of the contract's validations
    validations = []
    original = svc_module.PredictRequest.model_validate_json

    def counted(raw, *args, **kwargs):
        validations.append(raw)
        return original(raw, *args, **kwargs)

    monkeypatch.setattr(svc_module.PredictRequest, "model_validate_json", counted)
    raw = payload(tx())
    # when it is posted
    status, hdrs, body, pulled = call(guard, headers=auth(), chunks=[raw[:10], raw[10:]])
    # then the whole body was validated once and scored; the answer is the service's JSON,
    # never BentoML's dispatch (downstream), which would parse and validate it again
    assert status == 200 and hdrs["content-type"] == "application/json"
    assert body["request_id"] == "r1" and "reached" not in body
    assert validations == [raw] and pulled == len(raw)
    (transactions,) = scorer.reached
    assert [t.transaction_id for t in transactions] == [tx()["transaction_id"]]
    assert "server-timing" not in hdrs  # only when MLOPS_SERVING_TIMING is on


def test_the_steps_of_a_request_are_timed_in_a_server_timing_header(scorer, monkeypatch) -> None:
    # given the service started with MLOPS_SERVING_TIMING=true
    monkeypatch.setenv(svc_module.TIMING_ENV, "true")
    guard = svc_module.RequestGuard(downstream)
    # when a valid request is answered
    status, hdrs, _, _ = call(guard, headers=auth(), chunks=[payload(tx())])
    # then each step's duration (ms) is in Server-Timing, in order, and the total last
    assert status == 200
    steps = [part.split(";dur=") for part in hdrs["server-timing"].split(", ")]
    assert [name for name, _ in steps] == ["auth", "read", "validate", "predict", "encode", "total"]
    durations = {name: float(ms) for name, ms in steps}
    assert all(ms >= 0 for ms in durations.values())
    total = durations.pop("total")
    assert sum(durations.values()) == pytest.approx(total, abs=0.01)


def test_a_failure_while_scoring_is_a_500_without_details(guard, scorer, caplog) -> None:
    scorer.fail = True
    status, _, body, _ = call(guard, headers=auth(), chunks=[payload(tx())])
    assert status == 500 and body == {"error": "internal", "message": "see the service log"}
    assert "boom" not in json.dumps(body)
    assert any("boom" in r.getMessage() or r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Content-Type": "application/json"}, "no token"),
        (auth(token="wrong-token-0123456789"), "wrong token"),
        ({"Authorization": f"Basic {TOKEN}", "Content-Type": "application/json"}, "not bearer"),
        (auth(token=TOKEN + "x"), "a longer token"),
    ],
)
def test_E4_predict_without_or_with_a_wrong_token_is_401(guard, headers, why) -> None:
    status, hdrs, body, pulled = call(guard, headers=headers, chunks=[payload(tx())])
    assert status == 401, why
    assert hdrs["www-authenticate"].startswith("Bearer")
    assert body["error"] == "unauthorized" and "Authorization: Bearer" in body["how"]
    assert TOKEN not in json.dumps(body) and pulled == 0


def test_E4_other_paths_need_no_token(guard) -> None:
    status, _, body, _ = call(guard, method="GET", path="/status", chunks=[b""])
    assert status == 200 and body["reached"]
    status, _, body, _ = call(guard, method="GET", path="/predict", chunks=[b""])
    assert status == 200 and body["reached"]  # BentoML's route answers 405


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_D1_a_wrong_content_type_is_415(guard, content_type) -> None:
    status, _, body, _ = call(guard, headers=auth(content_type), chunks=[payload(tx())])
    assert status == 415 and body["allowed"] == "application/json"


def test_D1_malformed_json_is_400_and_a_bad_field_422_never_reaching_the_model(
    guard, scorer
) -> None:
    status, _, body, _ = call(guard, headers=auth(), chunks=[b'{"transactions": ['])
    assert status == 400 and body["error"] == "malformed_json"
    status, _, body, _ = call(guard, headers=auth(), chunks=[payload(tx(amount="12"))])
    assert status == 422 and body["problems"][0]["field"] == "transactions[0].amount"
    assert scorer.reached == []
    status, _, _, _ = call(
        guard, headers=auth("application/json; charset=utf-8"), chunks=[payload(tx())]
    )
    assert status == 200 and len(scorer.reached) == 1


def test_D5_a_declared_50_mb_body_is_413_before_any_byte_is_read(guard) -> None:
    headers = auth() | {"Content-Length": str(50 * 1024 * 1024)}
    status, _, body, pulled = call(guard, headers=headers, chunks=[b"x" * 1024] * 10)
    assert status == 413 and pulled == 0
    assert "split the batch" in body["allowed"]


def test_D5_a_streamed_body_is_cut_at_the_limit(guard) -> None:
    limit = svc_module.MAX_BODY_BYTES
    chunk = b" " * 65536
    chunks = [chunk] * (50 * 1024 * 1024 // len(chunk))  # 50 MB, chunked, no length
    status, _, _, pulled = call(guard, headers=auth(), chunks=chunks)
    assert status == 413
    assert pulled <= limit + len(chunk)


def test_D4_beyond_max_concurrency_bentoml_answers_429_at_once(scorer) -> None:
    from bentoml._internal.server.http.traffic import MaxConcurrencyMiddleware

    assert svc_module.ScoringService.config["traffic"]["max_concurrency"] == (
        SPEC.serving.max_concurrency
    )

    async def scenario():
        scorer.release = asyncio.Event()  # the first request is held while being scored
        app = MaxConcurrencyMiddleware(svc_module.RequestGuard(downstream), max_concurrency=1)
        first = asyncio.create_task(_call(app, headers=auth(), chunks=[payload(tx())]))
        await asyncio.sleep(0.05)
        second = await asyncio.wait_for(_call(app, headers=auth(), chunks=[payload(tx())]), 1)
        scorer.release.set()
        return (await first)[0], second[0]

    assert asyncio.run(scenario()) == (200, 429)


# ------------------------------------------------------------------------ the service
class FakeOnline:
    """Features where every value is amount / 1000; customers >= 900 are unknown,
    merchant 666 has expired features."""

    feature_names = FEATURES
    down = False
    seen: list[dict] = []

    def ping(self):
        if self.down:
            raise online.StoreUnavailable("redis: connection refused")

    def lookup(self, rows):
        if self.down:
            raise online.StoreUnavailable("redis: connection refused")
        out = []
        self.seen.extend(rows)
        for row in rows:
            unscored, as_of = {}, {"customer": NOW - timedelta(hours=1), "merchant": NOW}
            if row["customer_id"] in UNKNOWN:
                unscored["customer"], as_of["customer"] = online.MISSING, None
            if row["merchant_id"] == 666:
                unscored["merchant"] = online.EXPIRED
            value = row["amount"] / 1000 if not unscored else math.nan
            out.append(online.Assembled(dict.fromkeys(FEATURES, value), as_of, unscored))
        return out

    def close(self):
        pass


def fake_model(
    tag: str, threshold: float = 0.5, score=lambda x: np.nan_to_num(x[:, 0])
) -> served.ServedModel:
    name, version = tag.split(":v")
    return served.ServedModel(
        name=name,
        version=version,
        tag=tag,
        threshold=threshold,
        feature_names=tuple(FEATURES),
        metadata={"family": "fake"},
        loaded_at=datetime.now(UTC),
        load_seconds=0.0,
        import_seconds=0.0,
        _score=lambda x: score(np.asarray(x)),
    )


@pytest.fixture
def service(monkeypatch, data_root):
    """A ScoringService in this process, pinned to a fake model, with a fake store."""
    store = FakeOnline()
    monkeypatch.setenv("MLOPS_SERVING_TOKEN", TOKEN)
    monkeypatch.setenv("MLOPS_SERVING_MODEL", "fraud_is_fraud:v3")
    monkeypatch.setenv("MLOPS_SERVING_CAPTURE", "true")
    monkeypatch.setattr(online.OnlineFeatures, "open", classmethod(lambda cls, *a, **k: store))
    monkeypatch.setattr(served, "load", fake_model)
    instance = svc_module.ScoringService()
    instance.store = store
    yield instance
    instance.shutdown()


def predict(service, *txs):
    """The API method as BentoML calls it (a coroutine: it runs on the event loop)."""
    model = svc_module.Transaction
    items = [model.model_validate_json(json.dumps(t)) for t in txs]
    return asyncio.run(service.predict(transactions=items))


def test_scores_every_known_transaction_with_the_pinned_version(service) -> None:
    assert service.__is_ready__()
    out = predict(service, tx(1, amount=200.0), tx(2, amount=800.0))
    assert out.model.version == "3" and out.model.name == "fraud_is_fraud"
    first, second = out.predictions
    assert first.fraud_probability == pytest.approx(0.2) and first.decision == "approve"
    assert second.fraud_probability == pytest.approx(0.8) and second.decision == "review"
    assert first.scored and first.unscored_reason is None and first.threshold == 0.5
    assert set(first.features_as_of) == {"customer", "merchant"}


def test_every_step_of_scoring_is_timed_in_order(service) -> None:
    # given a validated transaction and the steps the guard timed so far
    steps = svc_module.Steps()
    steps.mark("validate")
    items = [svc_module.Transaction.model_validate_json(json.dumps(tx(1)))]
    # when the service answers it
    out = asyncio.run(service.answer(items, steps))
    # then each step of the request path has its duration, in the order they ran
    assert out.predictions[0].scored
    assert [name for name, _ in steps.durations] == [
        "validate",
        "yield",
        "pseudonymise",
        "lookup",
        "predict",
        "respond",
        "metrics",
        "capture",
    ]
    assert all(seconds >= 0 for _, seconds in steps.durations)


def test_the_decision_at_the_threshold_is_review_just_below_is_approve(service) -> None:
    at, below = predict(service, tx(1, amount=500.0), tx(2, amount=499.999)).predictions
    assert at.fraud_probability == 0.5 and at.decision == "review"
    assert below.fraud_probability < 0.5 and below.decision == "approve"


def test_D3_unknown_or_expired_entities_are_flagged_not_scored(service) -> None:
    unknown, expired, known = predict(
        service, tx(901), tx(2, merchant_id=666), tx(3, amount=10.0)
    ).predictions
    assert unknown.fraud_probability is None and not unknown.scored
    assert unknown.unscored_reason == {"customer": "missing"}
    assert unknown.decision == SPEC.serving.unscored_decision
    assert unknown.features_as_of["customer"] is None
    assert expired.unscored_reason == {"merchant": "expired"} and expired.fraud_probability is None
    assert known.scored and known.fraud_probability == pytest.approx(0.01)


def test_served_records_are_captured_with_the_features_as_served(service, data_root) -> None:
    out = predict(service, tx(1, amount=250.0), tx(901))
    service.capture.close()
    (part,) = (data_root / "lake" / "capture").rglob("*.jsonl")
    records = [json.loads(line) for line in part.read_text().splitlines()]
    assert [r["transaction_id"] for r in records] == [
        tx(1)["transaction_id"],
        tx(901)["transaction_id"],
    ]
    assert records[0]["request_id"] == out.request_id and records[0]["model_version"] == "3"
    assert records[0]["features"] == dict.fromkeys(FEATURES, 0.25)
    assert records[1]["features"] == dict.fromkeys(FEATURES)  # NaN -> null
    assert records[1]["unscored_reason"] == {"customer": "missing"} and records[1]["score"] is None
    assert records[0]["latency_ms"] > 0


def test_E7_the_service_looks_up_and_captures_pseudonyms_never_the_raw_id(
    service, data_root
) -> None:
    # given a request naming a customer by their raw id
    raw = tx(5)
    FakeOnline.seen.clear()
    # when it is scored
    out = predict(service, raw)
    service.capture.close()
    # then the online store was asked for the customer's pseudonym (the key ingest uses)...
    assert [r["customer_id"] for r in FakeOnline.seen] == [PSEUDO.value("cus_000005")]
    assert out.predictions[0].transaction_id == raw["transaction_id"]  # the caller's own
    # ...and nothing the service wrote holds the raw id
    written = "".join(p.read_text() for p in data_root.rglob("*") if p.is_file())
    assert "cus_000005" not in written and written


def test_synthetic_requests_are_answered_but_not_captured(service, data_root) -> None:
    # given a deployment canary (the guard sets the flag from the X-MLOps-Synthetic header)
    token = svc_module.SYNTHETIC.set(True)
    try:
        out = predict(service, tx(1))
    finally:
        svc_module.SYNTHETIC.reset(token)
    # then it is scored like any request, and monitoring never sees it
    assert out.predictions[0].scored
    service.capture.close()
    assert service.capture.counters()["offered"] == 0
    assert not list((data_root / "lake").rglob("*.jsonl"))


def test_B9_the_store_down_is_a_503_with_a_clear_body(service) -> None:
    service._stop.set()  # no watcher: the probes run by hand below
    service._watcher.join(timeout=5)
    # given the store failing a lookup while the service is ready
    assert service.__is_ready__()
    service.store.down = True
    resp = predict(service, tx(1))
    # then a 503 naming the store and saying to retry
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
    body = json.loads(resp.body)
    assert body["error"] == "feature_store_unavailable" and body["store"] == service.store_name
    assert "retry" in body["message"] and "connection refused" in body["detail"]
    # and the store is marked down at once, before any probe: not ready, said by /status
    assert not service.__is_ready__()
    status = service.status()["online_store"]
    assert not status["healthy"] and status["down_since"] and "refused" in status["error"]
    # the store back: requests are refused until a probe passes, then scored again
    service.store.down = False
    assert predict(service, tx(1)).status_code == 503
    service._probe_store()
    assert service.__is_ready__() and service.status()["online_store"]["error"] is None
    assert predict(service, tx(1)).predictions[0].scored


def test_status_reports_the_active_model_and_capture(service) -> None:
    status = service.status()
    assert status["model"]["tag"] == "fraud_is_fraud:v3" and status["mode"] == "pinned"
    assert status["online_store"]["open"] and status["capture"]["enabled"]
    # which heavy modules the process holds (the test process may hold Feast from other
    # tests; that the service itself never imports it is checked in a fresh process by
    # tests/unit/features/test_request_time.py and the HTTP tests' /status)
    assert set(status["imported"]) >= {"feast", "torch", "mlflow"}


def test_no_model_deployed_is_alive_not_ready_and_503_with_a_hint(monkeypatch, data_root) -> None:
    monkeypatch.setenv("MLOPS_SERVING_TOKEN", TOKEN)
    monkeypatch.delenv("MLOPS_SERVING_MODEL", raising=False)
    monkeypatch.setenv("MLOPS_SERVING_POINTER", str(data_root / "none.json"))
    monkeypatch.setattr(served, "warm_up", lambda: 0.0)  # no MLflow import in a unit test
    monkeypatch.setattr(
        online.OnlineFeatures, "open", classmethod(lambda cls, *a, **k: FakeOnline())
    )
    instance = svc_module.ScoringService()
    try:
        assert not instance.__is_ready__()
        resp = predict(instance, tx(1))
        assert resp.status_code == 503
        body = json.loads(resp.body)
        assert body["error"] == "no_model" and "no model deployed yet" in body["message"]
    finally:
        instance.shutdown()


def test_a_pinned_model_that_fails_to_load_leaves_the_service_alive_saying_why(
    monkeypatch, data_root
) -> None:
    def broken(tag):
        raise served.ModelLoadFailed(f"BentoML model {tag} is not in the model store")

    monkeypatch.setenv("MLOPS_SERVING_TOKEN", TOKEN)
    monkeypatch.setenv("MLOPS_SERVING_MODEL", "fraud_is_fraud:v9")
    monkeypatch.setattr(
        online.OnlineFeatures, "open", classmethod(lambda cls, *a, **k: FakeOnline())
    )
    monkeypatch.setattr(served, "load", broken)
    instance = svc_module.ScoringService()
    try:
        assert not instance.__is_ready__()
        status = instance.status()
        assert status["model"] is None and "not in the model store" in status["last_error"]["error"]
        body = json.loads(predict(instance, tx(1)).body)
        assert "fraud_is_fraud:v9 failed to load" in body["message"] and body["last_error"]
    finally:
        instance.shutdown()


def test_the_service_refuses_to_start_without_a_token(monkeypatch, data_root) -> None:
    from serving.auth import TokenMissing

    monkeypatch.delenv("MLOPS_SERVING_TOKEN", raising=False)
    with pytest.raises(TokenMissing):
        svc_module.ScoringService()


# ------------------------------------------------- the store down, for real (B9)
def _write_feast_rows(url: str, customers: list[int], merchants: list[int]) -> None:
    """Feast's Redis layout for these entities: every feature 1.5, an hour old."""
    fspec = schema.feature_spec(SPEC)
    stamp = NOW - timedelta(hours=1)
    write_feast_rows(
        url,
        fspec.project,
        (
            (
                view.name,
                online.serialize_entity_key(
                    {
                        view.join_key: PSEUDO.value(f"cus_{i:06d}")
                        if view.entity == "customer"
                        else i
                    }
                ),
                stamp,
                dict.fromkeys(view.features, double_value(1.5)),
            )
            for view, ids in zip(online._views(fspec), (customers, merchants), strict=True)
            for i in ids
        ),
    )


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """How long ``check`` took to turn true; fails the test after ``seconds``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - start


def test_B9_redis_down_not_ready_503_and_recovers(monkeypatch, data_root, redis_server) -> None:
    # given the service reading a real Redis (Feast's layout) and probing it every 0.1 s
    _write_feast_rows(redis_server.url, customers=[1, 2], merchants=[7])
    monkeypatch.setattr(svc_module, "POLL_SECONDS", 0.1)
    monkeypatch.setenv("MLOPS_FEAST_ONLINE_STORE", "redis")
    monkeypatch.setenv("MLOPS_REDIS_URL", redis_server.url)
    monkeypatch.setenv("MLOPS_SERVING_TOKEN", TOKEN)
    monkeypatch.setenv("MLOPS_SERVING_MODEL", "fraud_is_fraud:v3")
    monkeypatch.setenv("MLOPS_SERVING_CAPTURE", "false")
    monkeypatch.setattr(
        served, "load", lambda tag: fake_model(tag, score=lambda x: np.full(len(x), 0.25))
    )
    service = svc_module.ScoringService()
    try:
        assert type(service.online.store).__name__ == "RedisStore"
        assert service.__is_ready__()
        first = predict(service, tx(1)).predictions[0]
        assert first.scored and first.fraud_probability == 0.25

        # when Redis dies: not ready within a few seconds, /status says why
        redis_server.stop()
        took = _within(3, lambda: not service.__is_ready__())
        status = service.status()
        assert not status["ready"] and not status["online_store"]["healthy"]
        assert "Redis redis://***@127.0.0.1" in status["online_store"]["error"]
        # and /predict is a 503 naming the store, saying to retry, without the password
        resp = predict(service, tx(1))
        assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
        body = json.loads(resp.body)
        assert body["error"] == "feature_store_unavailable"
        assert body["store"] == f"Redis redis://***@127.0.0.1:{redis_server.port}/0"
        assert "retry" in body["message"] and body["down_since"]
        assert PASSWORD not in resp.body.decode() + json.dumps(status)

        # when it comes back (empty: no persistence; re-materialized): ready and scoring,
        # the pool's dead connections replaced, no restart of the service
        restarted = time.monotonic()
        redis_server.start()
        _write_feast_rows(redis_server.url, customers=[1, 2], merchants=[7])
        _within(3, service.__is_ready__)
        back = time.monotonic() - restarted
        assert service.status()["online_store"]["error"] is None
        assert [p.scored for p in predict(service, tx(1), tx(2)).predictions] == [True, True]

        # when Redis hangs (SIGSTOP): a lookup gives up after the socket timeout (1 s) with
        # a 503 and marks the store down at once; resumed, the probe brings it back
        redis_server.pause()
        start = time.monotonic()
        assert predict(service, tx(2)).status_code == 503
        assert time.monotonic() - start < 2.5 and not service.__is_ready__()
        redis_server.resume()
        _within(4, service.__is_ready__)
        assert predict(service, tx(2)).predictions[0].scored
    finally:
        service.shutdown()
    print(f"B9: not ready {took:.2f} s after Redis died, ready {back:.2f} s after it returned")


def test_B9_the_sqlite_probe_follows_the_file_and_its_tables(tmp_path) -> None:
    # given Feast's SQLite layout for the two views
    fspec = schema.feature_spec(SPEC)
    views = online._views(fspec)
    path = tmp_path / "online.db"

    def create() -> None:
        with sqlite3.connect(path) as db:
            for view in views:
                db.execute(
                    f'CREATE TABLE "{fspec.project}_{view.name}" (entity_key BLOB, '
                    "feature_name TEXT, value BLOB, event_ts timestamp, created_ts timestamp)"
                )
        db.close()

    create()
    store = online.SqliteStore(path, fspec.project, views, timeout_s=0.2)
    try:
        store.ping()
        assert store.name == f"SQLite {path}"
        # the file gone (an open connection would still read it): the probe fails
        path.unlink()
        with pytest.raises(online.StoreUnavailable, match="no online store"):
            store.ping()
        # a file without the tables: fails, saying to materialize
        sqlite3.connect(path).close()
        with pytest.raises(online.StoreUnavailable, match="materialize"):
            store.ping()
        path.unlink()
        create()  # materialized again: the probe passes, lookups read the new file
        store.ping()
        assert store.read([(v, [b"k"]) for v in views]) == [{}, {}]
    finally:
        store.close()


# ---------------------------------------------------------------------- model manager
def manager(tmp_path, loader) -> served.ModelManager:
    return served.ModelManager(
        pinned=None,
        pointer_path=tmp_path / "deployment.json",
        known_features=FEATURES,
        loader=loader,
    )


def test_the_pointer_is_followed_and_a_failed_load_keeps_the_old_version(tmp_path) -> None:
    def loader(tag):
        if tag.endswith("v2"):
            raise served.ModelLoadFailed(f"{tag}: not in the model store")
        if tag.endswith("v3"):
            return fake_model(tag, score=lambda x: x[:, 0] * np.nan)  # fails the self-check
        return fake_model(tag)

    m = manager(tmp_path, loader)
    m.poll()
    assert m.active is None and m.pointer is None  # nothing deployed yet
    pointer.point_to("fraud_is_fraud:v1", 1, path=m.pointer_path)
    m.poll()
    assert m.active.tag == "fraud_is_fraud:v1"
    first = m.active
    for bad in ("v2", "v3"):
        pointer.point_to(f"fraud_is_fraud:{bad}", bad[1:], path=m.pointer_path)
        m.poll()
        assert m.active is first
        assert m.last_error["model_tag"] == f"fraud_is_fraud:{bad}"
        assert m.status()["last_error"]["serving"] == "fraud_is_fraud:v1"
    pointer.point_to("fraud_is_fraud:v4", 4, path=m.pointer_path)
    m.poll()
    assert m.active.tag == "fraud_is_fraud:v4" and m.last_error is None
    m.pointer_path.write_text("{not json")  # a broken pointer: keep serving, say why
    m.poll()
    assert m.active.tag == "fraud_is_fraud:v4" and "not JSON" in m.last_error["error"]


def test_a_version_with_features_the_store_does_not_serve_is_refused(tmp_path) -> None:
    model = fake_model("fraud_is_fraud:v1")
    odd = served.ServedModel(**{**model.__dict__, "feature_names": ("not_a_feature",)})
    m = manager(tmp_path, lambda tag: odd)
    with pytest.raises(served.ModelLoadFailed, match="not_a_feature"):
        m.load("fraud_is_fraud:v1")
    assert m.active is None


def test_a_request_uses_one_version_even_if_a_swap_happens_meanwhile(service) -> None:
    seen = []
    original = service.store.lookup

    def lookup_then_swap(rows):
        result = original(rows)
        service.models.load("fraud_is_fraud:v4")  # a deployment lands mid-request
        seen.append(service.models.active.tag)
        return result

    service.store.lookup = lookup_then_swap
    out = predict(service, tx(1))
    assert seen == ["fraud_is_fraud:v4"] and out.model.version == "3"
    service.store.lookup = original
    assert predict(service, tx(1)).model.version == "4"
