"""The scoring API's request and response, as pydantic v2 models built from the spec.

Request::

    {"transactions": [{"transaction_id": "tx_0123456789abcdef", "customer_id": 17,
                       "merchant_id": 4, "amount": 12.5,
                       "event_timestamp": "2026-12-01T10:00:00Z"}, ...]}

Field names come from the spec (``names``: the events' key and timestamp, the entity join
keys) plus the request fields the request-time features are computed from; types,
ranges and patterns come from the spec's ``transactions`` feed, so the API refuses what
ingest would quarantine. The batch holds 1 to ``serving.max_batch`` transactions.

Strict by design, since a wrong value is scored silently otherwise: no coercion (``"12"``
is not 12, ``true`` is not 1, ``12.0`` is not an id), no missing and no unknown fields, no
NaN or Infinity (Python's json would accept the literals), values within the feed's range.
**Timestamps** must carry a UTC offset (naive times are ambiguous) and may be at most
:data:`MAX_FUTURE` ahead of the server clock (clock skew); any past time is accepted
(replays, late scoring). They are normalised to UTC.

Response: ``request_id``, ``model`` {name, version} and one entry per transaction in
request order (:class:`Prediction`). :func:`explain` turns a validation error into the
actionable body the service answers with (which field, what is wrong, what is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError

from include.spec import DECISIONS, ColumnSpec, UseCaseSpec

MAX_FUTURE = timedelta(minutes=5)
MAX_PROBLEMS = 20  # listed in one error body; the rest are counted
_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class ContractError(ValueError):
    """The spec can not describe a request field (unknown column or type)."""


def _not_in_future(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    if value - datetime.now(UTC) > MAX_FUTURE:
        raise PydanticCustomError(
            "timestamp_in_future",
            "{ts} is more than {minutes} minutes ahead of the server clock",
            {"ts": value.isoformat(), "minutes": int(MAX_FUTURE.total_seconds() // 60)},
        )
    return value


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _field(column: ColumnSpec) -> tuple[Any, str]:
    """A column's pydantic type and the words saying what it allows."""
    bounds = {k: v for k, v in (("ge", column.min), ("le", column.max)) if v is not None}
    low, high = _number(column.min), _number(column.max)
    span = ""
    if low and high:
        span = f" from {low} to {high}"
    elif low:
        span = f" >= {low}"
    elif high:
        span = f" <= {high}"
    if column.values is not None:
        values = tuple(column.values)
        return Literal[values], f"one of {list(values)}"
    if column.dtype == "string":
        if column.regex:
            return Annotated[str, StringConstraints(pattern=column.regex)], (
                f"a string matching {column.regex}"
            )
        return Annotated[str, StringConstraints(min_length=1)], "a non-empty string"
    if column.dtype == "int":
        return Annotated[int, Field(**bounds)], f"a JSON integer{span} (not a string)"
    if column.dtype == "float":
        return Annotated[float, Field(**bounds, allow_inf_nan=False)], (
            f"a finite JSON number{span} (not a string, not NaN or Infinity)"
        )
    if column.dtype == "timestamp":
        minutes = int(MAX_FUTURE.total_seconds() // 60)
        return Annotated[AwareDatetime, AfterValidator(_not_in_future)], (
            "an ISO 8601 date-time with a UTC offset, e.g. 2026-12-01T10:00:00Z, at most "
            f"{minutes} minutes in the future"
        )
    raise ContractError(f"column {column.name!r}: no request type for {column.dtype!r}")


@dataclass(frozen=True)
class Contract:
    """The request models for one spec and what each field allows."""

    transaction: type[BaseModel]
    request: type[BaseModel]
    fields: tuple[str, ...]  # a transaction's fields, in order
    allowed: dict[str, str]  # field -> what it allows (error bodies)
    max_batch: int
    tx_key: str
    event_ts: str
    entities: dict[str, str]  # entity -> join key field

    def example(self) -> dict[str, Any]:
        """The request's shape, for error bodies and docs."""
        return {"transactions": [dict.fromkeys(self.fields, "...")]}


def build(spec: UseCaseSpec) -> Contract:
    """The request models for ``spec`` (build once per process: models are classes)."""
    feed = spec.events_feed
    names = spec.names
    fields = tuple(
        dict.fromkeys(
            (names.tx_key, *names.entities.values(), *spec.request_fields, names.event_ts)
        )
    )
    definitions: dict[str, Any] = {}
    allowed: dict[str, str] = {}
    for name in fields:
        try:
            column = feed.column(name)
        except KeyError:
            raise ContractError(
                f"{spec.path}: feeds.{feed.name} has no column {name!r}, which a "
                "scoring request needs"
            ) from None
        annotation, words = _field(column)
        definitions[name] = (annotation, ...)
        allowed[name] = words
    transaction = create_model(
        "Transaction", __config__=_STRICT, __module__=__name__, **definitions
    )
    batch = Annotated[list[transaction], Field(min_length=1, max_length=spec.serving.max_batch)]
    request = create_model(
        "PredictRequest", __config__=_STRICT, __module__=__name__, transactions=(batch, ...)
    )
    return Contract(
        transaction=transaction,
        request=request,
        fields=fields,
        allowed=allowed,
        max_batch=spec.serving.max_batch,
        tx_key=names.tx_key,
        event_ts=names.event_ts,
        entities=dict(names.entities),
    )


# ------------------------------------------------------------------------------ response
class ModelRef(BaseModel):
    name: str
    version: str


class Prediction(BaseModel):
    transaction_id: str
    fraud_probability: float | None = Field(
        description="P(fraud) in [0, 1]; null only when the transaction was not scored"
    )
    decision: Literal[DECISIONS]  # type: ignore[valid-type]
    scored: bool
    unscored_reason: dict[str, Literal["missing", "expired"]] | None = Field(
        default=None, description="entity -> why its features could not be used"
    )
    threshold: float = Field(description="the served version's decision threshold")
    features_as_of: dict[str, str | None] = Field(
        description="entity -> the stored feature row's time (ISO 8601, UTC)"
    )


class PredictResponse(BaseModel):
    request_id: str
    model: ModelRef
    predictions: list[Prediction]


# -------------------------------------------------------------------------------- errors
def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def explain(exc: ValidationError, contract: Contract) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for a request that failed validation: 400 when the
    body is not JSON, else 422 with each problem's field, what is wrong and what is allowed.
    Nothing of the request is scored."""
    errors = exc.errors(include_url=False, include_context=True, include_input=True)
    if any(e["type"] == "json_invalid" for e in errors):
        detail = next(e for e in errors if e["type"] == "json_invalid")
        return 400, {
            "error": "malformed_json",
            "message": f"the body is not valid JSON: {detail.get('ctx', {}).get('error', '')}",
            "expected": contract.example(),
        }
    batch = f"a JSON array of 1 to {contract.max_batch} transaction objects"
    problems = []
    for e in errors[:MAX_PROBLEMS]:
        loc = tuple(e["loc"])
        field = loc[-1] if loc else None
        if e["type"] == "extra_forbidden":
            allowed = (
                f"only the fields {list(contract.fields if len(loc) > 1 else ['transactions'])}"
            )
        elif len(loc) >= 3 and field in contract.allowed:
            allowed = contract.allowed[str(field)]
        elif len(loc) == 2 and isinstance(field, int):
            allowed = f"an object with the fields {list(contract.fields)}"
        elif loc[:1] == ("transactions",):
            allowed = batch
        else:
            allowed = 'a JSON object {"transactions": [...]}'
        problem = {"field": _where(loc), "problem": e["msg"], "allowed": allowed}
        if e["type"] != "missing" and "input" in e:
            problem["got"] = _shown(e["input"])
        problems.append(problem)
    body = {
        "error": "invalid_request",
        "message": f"{len(errors)} problem(s) in the request; nothing was scored",
        "problems": problems,
        "expected": {"transactions": batch, "fields": contract.allowed},
    }
    if len(errors) > MAX_PROBLEMS:
        body["more_problems"] = len(errors) - MAX_PROBLEMS
    return 422, body
