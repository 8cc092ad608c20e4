"""The use-case spec (``usecase/<name>.yaml``): every word and number of a use case.

A use case is a spec file: its feeds (schema, keys, timestamps, checks), how labels arrive,
its entities and features (aggregations per entity over windows, request-time transforms),
its model and gate policy, its serving contract and its monitoring policy. No use-case
name or column lives in platform code; the stages read them here.

* :mod:`include.spec.sections`: the sections as typed, frozen pydantic dataclasses (the
  validator, and the JSON Schema editors use: ``make spec-schema``);
* :mod:`include.spec.references`: the checks between sections;
* :func:`load_spec`: reads a file and reports **every** problem at once in a
  :class:`SpecError` (``python -m include.spec check usecase/X.yaml`` prints them).

Importing this costs PyYAML and pydantic, so DAG files may import it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from include.spec import references
from include.spec.problems import Problem, SpecError, structural
from include.spec.sections import (
    AGGREGATIONS,
    APPROVAL_CONDITIONS,
    CANDIDATE_FAMILIES,
    DECISIONS,
    DRIFT_METHODS,
    EVENTS,
    LABELS,
    METRICS,
    P_VALUE_DRIFT_METHODS,
    REQUEST_TRANSFORMS,
    AggregationSpec,
    AlertSpec,
    ApprovalSpec,
    ColumnSpec,
    ColumnType,
    EntitySpec,
    FeaturesSpec,
    FeedSpec,
    LabelsSpec,
    ModelSpec,
    MonitoringSpec,
    Names,
    RequestSpec,
    ServingSpec,
    SimulatorSpec,
    SplitSpec,
    TransformSpec,
    UseCaseSpec,
)

__all__ = [
    "AGGREGATIONS",
    "APPROVAL_CONDITIONS",
    "CANDIDATE_FAMILIES",
    "DECISIONS",
    "DRIFT_METHODS",
    "EVENTS",
    "LABELS",
    "METRICS",
    "P_VALUE_DRIFT_METHODS",
    "REQUEST_TRANSFORMS",
    "AggregationSpec",
    "AlertSpec",
    "ApprovalSpec",
    "ColumnSpec",
    "ColumnType",
    "EntitySpec",
    "FeaturesSpec",
    "FeedSpec",
    "LabelsSpec",
    "ModelSpec",
    "MonitoringSpec",
    "Names",
    "Problem",
    "RequestSpec",
    "ServingSpec",
    "SimulatorSpec",
    "SpecError",
    "SplitSpec",
    "TransformSpec",
    "UseCaseSpec",
    "json_schema",
    "load_spec",
    "parse_spec",
    "problems_of",
]

_ADAPTER = TypeAdapter(UseCaseSpec)


def _without_nulls(value: Any) -> Any:
    """A key set to null counts as missing (``monitoring:`` alone means its defaults)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _with_names(raw: dict[str, Any], path: Path) -> tuple[dict[str, Any], list[Problem]]:
    """A copy of ``raw`` with the names the layout gives (feed and column keys, the file's
    stem as the default ``name``) set on their sections; a file may not set them itself."""
    out, problems = _without_nulls(copy.deepcopy(raw)), []
    out.setdefault("name", path.stem)
    out["path"] = path
    for feed_name, feed in (
        (out.get("feeds") or {}).items() if isinstance(out.get("feeds"), dict) else ()
    ):
        if not isinstance(feed, dict):
            continue
        if "name" in feed:
            problems.append(
                Problem(
                    f"feeds.{feed_name}.name", "unknown key: a feed is named by its key under feeds"
                )
            )
        feed["name"] = str(feed_name)
        for col_name, column in (
            (feed.get("columns") or {}).items() if isinstance(feed.get("columns"), dict) else ()
        ):
            if isinstance(column, dict):
                if "name" in column:
                    problems.append(
                        Problem(
                            f"feeds.{feed_name}.columns.{col_name}.name",
                            "unknown key: a column is named by its key under columns",
                        )
                    )
                column["name"] = str(col_name)
    return out, problems


def problems_of(raw: Any, path: Path) -> tuple[UseCaseSpec | None, list[Problem]]:
    """The typed spec (None when it has problems) and every problem of the mapping ``raw``."""
    if not isinstance(raw, dict):
        return None, [Problem("", f"expected a mapping of sections, got {type(raw).__name__}")]
    raw = _without_nulls(raw)
    named, problems = _with_names(raw, path)
    spec = None
    try:
        spec = _ADAPTER.validate_python(named)
    except ValidationError as exc:
        problems += structural(UseCaseSpec, exc)
    problems += references.check(raw)
    unique = sorted(set(problems), key=problems.index)
    return (spec if not unique else None), unique


def parse_spec(text: str, path: Path) -> UseCaseSpec:
    """The spec in ``text`` (YAML), or a :class:`SpecError` listing every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    spec, problems = problems_of(raw, path)
    if spec is None:
        raise SpecError.of(path, problems)
    return spec


def load_spec(path: str | Path | None = None) -> UseCaseSpec:
    """Load and check the spec; ``path`` defaults to the settings' ``usecase_spec``."""
    if path is None:
        from include.config import get_settings

        path = get_settings().usecase_spec
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"use-case spec not found: {path} (set MLOPS_USECASE_SPEC)") from None
    return parse_spec(text, path)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (for editors: ``make spec-schema``)."""
    schema = _ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "airflow-mlops use-case spec"
    return schema
