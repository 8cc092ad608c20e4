"""What a version must answer over HTTP before any client traffic reaches it.

1. **Golden requests**: real transactions of the newest validated day. The expected answer
   comes from the *reference path* — Feast's own ``get_online_features`` and the registry's
   pyfunc on a frame — so a served score that differs (a skewed feature, a wrong model, a
   wrong threshold) fails the check. Entities Feast does not know must come back unscored.
2. **Bad input** (fault catalogue D1, D2, D5, E4): each case must get its 4xx with a JSON
   body naming the problem; a 5xx or a 2xx fails.
3. **Latency budget**: sequential one-transaction requests on one keep-alive connection;
   their p99 must be within ``serving.p99_ms``.

Every check runs and is reported; :class:`CheckFailed` carries the whole report.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from include.config import get_settings
from include.deployment.http import PREDICT, body, client, percentile_ms
from include.spec import ColumnSpec, UseCaseSpec, load_spec

GOLDEN_ROWS = 24
SCORE_TOLERANCE = 1e-6


class CheckFailed(RuntimeError):
    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------- golden set
def _row_payload(row: dict[str, Any], spec: UseCaseSpec) -> dict[str, Any]:
    names = spec.names
    ts = row[names.event_ts]
    ts = ts.tz_localize("UTC") if getattr(ts, "tzinfo", None) is None else ts.tz_convert("UTC")
    feed = spec.events_feed
    out: dict[str, Any] = {names.tx_key: str(row[names.tx_key])}
    for column in (*names.entities.values(), *spec.request_fields):
        dtype = feed.column(column).dtype
        value = row[column]
        out[column] = (
            int(value) if dtype == "int" else float(value) if dtype == "float" else str(value)
        )
    out[names.event_ts] = ts.isoformat().replace("+00:00", "Z")
    return out


def golden_requests(spec: UseCaseSpec | None = None, rows: int = GOLDEN_ROWS) -> list[dict]:
    """Transactions of the newest validated day, spread over it, plus one whose customer
    and merchant the store has never seen (it must come back unscored)."""
    from include.data import lake

    spec = spec or load_spec()
    lake_uri = get_settings().lake_uri
    feed_name = spec.names.events_feed
    days = lake.partitions(lake_uri, feed_name)
    if not days:
        raise CheckFailed("no validated transactions yet: no golden requests", {})
    frame = lake.read_partition(lake_uri, feed_name, days[-1])
    frame = _with_raw_ids(frame, spec, days[-1])
    frame = frame.sort_values(spec.names.tx_key).reset_index(drop=True)
    step = max(1, len(frame) // rows)
    chosen = frame.iloc[::step].head(rows)
    picked = [_row_payload(r, spec) for r in chosen.to_dict("records")]
    # One more event whose entities the store has never seen, under an id of the day that
    # was not picked (a valid id by the spec's rules).
    spare = frame.drop(index=chosen.index)
    feed = spec.events_feed
    unknown = dict(picked[0])
    for column in spec.names.entities.values():
        value = _unseen(feed.column(column), set(frame[column].dropna().tolist()))
        if value is None:
            return picked
        unknown[column] = value
    if spare.empty:
        return picked
    unknown[spec.names.tx_key] = str(spare.iloc[0][spec.names.tx_key])
    return [*picked, unknown]


def _with_raw_ids(frame: Any, spec: UseCaseSpec, day: Any) -> Any:
    """The lake's rows with their pii columns' raw values from the landing zone: a client
    sends raw ids and the service pseudonymises them (rows whose landed file is gone are
    left out)."""
    feed = spec.events_feed
    pii = [c for c in feed.pii_columns if c != feed.key]
    if not pii:
        return frame
    from include.privacy.landed import raw_values

    raw = raw_values(get_settings().landing_uri, feed, day)
    out = frame.drop(columns=pii).join(raw[pii], on=feed.key, how="inner")
    if out.empty:
        raise CheckFailed(
            f"no landed file of {day} holds the raw ids of {pii}: no golden requests", {}
        )
    return out[list(frame.columns)]


def _pseudonymised(rows: list[dict], spec: UseCaseSpec) -> list[dict]:
    """Request rows as the online store knows them: pii values as their pseudonyms."""
    pii = spec.events_feed.pii_columns
    if not pii:
        return rows
    from include.privacy.pseudonym import for_platform

    pseudo = for_platform(get_settings().lake_uri)
    return [pseudo.row(r, pii) for r in rows]


def _unseen(column: ColumnSpec, seen: set[Any]) -> Any:
    """A value of ``column`` that its rules allow and ``seen`` does not hold (None: found none)."""
    import re

    if column.dtype == "int":
        top = int(column.max) if column.max is not None else None
        candidates: list[Any] = [top - i for i in range(100)] if top is not None else []
        candidates.append(max((int(v) for v in seen), default=0) + 1)
        low = column.min if column.min is not None else -math.inf
        high = column.max if column.max is not None else math.inf
        return next((c for c in candidates if c not in seen and low <= c <= high), None)
    if column.dtype != "string":
        return None
    pattern = re.compile(column.regex) if column.regex else None
    examples = sorted(str(v) for v in seen)[:50]
    candidates = ["unknown-entity", *(m for e in examples for m in _mutations(e))]
    return next(
        (
            c
            for c in candidates
            if c not in seen
            and (pattern is None or pattern.fullmatch(c))
            and (column.values is None or c in column.values)
        ),
        None,
    )


def _mutations(example: str) -> list[str]:
    """``example`` with one character changed to the next of its kind (A->B, 9->0, z->a):
    values of the same shape, so a pattern that accepts the example likely accepts them."""
    out = []
    for i, ch in enumerate(example):
        for low, high in (("0", "9"), ("A", "Z"), ("a", "z")):
            if low <= ch <= high:
                nxt = chr(ord(ch) + 1) if ch < high else low
                out.append(example[:i] + nxt + example[i + 1 :])
    return out


def expected_answers(
    requests: list[dict], model_uri: str, threshold: float, spec: UseCaseSpec | None = None
) -> list[dict[str, Any]]:
    """The reference path's answer for each golden request: Feast online features → the
    registry's pyfunc. A null customer or merchant stamp means Feast had no live row."""
    import mlflow
    import numpy as np
    import pandas as pd

    from include.features import schema
    from include.features.training_set import as_timestamp, online_features
    from include.modeling import tracking

    spec = spec or load_spec()
    fspec = schema.feature_spec(spec)
    rows = [
        {**r, spec.names.event_ts: pd.Timestamp(r[spec.names.event_ts]).to_pydatetime()}
        for r in _pseudonymised(requests, spec)
    ]
    online = pd.DataFrame(online_features(rows))
    tracking.configure(get_settings().mlflow_tracking_uri)
    model = mlflow.pyfunc.load_model(model_uri)
    features = schema.model_features(fspec)
    scores = np.asarray(model.predict(online[features].astype("float64")), dtype=np.float64)
    # Feast 0.67 returns rows older than the TTL online; serving flags them (the training
    # join's rule), so the reference does too.
    oldest = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=fspec.ttl_days)
    out = []
    as_of = schema.as_of_columns(fspec)
    for i, r in enumerate(requests):
        stamps = [online[col][i] for col in as_of]
        scored = all(s is not None and not pd.isna(s) and as_timestamp(s) >= oldest for s in stamps)
        out.append(
            {
                "transaction_id": r[spec.names.tx_key],
                "scored": scored,
                "score": float(scores[i]) if scored else None,
                "decision": ("review" if scores[i] >= threshold else "approve")
                if scored
                else spec.serving.unscored_decision,
            }
        )
    return out


