"""The fraud-scoring service (BentoML 1.4): ``POST /predict`` and how it stays up.

Per request (``/predict``, bearer token) :class:`RequestGuard`, an ASGI middleware, checks
the body (token → 401, content type → 415, size → 413 without reading past the limit,
JSON → 400, the spec's contract → 422, each with a JSON body saying what is wrong and what
is allowed), validating it once, and answers a valid one itself with
:meth:`ScoringService.answer` (why not through BentoML's API dispatch: see the class). The
active model is read **once** (a request never mixes versions), features come from
:class:`serving.online.OnlineFeatures`, the scorable rows are scored in one ``predict`` on a
float matrix in the model's feature order (no DataFrame), decisions use that version's
stored threshold, and the records are offered to capture. A transaction whose customer or
merchant features are missing or expired is not scored: it gets
``serving.unscored_decision`` and its reason. Every step is timed (:class:`Steps`);
``MLOPS_SERVING_TIMING=true`` sends the durations back as a ``Server-Timing`` header.

The store down (fault B9: Redis unreachable or hung, the SQLite file or its tables gone): the
watcher thread probes the open store every ``POLL_SECONDS`` (:meth:`OnlineFeatures.ping`, a
Redis ``PING`` bounded by the client's socket timeouts); a failed probe, or a lookup failing
in ``/predict``, marks the store down at once: ``/readyz`` says not ready, ``/status`` shows
the error and since when, and ``/predict`` answers 503 ``feature_store_unavailable`` (naming
the store, never its password, and saying to retry; counted) without waiting on the store
again. The first probe that passes marks it up: ready and scoring again, no restart. A
healthy request costs no extra round trip (the probe is off the request path).

Which model: ``MLOPS_SERVING_MODEL`` (a BentoML model tag; a Bento sets it to the model it
packages) pins one. Otherwise a watcher thread follows the deployment pointer
(:mod:`serving.pointer`), loads the named version *beside* the active one, self-checks it
and swaps; a failed load keeps the old version serving and is shown by ``/status``. With
neither, the service is alive but not ready (``/readyz`` 503, ``/predict`` 503 with a hint).

Endpoints: ``/predict``; BentoML's ``/livez``, ``/readyz`` (:meth:`ScoringService.__is_ready__`:
a model is loaded and the online store is open and answering its probe) and ``/metrics``
(plus ours, below); ``GET /status`` (open): active model, pointer, last load error, the
online store's state, capture counters, uptime.
Beyond ``serving.max_concurrency`` requests in flight BentoML answers 429 at once.

The module builds the request models from the spec at import (BentoML reads an API's types
and the traffic limits when the class is decorated); it imports neither MLflow nor Feast.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import gc
import hmac
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import bentoml
import numpy as np
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from include.config import get_settings
from include.spec import load_spec
from serving import auth, capture, contract, pointer
from serving import model as served

# A child of BentoML's logger: its handlers and format apply in the server.
log = logging.getLogger("bentoml.scoring_service")
# One transaction per request: XGBoost's OpenMP threads cost more than they save (single-row
# predict p99 ~45 ms with 2 threads on a busy 2-core host, ~9 ms with one). Set before
# xgboost is imported (the model loads in __init__); the environment may say otherwise.
os.environ.setdefault("OMP_NUM_THREADS", "1")

MODEL_ENV = "MLOPS_SERVING_MODEL"
POLL_SECONDS = 0.5
PREDICT_PATH = "/predict"
REQUEST_TIMEOUT_S = 10.0
STORE_RETRY_AFTER_S = 1  # the Retry-After of a 503 for the online store down (B9)
THREADS = 4  # requests scored at once (the feature reader is thread-safe)

SPEC = load_spec()
CONTRACT = contract.build(SPEC)
Transaction = CONTRACT.transaction
PredictRequest = CONTRACT.request
MAX_BODY_BYTES = SPEC.serving.max_body_kb * 1024
_TOKEN_HINT = (
    "send 'Authorization: Bearer <token>'; the token is the content of the service's token "
    "file (MLOPS_SERVING_TOKEN_FILE, default <data_root>/serving/token; create it with "
    "`python -m serving.auth`) or MLOPS_SERVING_TOKEN; ask the operator for it"
)


# ------------------------------------------------------------------------------ metrics
@functools.cache
def metrics() -> Any:
    """The service's Prometheus metrics, created once per process *after* BentoML set up
    its multiprocess directory (``bentoml.metrics`` is deprecated in 1.4 for exactly this
    deferral; prometheus_client is what it wraps). Served by BentoML's ``/metrics``."""
    import prometheus_client as prom

    class Metrics:
        latency_buckets = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 1.0)
        predict_seconds = prom.Histogram(
            "fraud_serving_predict_seconds",
            "Time to answer /predict after validation, feature lookup included",
            buckets=latency_buckets,
        )
        lookup_seconds = prom.Histogram(
            "fraud_serving_feature_lookup_seconds",
            "Online feature lookup time per request",
            buckets=latency_buckets,
        )
        transactions = prom.Counter(
            "fraud_serving_transactions", "Transactions answered", ["model_version"]
        )
        decisions = prom.Counter("fraud_serving_decisions", "Decisions by value", ["decision"])
        unscored = prom.Counter(
            "fraud_serving_unscored",
            "Transactions not scored, by entity and reason",
            ["entity", "reason"],
        )
        store_unavailable = prom.Counter(
            "fraud_serving_store_unavailable", "Requests answered 503: online store unavailable"
        )
        rejected = prom.Counter(
            "fraud_serving_rejected_requests", "Requests refused before scoring", ["status"]
        )
        model_info = prom.Gauge(
            "fraud_serving_model_info",
            "1 for the model version being served, 0 for versions served before",
            ["model_name", "model_version", "model_tag"],
            multiprocess_mode="livemax",
        )
        model_loads = prom.Counter(
            "fraud_serving_model_loads", "Model loads by outcome", ["outcome"]
        )
        capture_records = prom.Counter(
            "fraud_serving_capture_records", "Capture records by outcome", ["outcome"]
        )

    return Metrics


