"""The request contract (faults D1, D2): strict types, ranges, fields, timestamps."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from include.spec import load_spec
from serving import contract

SPEC = load_spec()
CONTRACT = contract.build(SPEC)
GOOD = {
    "transaction_id": "tx_0123456789abcdef",
    "customer_id": "cus_000017",
    "merchant_id": 4,
    "amount": 12.5,
    "event_timestamp": "2026-11-30T10:00:00Z",
}


def body(*transactions: dict, **top) -> bytes:
    return json.dumps({"transactions": list(transactions), **top}, allow_nan=True).encode()


def refused(raw: bytes) -> tuple[int, dict]:
    with pytest.raises(ValidationError) as caught:
        CONTRACT.request.model_validate_json(raw)
    return contract.explain(caught.value, CONTRACT)


def test_a_good_request_is_accepted_and_times_are_normalised_to_utc() -> None:
    tx = dict(GOOD, event_timestamp="2026-11-30T12:00:00+02:00")
    request = CONTRACT.request.model_validate_json(body(tx))
    (parsed,) = request.transactions
    assert parsed.event_timestamp == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parsed.amount == 12.5 and parsed.customer_id == "cus_000017"
    assert CONTRACT.fields == (
        "transaction_id",
        "customer_id",
        "merchant_id",
        "amount",
        "event_timestamp",
    )


@pytest.mark.parametrize("raw", [b'{"transactions": [', b"", b"{'a': 1}", b"not json"])
def test_D1_malformed_json_is_a_400_naming_the_parse_error(raw) -> None:
    status, payload = refused(raw)
    assert status == 400
    assert payload["error"] == "malformed_json" and "line 1" in payload["message"]
    assert payload["expected"]["transactions"][0].keys() == set(CONTRACT.fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("merchant_id", "17"),  # no "12" -> 12
        ("merchant_id", True),  # no bool for an int
        ("merchant_id", 17.0),  # an id is an integer, not a float
        ("merchant_id", [4]),
        ("customer_id", 17),  # no 17 -> "17" for a text id
        ("amount", "12.5"),
        ("amount", True),
        ("transaction_id", 123),
        ("event_timestamp", 1764496800),  # epoch seconds are ambiguous (s? ms?)
    ],
)
def test_D2_wrong_types_are_refused_without_coercion(field, value) -> None:
    status, payload = refused(body(dict(GOOD, **{field: value})))
    assert status == 422
    (problem,) = payload["problems"]
    assert problem["field"] == f"transactions[0].{field}"
    assert problem["allowed"] == CONTRACT.allowed[field]
    assert "got" in problem


def test_D2_missing_and_unknown_fields_name_the_field_and_what_is_allowed() -> None:
    tx = {k: v for k, v in GOOD.items() if k != "amount"} | {"cvv": "123"}
    status, payload = refused(body(tx, debug=True))
    assert status == 422
    problems = {p["field"]: p for p in payload["problems"]}
    assert problems["transactions[0].amount"]["problem"] == "Field required"
    assert "from 0.01 to 50000" in problems["transactions[0].amount"]["allowed"]
    assert "transaction_id" in problems["transactions[0].cvv"]["allowed"]
    assert problems["debug"]["allowed"] == "only the fields ['transactions']"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("amount", 0.0, "from 0.01 to 50000"),
        ("amount", 50000.01, "from 0.01 to 50000"),
        ("merchant_id", 0, "from 1 to 10000000"),
        ("customer_id", "17", "^cus_[0-9]{6,}$"),
        ("merchant_id", 10_000_001, "from 1 to 10000000"),
        ("transaction_id", "tx_XYZ", "^tx_[0-9a-f]{16}$"),
    ],
)
def test_D2_out_of_range_values_are_refused_with_the_range(field, value, words) -> None:
    status, payload = refused(body(dict(GOOD, **{field: value})))
    assert status == 422 and words in payload["problems"][0]["allowed"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_D2_nan_and_infinity_are_refused_although_json_parsers_accept_them(literal) -> None:
    raw = body(GOOD).replace(b"12.5", literal)
    assert json.loads(raw)  # Python's json takes the literal: the contract must not
    status, payload = refused(raw)
    assert status == 422
    assert payload["problems"][0]["field"] == "transactions[0].amount"
    assert "finite" in payload["problems"][0]["problem"]


def test_D2_naive_and_far_future_timestamps_are_refused_near_future_is_clock_skew() -> None:
    now = datetime.now(UTC)
    naive = dict(GOOD, event_timestamp="2026-11-30T10:00:00")
    future = dict(GOOD, event_timestamp=(now + timedelta(hours=1)).isoformat())
    skew = dict(GOOD, event_timestamp=(now + timedelta(minutes=1)).isoformat())
    status, payload = refused(body(naive, future))
    assert status == 422
    assert [p["field"] for p in payload["problems"]] == [
        "transactions[0].event_timestamp",
        "transactions[1].event_timestamp",
    ]
    assert "timezone" in payload["problems"][0]["problem"]
    assert "ahead of the server clock" in payload["problems"][1]["problem"]
    assert CONTRACT.request.model_validate_json(body(skew))


def test_D2_a_batch_holds_one_to_max_batch_transactions() -> None:
    for raw in (body(), body(*[GOOD] * (SPEC.serving.max_batch + 1))):
        status, payload = refused(raw)
        assert status == 422 and payload["problems"][0]["field"] == "transactions"
        assert f"1 to {SPEC.serving.max_batch}" in payload["problems"][0]["allowed"]
    assert CONTRACT.request.model_validate_json(body(*[GOOD] * SPEC.serving.max_batch))


def test_D2_not_an_object_is_refused_with_the_expected_shape() -> None:
    status, payload = refused(b"[1, 2]")
    assert status == 422 and payload["problems"][0]["allowed"].startswith("a JSON object")
    status, payload = refused(body(1))
    assert payload["problems"][0]["field"] == "transactions[0]"


def test_many_problems_are_listed_up_to_a_limit_and_counted() -> None:
    bad = dict(GOOD, amount=-1.0, customer_id=17)
    status, payload = refused(body(*[bad] * 50))
    assert status == 422
    assert len(payload["problems"]) == contract.MAX_PROBLEMS
    assert payload["more_problems"] == 100 - contract.MAX_PROBLEMS


def test_the_request_fields_come_from_the_spec(tmp_path) -> None:
    import yaml

    raw = yaml.safe_load(SPEC.path.read_text())
    raw["feeds"]["transactions"]["columns"]["amount"]["max"] = 100
    raw["serving"]["max_batch"] = 2
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    small = contract.build(load_spec(path))
    with pytest.raises(ValidationError):
        small.request.model_validate_json(body(dict(GOOD, amount=150.0)))
    with pytest.raises(ValidationError):
        small.request.model_validate_json(body(GOOD, GOOD, GOOD))
    assert not math.isnan(small.request.model_validate_json(body(GOOD)).transactions[0].amount)