def check_golden(
    http: Any, requests: list[dict], expected: list[dict], version: str
) -> dict[str, Any]:
    resp = http.post(PREDICT, json={"transactions": requests})
    problems: list[str] = []
    if resp.status_code != 200:
        return {"passed": False, "problems": [f"HTTP {resp.status_code}: {body(resp)}"]}
    data = resp.json()
    served_version = str((data.get("model") or {}).get("version"))
    if served_version != str(version):
        problems.append(f"served model version {served_version}, expected {version}")
    got = data.get("predictions") or []
    if len(got) != len(expected):
        problems.append(f"{len(got)} predictions for {len(expected)} transactions")
    worst = 0.0
    for want, have in zip(expected, got, strict=False):
        tx = want["transaction_id"]
        if have.get("transaction_id") != tx:
            problems.append(f"{tx}: answer for {have.get('transaction_id')}")
            continue
        if bool(have.get("scored")) != want["scored"]:
            problems.append(f"{tx}: scored={have.get('scored')}, reference {want['scored']}")
            continue
        if have.get("decision") != want["decision"]:
            problems.append(f"{tx}: decision {have.get('decision')}, expected {want['decision']}")
        if want["scored"]:
            p = have.get("fraud_probability")
            if p is None or not (0.0 <= p <= 1.0):
                problems.append(f"{tx}: probability {p!r} outside [0, 1]")
                continue
            worst = max(worst, abs(p - want["score"]))
            if abs(p - want["score"]) > SCORE_TOLERANCE:
                problems.append(f"{tx}: probability {p:.8f}, reference {want['score']:.8f}")
    return {
        "passed": not problems,
        "requests": len(requests),
        "scored": sum(1 for w in expected if w["scored"]),
        "max_abs_score_diff": worst,
        "problems": problems[:20],
    }


