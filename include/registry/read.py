"""The registry's public read API: who the champion is and what it was made of.

Serving, deployment, monitoring and the training DAG ask here, never MLflow directly and
never the gate's internals:

* :func:`champion_version` — the version the alias points at, or None when there is none
  *yet*; any other registry error propagates (the caller's task retries);
* :func:`champion` — a :class:`Champion`: exact model URI (``models:/<name>/<version>``,
  never the moving alias), feature list, training set and holdout references, the data
  digest it was trained on, and its holdout metrics as the gate recorded them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.modeling import tracking
from include.spec import ModelSpec, UseCaseSpec, load_spec


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    alias: str
    model_uri: str
    family: str | None
    features: list[str]
    data_sha256: str | None
    training_set_uri: str | None
    training_run_id: str | None
    holdout_uri: str | None
    # The gate's holdout metrics (``gate.<metric>`` tags), e.g. {"pr_auc": 0.62, ...}.
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def champion_version(client: Any, model: ModelSpec) -> str | None:
    """The champion's version, or None when there is none *yet*.

    Only "not found" means no champion: no registered model (``RESOURCE_DOES_NOT_EXIST``) or
    no alias on it (MLflow answers ``INVALID_PARAMETER_VALUE`` "alias ... not found"). Any
    other error (server down, database error) propagates and the task retries: judging a
    challenger on the first-model minimums alone could replace a champion it never saw.
    """
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(model.registered_name, model.champion_alias)
    except MlflowException as exc:
        text = str(exc).lower()
        missing_alias = (
            exc.error_code == "INVALID_PARAMETER_VALUE" and "alias" in text and "not found" in text
        )
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST" or missing_alias:
            return None
        raise
    return str(mv.version)


def _metrics(tags: dict[str, str]) -> dict[str, float]:
    out = {}
    for key, value in tags.items():
        if key.startswith("gate."):
            try:
                out[key.removeprefix("gate.")] = float(value)
            except ValueError:
                continue  # gate.reason, gate.report, ...
    return out


def champion(spec: UseCaseSpec | None = None, tracking_uri: str | None = None) -> Champion | None:
    """The current champion, or None when no model was promoted yet."""
    spec = spec or load_spec()
    mlflow = tracking.configure(tracking_uri)
    client = mlflow.MlflowClient()
    model = spec.model
    version = champion_version(client, model)
    if version is None:
        return None
    mv = client.get_model_version(model.registered_name, version)
    tags = dict(mv.tags)
    training_run = tags.get("training_run_id")
    return Champion(
        name=model.registered_name,
        version=version,
        alias=model.champion_alias,
        model_uri=f"models:/{model.registered_name}/{version}",
        family=tags.get("family"),
        features=[f for f in tags.get("features", "").split(",") if f],
        data_sha256=tags.get("data_sha256"),
        training_set_uri=tags.get("lineage.training_set_uri"),
        training_run_id=training_run,
        holdout_uri=f"runs:/{training_run}/{tracking.HOLDOUT_ARTIFACT}" if training_run else None,
        holdout_metrics=_metrics(tags),
        tags=tags,
    )