# ------------------------------------------------------------------------ model manager
def _bento_pin() -> str | None:
    """``MLOPS_SERVING_MODEL`` as the environment or, when served from a Bento, as the
    Bento's ``envs`` set it (``bentoml serve <bento>`` applies only the service's own envs,
    a container applies the Bento's; the environment wins in both)."""
    if MODEL_ENV in os.environ:
        return os.environ[MODEL_ENV].strip() or None
    bento = getattr(ScoringService, "bento", None)
    for env in getattr(getattr(bento, "info", None), "envs", None) or []:
        if getattr(env, "name", None) == MODEL_ENV and getattr(env, "value", None):
            return str(env.value)
    return None


def _count(update: Callable[[Any], None]) -> None:
    """Update a metric; metrics never fail a request or a load."""
    try:
        update(metrics())
    except Exception:  # noqa: BLE001
        log.debug("metric update failed", exc_info=True)


# ------------------------------------------------------------------------ HTTP guarding
def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


# Set per request by the guard from this header (any value): synthetic traffic (deployment
# canaries) is scored like any request and not captured.
SYNTHETIC_HEADER = "x-mlops-synthetic"
SYNTHETIC: contextvars.ContextVar[bool] = contextvars.ContextVar("synthetic", default=False)
# MLOPS_SERVING_TIMING=true: every /predict answer carries a Server-Timing header with the
# duration of each step (bench/serving.py reads it). The steps are timed either way.
TIMING_ENV = "MLOPS_SERVING_TIMING"


class Steps:
    """The durations of one request's steps, in order (``Server-Timing`` names, seconds)."""

    __slots__ = ("_last", "durations", "start")

    def __init__(self) -> None:
        self.start = self._last = time.perf_counter()
        self.durations: list[tuple[str, float]] = []

    def mark(self, step: str) -> float:
        """End ``step`` now (it began when the previous one ended); returns the clock."""
        now = time.perf_counter()
        self.durations.append((step, now - self._last))
        self._last = now
        return now

    def header(self) -> bytes:
        """``Server-Timing`` (W3C): ``step;dur=<ms>, ...`` then ``total``."""
        parts = [f"{step};dur={s * 1e3:.3f}" for step, s in self.durations]
        parts.append(f"total;dur={(self._last - self.start) * 1e3:.3f}")
        return ", ".join(parts).encode()