# ------------------------------------------------------------------------------ bad input
@dataclass(frozen=True)
class BadInput:
    fault: str
    name: str
    expect: tuple[int, ...]
    build: Callable[[dict, str], tuple[dict[str, str], bytes]]  # (good tx, token) -> req


def _json(payload: Any, token: str, content_type: str = "application/json"):
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
    return headers, json.dumps(payload, allow_nan=True).encode()


def _with(tx: dict, **changes: Any) -> dict:
    out = dict(tx)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


_DROP = object()


def bad_inputs(spec: UseCaseSpec | None = None) -> list[BadInput]:
    """The catalogue every version must refuse (docs/fault-model.md, D and E), built on the
    spec's request fields: a case that needs a kind of field the contract lacks (a float
    for NaN, an integer id, a bounded number) is left out."""
    spec = spec or load_spec()
    names, feed = spec.names, spec.events_feed
    fields = [feed.column(c) for c in (*names.entities.values(), *spec.request_fields)]
    numbers = [c for c in fields if c.dtype in ("int", "float")]
    floats = [c for c in fields if c.dtype == "float"]
    ints = [c for c in fields if c.dtype == "int" and c.name in names.entities.values()]
    bounded = [c for c in numbers if c.min is not None or c.max is not None]
    auth = {"Content-Type": "application/json"}
    big = spec.serving.max_body_kb * 1024

    def changed(**changes: Any) -> Callable[[dict, str], tuple[dict[str, str], bytes]]:
        return lambda tx, t: _json({"transactions": [_with(tx, **changes)]}, t)

    cases = [
        BadInput(
            "D1", "malformed JSON", (400,), lambda tx, t: (_json(0, t)[0], b'{"transactions": [')
        ),
        BadInput(
            "D1",
            "wrong content type",
            (415,),
            lambda tx, t: (
                _json(0, t, "text/plain")[0],
                json.dumps({"transactions": [tx]}).encode(),
            ),
        ),
        BadInput(
            "D2",
            "wrong type",
            (400, 422),
            # a number sent as a string; with no number field, a time sent as a number
            changed(**{numbers[0].name: "12.5"}) if numbers else changed(**{names.event_ts: 12}),
        ),
        BadInput("D2", "missing field", (400, 422), changed(**{names.event_ts: _DROP})),
        BadInput("D2", "unknown field", (400, 422), changed(unexpected_field="123")),
    ]
    if bounded:
        c = bounded[0]
        outside = c.min - 1 if c.min is not None else c.max + 1  # type: ignore[operator]
        cases.append(BadInput("D2", "out of range", (400, 422), changed(**{c.name: outside})))
    if floats:
        cases += [
            BadInput("D2", "NaN", (400, 422), changed(**{floats[0].name: math.nan})),
            BadInput("D2", "Infinity", (400, 422), changed(**{floats[0].name: math.inf})),
        ]
    if ints:
        cases.append(
            BadInput("D2", "id not an integer", (400, 422), changed(**{ints[0].name: 1.5}))
        )
    cases += [
        BadInput("D2", "empty batch", (400, 422), lambda tx, t: _json({"transactions": []}, t)),
        BadInput(
            "D2",
            "batch over the limit",
            (400, 413, 422),
            lambda tx, t: _json({"transactions": [tx] * (spec.serving.max_batch + 1)}, t),
        ),
        BadInput(
            "D5",
            "oversize body",
            (413,),
            lambda tx, t: (_json(0, t)[0], b'{"transactions": ["' + b"x" * (big + 1024) + b'"]}'),
        ),
        BadInput(
            "E4",
            "no token",
            (401,),
            lambda tx, t: (auth, json.dumps({"transactions": [tx]}).encode()),
        ),
        BadInput(
            "E4",
            "wrong token",
            (401,),
            lambda tx, t: _json({"transactions": [tx]}, t + "x"),
        ),
    ]
    return cases


