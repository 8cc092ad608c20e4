"""Typed view of the use-case spec (``usecase/fraud.yaml`` by default).

The spec holds every use-case parameter (feeds, schema, thresholds, label delay, model
target, alert recipients) so that no use-case constant lives in DAG code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ColumnType = Literal["string", "int", "float", "timestamp"]


class SpecError(ValueError):
    """The use-case spec is malformed; the message names the key and the file."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    nullable: bool = False
    max_null_fraction: float = 0.0
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] | None = None
    regex: str | None = None


@dataclass(frozen=True)
class FeedSpec:
    name: str
    key: str
    timestamp: str
    columns: tuple[ColumnSpec, ...]
    extra_columns: Literal["reject", "drop"] = "reject"
    min_rows: int = 1
    max_rows: int = 10_000_000
    allowed_lateness_hours: float = 48.0
    max_batch_mb: float = 512.0
    sensitive_attributes: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class AlertSpec:
    recipients: tuple[str, ...]
    from_email: str
    subject_prefix: str = "[airflow-mlops]"


@dataclass(frozen=True)
class UseCaseSpec:
    name: str
    path: Path
    alerts: AlertSpec
    feeds: dict[str, FeedSpec]
    simulator: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def feed(self, name: str) -> FeedSpec:
        try:
            return self.feeds[name]
        except KeyError:
            raise SpecError(f"{self.path}: no feed {name!r}; known: {sorted(self.feeds)}") from None


_TYPES = {"string", "int", "float", "timestamp"}


def _column(feed: str, name: str, raw: dict[str, Any], path: Path) -> ColumnSpec:
    ctype = raw.get("type")
    if ctype not in _TYPES:
        raise SpecError(f"{path}: feeds.{feed}.columns.{name}.type must be one of {sorted(_TYPES)}")
    values = raw.get("values")
    return ColumnSpec(
        name=name,
        type=ctype,
        nullable=bool(raw.get("nullable", False)),
        max_null_fraction=float(raw.get("max_null_fraction", 0.0)),
        min=raw.get("min"),
        max=raw.get("max"),
        values=tuple(values) if values is not None else None,
        regex=raw.get("regex"),
    )


def _feed(name: str, raw: dict[str, Any], path: Path) -> FeedSpec:
    try:
        columns = tuple(_column(name, c, v or {}, path) for c, v in raw["columns"].items())
        rows = raw.get("row_count", {})
        feed = FeedSpec(
            name=name,
            key=raw["key"],
            timestamp=raw["timestamp"],
            columns=columns,
            extra_columns=raw.get("extra_columns", "reject"),
            min_rows=int(rows.get("min", 1)),
            max_rows=int(rows.get("max", 10_000_000)),
            allowed_lateness_hours=float(raw.get("allowed_lateness_hours", 48)),
            max_batch_mb=float(raw.get("max_batch_mb", 512)),
            sensitive_attributes=tuple(raw.get("sensitive_attributes", ())),
        )
    except KeyError as exc:
        raise SpecError(f"{path}: feeds.{name} is missing {exc}") from None
    if feed.extra_columns not in ("reject", "drop"):
        raise SpecError(f"{path}: feeds.{name}.extra_columns must be 'reject' or 'drop'")
    for required in (feed.key, feed.timestamp):
        if required not in feed.column_names:
            raise SpecError(f"{path}: feeds.{name}: {required!r} is not a declared column")
    return feed


def load_spec(path: str | Path | None = None) -> UseCaseSpec:
    """Load and check the spec; ``path`` defaults to the settings' ``usecase_spec``."""
    if path is None:
        from include.config import get_settings

        path = get_settings().usecase_spec
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"use-case spec not found: {path} (set MLOPS_USECASE_SPEC)") from None
    if not isinstance(raw, dict) or "feeds" not in raw:
        raise SpecError(f"{path}: expected a mapping with a 'feeds' section")
    alerts = raw.get("alerts", {})
    return UseCaseSpec(
        name=raw.get("name", path.stem),
        path=path,
        alerts=AlertSpec(
            recipients=tuple(alerts.get("recipients", ())),
            from_email=alerts.get("from_email", "airflow-mlops@localhost"),
            subject_prefix=alerts.get("subject_prefix", "[airflow-mlops]"),
        ),
        feeds={name: _feed(name, f, path) for name, f in raw["feeds"].items()},
        simulator=raw.get("simulator", {}),
        labels=raw.get("labels", {}),
        model=raw.get("model", {}),
        raw=raw,
    )