class RequestGuard:
    """ASGI middleware that serves ``POST /predict``: token, content type, body size, JSON
    and the contract, each refused with its status and an actionable JSON body; a valid
    request is scored by :meth:`ScoringService.answer` and its JSON answer sent from here.
    The body is read at most up to the limit (``Content-Length`` is checked first; a chunked
    body is counted while it streams) and validated once.

    Why not hand the request on to BentoML's dispatch of the ``predict`` API: it parses
    and validates the body a second time, inspects the method's signature on every call and
    encodes through its IO descriptors: ~0.35 ms a request on the 2-core dev machine (p50,
    in-process), more than the feature lookup or the model, a third of what a request cost.
    The API stays declared for BentoML's schema, OpenAPI page and clients, and for callers
    in-process; BentoML's middlewares outside this one (metrics, timeout, the
    ``max_concurrency`` 429s) still apply. ``bench/serving.py`` serves BentoML's hello world,
    which goes through that dispatch, beside the service."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_body_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timing = os.environ.get(TIMING_ENV, "").strip().lower() in ("1", "true", "yes", "on")

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: Callable, send: Callable
    ) -> None:
        if scope["type"] != "http" or scope["path"] != PREDICT_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        steps = Steps()
        try:
            checked = await self._check(scope, receive, steps)
        except Exception:  # noqa: BLE001 - never a traceback to the client
            log.exception("request guard failed")
            checked = _json(500, {"error": "internal", "message": "see the service log"})
        if isinstance(checked, Response):
            _count(lambda m: m.rejected.labels(status=str(checked.status_code)).inc())
            return await checked(scope, receive, send)
        svc, request = checked
        try:
            answer = await svc.answer(request.transactions, steps)
        except Exception:  # noqa: BLE001 - as BentoML would: logged, a 500 without details
            log.exception("/predict failed")
            answer = _json(500, {"error": "internal", "message": "see the service log"})
        if isinstance(answer, Response):
            return await answer(scope, receive, send)
        body = answer.model_dump_json().encode()
        steps.mark("encode")
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if self.timing:
            headers.append((b"server-timing", steps.header()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _check(
        self, scope: MutableMapping[str, Any], receive: Callable, steps: Steps
    ) -> Response | tuple[Any, BaseModel]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            svc = bentoml.get_current_service()
        except Exception:  # noqa: BLE001 - not started yet
            return _json(503, {"error": "starting", "message": "the service is starting"})
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), svc.token.encode()
        ):
            return _json(
                401,
                {
                    "error": "unauthorized",
                    "message": "missing or wrong bearer token",
                    "how": _TOKEN_HINT,
                },
                {"WWW-Authenticate": 'Bearer realm="fraud-scoring"'},
            )
        # Deployment canaries say so: they are answered like any request but not captured,
        # so monitoring compares training with client traffic only.
        SYNTHETIC.set(headers.get(SYNTHETIC_HEADER, "") != "")
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _json(
                415,
                {
                    "error": "unsupported_media_type",
                    "message": f"Content-Type {media or '(none)'} is not accepted",
                    "allowed": "application/json",
                },
            )
        too_big = functools.partial(
            _json,
            413,
            {
                "error": "body_too_large",
                "message": f"the body exceeds {self.max_body_bytes // 1024} KiB",
                "allowed": f"at most {self.max_body_bytes} bytes and "
                f"{CONTRACT.max_batch} transactions per request; split the batch",
            },
        )
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    return too_big()
            except ValueError:
                return _json(400, {"error": "bad_request", "message": "invalid Content-Length"})
        steps.mark("auth")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _json(400, {"error": "disconnected", "message": "client went away"})
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return too_big()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        steps.mark("read")
        try:
            request = PredictRequest.model_validate_json(body)
        except ValidationError as exc:
            status, payload = contract.explain(exc, CONTRACT)
            return _json(status, payload)
        steps.mark("validate")
        return svc, request


# ------------------------------------------------------------------------------ status
class GcPauses:
    """How often the garbage collector ran and how long the request path stood still for
    it, per generation (a ``gc.callbacks`` hook, ~1 µs a collection): the usual source of
    latency outliers in a Python service, shown by ``/status``."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.total_s = [0.0, 0.0, 0.0]
        self.max_s = [0.0, 0.0, 0.0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took, gen = time.perf_counter() - self._began, info["generation"]
        self.collections[gen] += 1
        self.total_s[gen] += took
        self.max_s[gen] = max(self.max_s[gen], took)

    def describe(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "pause_ms_total": [round(s * 1e3, 2) for s in self.total_s],
            "pause_ms_max": [round(s * 1e3, 2) for s in self.max_s],
            "frozen_objects": gc.get_freeze_count(),
        }


async def _status(request: Request) -> Response:
    try:
        svc = bentoml.get_current_service()
    except Exception:  # noqa: BLE001
        return _json(503, {"error": "starting"})
    return _json(200, svc.status())


status_app = Starlette(routes=[Route("/status", _status, methods=["GET"])])


# ----------------------------------------------------------------------------- service
@bentoml.service(
    name="scoring_service",
    traffic={"timeout": REQUEST_TIMEOUT_S, "max_concurrency": SPEC.serving.max_concurrency},
    workers=1,
    threads=THREADS,
    # No per-request access log line: /metrics (latency, status) and the prediction capture
    # (every request, off the request path) say more, and the log line costs ~0.3 ms.
    logging={"access": {"enabled": False}},
    # No OpenTelemetry spans for /predict: no trace exporter is configured (BentoML's
    # default sample rate is 0: its middleware builds four spans a request and drops them),
    # yet they cost CPU, and BentoML's timeout timer (never cancelled) keeps each request's
    # span graph alive for traffic.timeout seconds, which the garbage collector then walks:
    # without them a third less server CPU per request and no full collections in 3,000
    # requests (bench/serving.py; /status "gc"). Remove this line once an exporter is set.
    tracing={"excluded_urls": [PREDICT_PATH]},
)
class ScoringService:
    """Scores card transactions for fraud with the deployed model version."""

    def __init__(self) -> None:
        # Imported here, not at module level: BentoML imports this module to read the API
        # at build time, where none of them is needed (pandas, sqlite, the decision rule).
        from include.features import schema
        from include.scoring.decision import decide
        from serving import online
        from serving.bento import bentoml_home

        self._decide = decide  # the platform's rule: review at or above the threshold
        self._online = online

        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self.token = auth.load_token()  # TokenMissing: refuse to start
        # A request's pii ids are hashed with the key ingest used: the online store, the
        # capture and the logs only ever see pseudonyms (include.privacy).
        self._pii = SPEC.events_feed.pii_columns
        self._pseudo = None
        if self._pii:
            from include.privacy.keys import load_key
            from include.privacy.pseudonym import Pseudonymiser

            # Never a new key here (its pseudonyms would match nothing): no key, no start.
            self._pseudo = Pseudonymiser(load_key(create=False))
        settings = get_settings()
        self.unscored_decision = SPEC.serving.unscored_decision
        self.capture = capture.Capture(
            settings.lake_uri,
            enabled=capture.capture_enabled(),
            events=lambda outcome, n: _count(
                lambda m: m.capture_records.labels(outcome=outcome).inc(n)
            ),
        ).start()
        self.store_name = self._online.store_name(settings)
        self.online: Any = None
        self.online_error: str | None = None  # set while the store can not be read
        self.online_down_since: datetime | None = None
        self._store_lock = threading.Lock()  # the two above change together
        self._open_store()
        self.models = served.ModelManager(
            pinned=_bento_pin(),
            pointer_path=pointer.pointer_path(),
            known_features=schema.model_features(schema.feature_spec(SPEC)),
            on_swap=self._swapped,
            on_failure=lambda tag, exc: _count(
                lambda m: m.model_loads.labels(outcome="failed").inc()
            ),
        )
        log.info(
            "fraud service: %s, BENTOML_HOME=%s, capture %s",
            f"pinned to {self.models.pinned}"
            if self.models.pinned
            else f"following {self.models.pointer_path}",
            os.environ.get("BENTOML_HOME", bentoml_home()),
            "on" if self.capture.enabled else "off",
        )
        # The first load happens here, so a healthy start is ready at once; a failed one
        # leaves the service alive, not ready, saying why in /status (retried meanwhile).
        self.models.poll()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
        self._watcher.start()
        # Everything imported and loaded so far lives as long as the process: out of the
        # garbage collector's sight, a full collection no longer walks MLflow's and
        # pandas' objects in the middle of a request (the 100-300 ms outliers).
        gc.freeze()
        self.gc_pauses = GcPauses()
        gc.callbacks.append(self.gc_pauses)

    # ---------------------------------------------------------------- background work
    def _open_store(self) -> None:
        try:
            self.online = self._online.OnlineFeatures.open()
        except self._online.StoreUnavailable as exc:
            self._store_down(exc)
        else:
            self._store_up()

    def _probe_store(self) -> None:
        """The watcher's health probe of the open store (fault B9)."""
        try:
            self.online.ping()
        except self._online.StoreUnavailable as exc:
            self._store_down(exc)
        else:
            self._store_up()

    def _store_down(self, exc: Exception) -> None:
        """Not ready, and ``/predict`` answers 503, until a probe passes; logged once per
        outage (and when its cause changes)."""
        error = str(exc)
        with self._store_lock:
            changed = self.online_error != error
            if self.online_down_since is None:
                self.online_down_since = datetime.now(UTC)
            self.online_error = error
        if changed:
            log.error(
                "online store %s unavailable (probing every %.1f s): %s",
                self.store_name,
                POLL_SECONDS,
                error,
            )

    def _store_up(self) -> None:
        if self.online_error is None:  # the usual case: one attribute read, no lock
            return
        with self._store_lock:
            since, self.online_down_since = self.online_down_since, None
            self.online_error = None
        log.warning(
            "online store %s answers again%s: ready",
            self.store_name,
            f" (down since {since.isoformat()})" if since else "",
        )

    def _watch(self) -> None:
        if self.models.active is None and not self.models.pinned:
            served.warm_up()  # nothing deployed yet: pay MLflow's import before the first
        while not self._stop.wait(POLL_SECONDS):
            try:
                if self.online is None:
                    self._open_store()
                else:
                    self._probe_store()
                self.models.poll()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one failure
                log.exception("model watcher iteration failed")

    def _swapped(self, previous: served.ServedModel | None, current: served.ServedModel) -> None:
        gc.freeze()  # the new version's objects live until the next swap (see __init__)

        def update(m: Any) -> None:
            m.model_loads.labels(outcome="loaded").inc()
            if previous is not None:
                m.model_info.labels(previous.name, previous.version, previous.tag).set(0)
            m.model_info.labels(current.name, current.version, current.tag).set(1)

        _count(update)

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        self._stop.set()
        if self.gc_pauses in gc.callbacks:
            gc.callbacks.remove(self.gc_pauses)
        self.capture.close()
        if self.online is not None:
            self.online.close()

    # ------------------------------------------------------------------------ probes
    def __is_ready__(self) -> bool:
        return (
            self.models.active is not None and self.online is not None and self.online_error is None
        )

    def status(self) -> dict[str, Any]:
        active = self.models.active
        since = self.online_down_since
        return {
            "service": "scoring_service",
            "usecase": get_settings().usecase.name,
            "ready": self.__is_ready__(),
            "model": active.describe() if active else None,
            **self.models.status(),
            "online_store": {
                "store": self.store_name,
                "open": self.online is not None,
                "healthy": self.online is not None and self.online_error is None,
                "error": self.online_error,
                "down_since": since.isoformat() if since else None,
            },
            "capture": self.capture.counters(),
            "gc": self.gc_pauses.describe(),
            "started_at": self.started_at.isoformat(),
            "uptime_s": round(time.monotonic() - self._started, 1),
            "pid": os.getpid(),
            "imported": served.loaded_modules(),
        }

    # ----------------------------------------------------------------------- scoring
    @bentoml.api(
        route=PREDICT_PATH, input_spec=PredictRequest, output_spec=contract.PredictResponse
    )
    async def predict(self, transactions: list[BaseModel]) -> contract.PredictResponse | Response:
        """Fraud probability and decision for each transaction (1 to max_batch)."""
        # Over HTTP the RequestGuard answers POST /predict itself (see there); this is the
        # API BentoML's schema and clients describe, and the in-process entry.
        return await self.answer(transactions, Steps())

    async def answer(
        self, transactions: list[BaseModel], steps: Steps
    ) -> contract.PredictResponse | Response:
        """Score validated transactions; a 503 response when nothing can be scored. Each
        step is ended on ``steps`` (``Server-Timing``)."""
        # Async, not a thread pool: scoring is ~1 ms of CPU under the GIL, and handing it to
        # a thread cost more than it (GIL hand-offs). It still yields once here, holding its
        # concurrency slot, so requests beyond serving.max_concurrency see the slots taken
        # and get their 429 at once instead of queueing behind the event loop.
        await asyncio.sleep(0)
        start = steps.mark("yield")
        active = self.models.active  # read once: the whole request uses this version
        online = self.online
        if active is None:
            return self._not_ready()
        if online is None or self.online_error is not None:
            # known down (fault B9): answer at once, the watcher's probe brings it back
            return self._store_unavailable(self.online_error)
        rows = [t.model_dump() for t in transactions]
        if self._pseudo is not None:
            rows = [self._pseudo.row(r, self._pii) for r in rows]
        steps.mark("pseudonymise")
        try:
            assembled = online.lookup(rows)
        except self._online.StoreUnavailable as exc:
            self._store_down(exc)  # not ready from now on, until a probe passes
            return self._store_unavailable(str(exc))
        looked_up = steps.mark("lookup")
        scorable = np.fromiter((a.scorable for a in assembled), dtype=bool, count=len(assembled))
        matrix = self._online.feature_matrix(assembled, active.feature_names)
        scores = np.full(len(assembled), np.nan)
        if scorable.any():
            scores[scorable] = active.predict(matrix[scorable])
        steps.mark("predict")
        decisions = self._decide(scores, scorable, active.threshold, self.unscored_decision)
        request_id = uuid.uuid4().hex
        predictions = []
        for i, item in enumerate(assembled):
            predictions.append(
                contract.Prediction(
                    transaction_id=getattr(transactions[i], CONTRACT.tx_key),  # the caller's
                    fraud_probability=float(scores[i]) if scorable[i] else None,
                    decision=decisions[i],
                    scored=bool(scorable[i]),
                    unscored_reason=dict(item.unscored) or None,
                    threshold=active.threshold,
                    features_as_of={
                        e: (ts.isoformat() if ts is not None else None)
                        for e, ts in item.as_of.items()
                    },
                )
            )
        response = contract.PredictResponse(
            request_id=request_id,
            model=contract.ModelRef(name=active.name, version=active.version),
            predictions=predictions,
        )
        done = steps.mark("respond")
        self._observe(active, assembled, decisions, start, looked_up, done)
        steps.mark("metrics")
        if self.capture.enabled and not SYNTHETIC.get():
            self._capture(request_id, active, rows, matrix, predictions, (done - start) * 1e3)
            steps.mark("capture")
        return response

    def _not_ready(self) -> Response:
        hint = (
            f"model {self.models.pinned} failed to load: see /status"
            if self.models.pinned
            else f"deploy one (the deploy_model DAG writes {self.models.pointer_path})"
        )
        body = {"error": "no_model", "message": f"no model deployed yet: {hint}"}
        if self.models.last_error:
            body["last_error"] = self.models.last_error
        return _json(503, body, {"Retry-After": "5"})

    def _store_unavailable(self, error: str | None) -> Response:
        """503 for the online store down (B9), counted: which store (its URL without the
        password), why, since when, and to retry; nothing was scored."""
        _count(lambda m: m.store_unavailable.inc())
        since = self.online_down_since
        body = {
            "error": "feature_store_unavailable",
            "message": f"the online feature store ({self.store_name}) can not be read; "
            f"nothing was scored: retry in {STORE_RETRY_AFTER_S} s or later, the service "
            "reconnects by itself once the store answers (GET /status shows its state)",
            "store": self.store_name,
            "detail": error or "the store is not open yet",
            "down_since": since.isoformat() if since else None,
            "retry_after_s": STORE_RETRY_AFTER_S,
        }
        return _json(503, body, {"Retry-After": str(STORE_RETRY_AFTER_S)})

    def _observe(
        self,
        active: served.ServedModel,
        assembled: list[Any],
        decisions: np.ndarray,
        start: float,
        looked_up: float,
        done: float,
    ) -> None:
        def update(m: Any) -> None:
            m.predict_seconds.observe(done - start)
            m.lookup_seconds.observe(looked_up - start)
            m.transactions.labels(model_version=active.version).inc(len(assembled))
            for value, n in collections.Counter(decisions.tolist()).items():
                m.decisions.labels(decision=value).inc(n)
            for item in assembled:
                for entity, reason in item.unscored.items():
                    m.unscored.labels(entity=entity, reason=reason).inc()

        _count(update)

    def _capture(
        self,
        request_id: str,
        active: served.ServedModel,
        rows: list[dict[str, Any]],
        matrix: np.ndarray,
        predictions: list[contract.Prediction],
        latency_ms: float,
    ) -> None:
        served_at = datetime.now(UTC).isoformat()
        names = active.feature_names
        for row, vector, p in zip(rows, matrix.tolist(), predictions, strict=True):
            self.capture.offer(
                {
                    "request_id": request_id,
                    "transaction_id": row[CONTRACT.tx_key],  # a pseudonym when pii
                    "served_at": served_at,
                    "model_name": active.name,
                    "model_version": active.version,
                    # NaN (a missing value) is written as null by the capture's writer
                    "features": dict(zip(names, vector, strict=True)),
                    "score": p.fraud_probability,
                    "decision": p.decision,
                    "scored": p.scored,
                    "unscored_reason": p.unscored_reason,
                    "latency_ms": round(latency_ms, 3),
                    "event_timestamp": row[CONTRACT.event_ts].isoformat(),
                }
            )


ScoringService.add_asgi_middleware(RequestGuard)
ScoringService.mount_asgi_app(status_app, path="/", name="status")
