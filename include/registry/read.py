"""The registry's public read API: who the champion is and what any version was made of.

Serving, deployment, monitoring and the training DAG ask here, never MLflow directly and
never the gate's internals:

* :func:`champion_version` — the version the alias points at, or None when there is none
  *yet*; any other registry error propagates (the caller's task retries);
* :func:`champion` — a :class:`RegisteredVersion` (alias :data:`Champion`): exact model URI
  (``models:/<name>/<version>``, never the moving alias), feature list, training set and
  holdout references, the data digest it was trained on, its holdout metrics, its serving
  footprint and its decision threshold as the gate recorded them;
* :func:`model_version` — the same for any version, by number or alias (a pinned version,
  a rollback);
* :func:`newest_judged` — the newest version the gate decided on (promoted, rejected or
  awaiting approval), or None;
* :func:`decision_threshold` — a version's decision threshold, or :class:`ThresholdMissing`
  naming the version when it was registered before thresholds were stored.

The tags the gate writes on every version it judged (promoted or not), read here:
``serving.threshold`` (``repr`` of the float: flag when ``score >= threshold``),
``serving.target_fpr``, ``serving.holdout_fpr``, ``serving.holdout_recall``; and
``gate.<metric>`` (holdout metrics), ``gate.model_p50_ms``, ``gate.model_p99_ms``,
``gate.model_mb`` (single-row predict latency, artifact size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from include.modeling import tracking
from include.modeling.metrics import METRICS
from include.registry.errors import ModelVersionNotFound, ThresholdMissing
from include.spec import ModelSpec, UseCaseSpec, load_spec

THRESHOLD_TAG = "serving.threshold"
TARGET_FPR_TAG = "serving.target_fpr"
HOLDOUT_FPR_TAG = "serving.holdout_fpr"
HOLDOUT_RECALL_TAG = "serving.holdout_recall"
# The gate's footprint measurements, tagged ``gate.<key>`` (numbers, like the metrics).
FOOTPRINT_KEYS = ("model_p50_ms", "model_p99_ms", "model_mb")
_HOLDOUT_KEYS = (*METRICS, "rows", "positives")


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of the registered model and what deploying it needs."""

    name: str
    version: str
    # The alias this version was looked up through ("" when asked for by number).
    alias: str
    model_uri: str  # models:/<name>/<version>, never an alias
    family: str | None
    features: list[str]
    data_sha256: str | None
    training_set_uri: str | None
    training_run_id: str | None
    holdout_uri: str | None
    # The gate's holdout metrics (``gate.<metric>`` tags), e.g. {"pr_auc": 0.62, ...}.
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # Flag when score >= threshold; None for a version registered before thresholds were
    # stored (deploying it: :meth:`require_threshold` says so).
    threshold: float | None = None
    # model_p50_ms, model_p99_ms, model_mb as the gate measured them (empty if never).
    footprint: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # every alias on the version when it was read

    def require_threshold(self) -> float:
        """The decision threshold, or :class:`ThresholdMissing` naming this version."""
        return decision_threshold(self.tags, model=self.name, version=self.version)


# The champion is a registered version looked up through the champion alias.
Champion = RegisteredVersion


def decision_threshold(
    tags: Mapping[str, str], *, model: str = "the model", version: str = "?"
) -> float:
    """The decision threshold a version's ``tags`` carry (serving flags ``score >= it``).

    Raises :class:`ThresholdMissing` naming ``model`` v``version`` when the tag is absent
    (registered before the gate stored thresholds) or not a finite number."""
    raw = tags.get(THRESHOLD_TAG)
    if raw is None:
        raise ThresholdMissing(
            f"{model} v{version} has no {THRESHOLD_TAG} tag: it was trained before thresholds "
            "were stored: retrain (the gate stores one on every version it judges) or deploy "
            "a newer version"
        )
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ThresholdMissing(
            f"{model} v{version}: tag {THRESHOLD_TAG}={raw!r} is not a finite number; "
            "retrain, or deploy another version"
        )
    return value


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        text = str(exc).lower()
        missing_alias = (
            exc.error_code == "INVALID_PARAMETER_VALUE" and "alias" in text and "not found" in text
        )
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST" or missing_alias:
            return None
        raise
    return str(mv.version)