def check_bad_inputs(
    http: Any, good_tx: dict, token: str, spec: UseCaseSpec | None = None
) -> dict[str, Any]:
    results = []
    for case in bad_inputs(spec):
        headers, content = case.build(good_tx, token)
        # The case's own headers only: the client's default token must not sneak in.
        resp = http.post(PREDICT, content=content, headers={"Authorization": "", **headers})
        payload = body(resp)
        explained = isinstance(payload, dict) and bool(payload)
        ok = resp.status_code in case.expect and explained
        results.append(
            {
                "fault": case.fault,
                "case": case.name,
                "status": resp.status_code,
                "expected": list(case.expect),
                "passed": ok,
                "body": str(payload)[:200],
            }
        )
    failed = [r for r in results if not r["passed"]]
    return {"passed": not failed, "cases": results, "failed": failed}


# ------------------------------------------------------------------------------- latency
def check_latency(http: Any, tx: dict, budget_ms: float, requests: int = 300) -> dict[str, Any]:
    payload = {"transactions": [tx]}
    for _ in range(20):  # warm-up: connection, caches
        http.post(PREDICT, json=payload)
    samples, errors = [], 0
    for _ in range(requests):
        start = time.perf_counter_ns()
        resp = http.post(PREDICT, json=payload)
        samples.append(time.perf_counter_ns() - start)
        errors += resp.status_code != 200
    p99 = percentile_ms(samples, 0.99)
    return {
        "passed": errors == 0 and p99 <= budget_ms,
        "requests": requests,
        "errors": errors,
        "p50_ms": round(percentile_ms(samples, 0.50), 3),
        "p99_ms": round(p99, 3),
        "budget_p99_ms": budget_ms,
    }


# ---------------------------------------------------------------------------------- all
def run_checks(
    base_url: str,
    token: str,
    *,
    version: str,
    model_uri: str,
    threshold: float,
    spec: UseCaseSpec | None = None,
) -> dict[str, Any]:
    """Every pre-traffic check against ``base_url``; raises :class:`CheckFailed` with the
    report if any fails, else returns it."""
    spec = spec or load_spec()
    golden = golden_requests(spec)
    expected = expected_answers(golden, model_uri, threshold, spec)
    known = next((g for g, e in zip(golden, expected, strict=True) if e["scored"]), golden[0])
    with client(base_url, token) as http:
        report = {
            "url": base_url,
            "version": version,
            "checked_at": datetime.now(UTC).isoformat(),
            "golden": check_golden(http, golden, expected, version),
            "bad_input": check_bad_inputs(http, known, token, spec),
            "latency": check_latency(http, known, spec.serving.p99_ms),
        }
    failed = [name for name in ("golden", "bad_input", "latency") if not report[name]["passed"]]
    report["passed"] = not failed
    if failed:
        details = []
        if "golden" in failed:
            details.append("golden: " + "; ".join(report["golden"]["problems"][:3]))
        if "bad_input" in failed:
            details.append(
                "bad input: "
                + "; ".join(
                    f"{c['fault']} {c['case']} got {c['status']} (expected {c['expected']})"
                    for c in report["bad_input"]["failed"][:4]
                )
            )
        if "latency" in failed:
            lat = report["latency"]
            details.append(
                f"latency: p99 {lat['p99_ms']} ms over the {lat['budget_p99_ms']} ms budget"
                + (f", {lat['errors']} errors" if lat["errors"] else "")
            )
        raise CheckFailed(
            f"v{version} failed its pre-traffic checks: " + " | ".join(details), report
        )
    return report
