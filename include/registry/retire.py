"""Retire a registered model version: it stays in the registry (with its Bentos and its
deployment records) but may never be champion or deployed again.

A retired version carries ``lifecycle.retired=true`` and ``lifecycle.retired_by``,
``lifecycle.retired_at``, ``lifecycle.retired_reason``. The gate refuses to promote it
(:func:`include.registry.approval.approve`, :func:`include.registry.gate.promote`) and
deployment refuses to pin or roll back to it (:func:`include.deployment.package.resolve`).

Retiring the champion or the version serving production is refused
(:class:`RetirementRefused`), with what to do first. Retiring twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.registry.errors import ModelVersionNotFound, RetirementRefused, VersionRetired
from include.spec import UseCaseSpec, load_spec

RETIRED_TAG = "lifecycle.retired"
RETIRED_BY_TAG = "lifecycle.retired_by"
RETIRED_AT_TAG = "lifecycle.retired_at"
RETIRED_REASON_TAG = "lifecycle.retired_reason"


def is_retired(tags: Mapping[str, str] | None) -> bool:
    return str((tags or {}).get(RETIRED_TAG, "")).lower() == "true"


def retirement(tags: Mapping[str, str] | None) -> dict[str, str | None]:
    """Who retired the version, when and why (None each when it is not retired)."""
    tags = tags or {}
    if not is_retired(tags):
        return {"retired_by": None, "retired_at": None, "retired_reason": None}
    return {
        "retired_by": tags.get(RETIRED_BY_TAG),
        "retired_at": tags.get(RETIRED_AT_TAG),
        "retired_reason": tags.get(RETIRED_REASON_TAG),
    }


def refuse_retired(name: str, version: str, tags: Mapping[str, str] | None) -> None:
    """Raise :class:`VersionRetired` if the version's ``tags`` say it was retired."""
    if is_retired(tags):
        info = retirement(tags)
        raise VersionRetired(
            f"{name} v{version} was retired by {info['retired_by']} at {info['retired_at']} "
            f"({info['retired_reason']}): it can not be promoted or deployed; pick another "
            "version (see the registered versions in MLflow)"
        )


def retire(
    version: str | int,
    reason: str,
    retired_by: str = "",
    *,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    lock_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Retire ``version``; returns what was recorded (``already``: it was retired before, and
    nothing changed). Under the promotion lock, so no promotion races the check."""
    from mlflow.exceptions import MlflowException

    from include.modeling import tracking
    from include.registry.lock import promotion_lock

    spec = spec or load_spec()
    model = spec.model
    name, ref = model.registered_name, str(version).strip()
    if not ref.isdigit():
        raise ValueError(f"version must be a version number, got {version!r}")
    if not str(reason or "").strip():
        raise ValueError("a retirement needs a reason (it is kept on the version)")
    client = tracking.configure(tracking_uri).MlflowClient()
    with promotion_lock(name, lock_dir):
        try:
            mv = client.get_model_version(name, ref)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise ModelVersionNotFound(f"{name} has no version {ref}: nothing to retire") from exc
        tags, aliases = dict(mv.tags), set(getattr(mv, "aliases", None) or ())
        if is_retired(tags):
            return {"model": name, "version": ref, "already": True, **retirement(tags)}
        if model.champion_alias in aliases:
            raise RetirementRefused(
                f"{name} v{ref} is the {model.champion_alias}: promote another version first "
                "(train_model, or approve a waiting challenger), then retire it"
            )
        if spec.serving.deployed_alias in aliases:
            raise RetirementRefused(
                f"{name} v{ref} serves production (alias {spec.serving.deployed_alias}): deploy "
                "another version first (deploy_model with the Param version=<N>), then retire it"
            )
        at = (now or datetime.now(UTC)).isoformat()
        by = str(retired_by or "").strip() or "unknown"
        for key, value in {
            RETIRED_TAG: "true",
            RETIRED_BY_TAG: by,
            RETIRED_AT_TAG: at,
            RETIRED_REASON_TAG: str(reason).strip()[: tracking.MAX_TAG_VALUE],
        }.items():
            client.set_model_version_tag(name, ref, key, value)
        if model.challenger_alias in aliases:  # a retired version is nobody's challenger
            client.delete_registered_model_alias(name, model.challenger_alias)
    return {
        "model": name,
        "version": ref,
        "already": False,
        "retired_by": by,
        "retired_at": at,
        "retired_reason": str(reason).strip(),
    }