def champion_version(client: Any, model: ModelSpec) -> str | None:
    """The champion's version, or None when there is none *yet*.

    Only "not found" means no champion: no registered model (``RESOURCE_DOES_NOT_EXIST``) or
    no alias on it (MLflow answers ``INVALID_PARAMETER_VALUE`` "alias ... not found"). Any
    other error (server down, database error) propagates and the task retries: judging a
    challenger on the first-model minimums alone could replace a champion it never saw.
    """
    return _alias_version(client, model.registered_name, model.champion_alias)


def _numbers(tags: Mapping[str, str], prefix: str, keys: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for key in keys:
        try:
            out[key] = float(tags[f"{prefix}{key}"])
        except (KeyError, ValueError):
            continue  # not measured, or "None" for an undefined metric
    return out


def _threshold_or_none(tags: Mapping[str, str]) -> float | None:
    try:
        return decision_threshold(tags)
    except ThresholdMissing:
        return None


def _describe(client: Any, model: ModelSpec, version: str, alias: str) -> RegisteredVersion:
    mv = client.get_model_version(model.registered_name, version)
    tags = dict(mv.tags)
    training_run = tags.get("training_run_id")
    return RegisteredVersion(
        name=model.registered_name,
        version=version,
        alias=alias,
        model_uri=f"models:/{model.registered_name}/{version}",
        family=tags.get("family"),
        features=[f for f in tags.get("features", "").split(",") if f],
        data_sha256=tags.get("data_sha256"),
        training_set_uri=tags.get("lineage.training_set_uri"),
        training_run_id=training_run,
        holdout_uri=f"runs:/{training_run}/{tracking.HOLDOUT_ARTIFACT}" if training_run else None,
        holdout_metrics=_numbers(tags, "gate.", _HOLDOUT_KEYS),
        tags=tags,
        threshold=_threshold_or_none(tags),
        footprint=_numbers(tags, "gate.", FOOTPRINT_KEYS),
        aliases=tuple(getattr(mv, "aliases", None) or ()),
    )


def champion(
    spec: UseCaseSpec | None = None, tracking_uri: str | None = None
) -> RegisteredVersion | None:
    """The current champion, or None when no model was promoted yet."""
    spec = spec or load_spec()
    client = tracking.configure(tracking_uri).MlflowClient()
    model = spec.model
    version = champion_version(client, model)
    if version is None:
        return None
    return _describe(client, model, version, model.champion_alias)


def newest_judged(
    spec: UseCaseSpec | None = None, tracking_uri: str | None = None
) -> RegisteredVersion | None:
    """The highest-numbered version carrying the gate's decision (``gate.decision``:
    promoted, rejected, awaiting_approval), or None when the gate judged none yet. A version
    registered by a gate that failed before deciding is not judged."""
    spec = spec or load_spec()
    client = tracking.configure(tracking_uri).MlflowClient()
    name = spec.model.registered_name
    judged = [
        int(v.version)
        for v in client.search_model_versions(f"name = '{name}'")
        if (v.tags or {}).get("gate.decision")
    ]
    if not judged:
        return None
    return _describe(client, spec.model, str(max(judged)), "")


def model_version(
    version: str | int, spec: UseCaseSpec | None = None, tracking_uri: str | None = None
) -> RegisteredVersion:
    """Any version of the registered model, by number (``"7"``) or alias (``"production"``):
    what deploying a pinned or rolled-back version needs, like :func:`champion`.

    Raises :class:`ModelVersionNotFound` when there is no such version or alias."""
    from mlflow.exceptions import MlflowException

    spec = spec or load_spec()
    client = tracking.configure(tracking_uri).MlflowClient()
    model = spec.model
    ref = str(version).strip()
    if not ref.isdigit():
        number = _alias_version(client, model.registered_name, ref)
        if number is None:
            raise ModelVersionNotFound(
                f"{model.registered_name} has no alias {ref!r}: name a version number or an "
                "alias that exists"
            )
        return _describe(client, model, number, ref)
    try:
        return _describe(client, model, str(int(ref)), "")
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise ModelVersionNotFound(
            f"{model.registered_name} has no version {ref}: see the registered versions in MLflow"
        ) from exc
