"""A registered model version → BentoML's model store → its Bento.

The version is resolved to an exact number first (the champion alias is read once, here,
and never again), so a deployment always names what it packaged. The model's files are
downloaded from the registry into a BentoML model tagged ``<name>:v<version>`` with the
threshold and lineage as metadata (``serving.model.package``), then the Bento is built
(``serving.bento.build``). Both are idempotent: a retry reuses what a previous try built.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from typing import Any

from include.config import get_settings
from include.spec import UseCaseSpec, load_spec


class NothingToDeploy(RuntimeError):
    """No version given and no champion in the registry yet."""


@dataclass(frozen=True)
class Target:
    """The exact version a deployment is about, with what serving needs to know."""

    name: str
    version: str
    model_uri: str
    threshold: float
    features: list[str]
    tags: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(version: str | None, spec: UseCaseSpec | None = None) -> Target:
    """``version`` ("" or None: the current champion) as a :class:`Target`; a version
    without a stored threshold is refused with the reason (it can not decide), a retired one
    with :class:`include.registry.errors.VersionRetired`."""
    from include.registry import read
    from include.registry.retire import refuse_retired

    spec = spec or load_spec()
    tracking_uri = get_settings().mlflow_tracking_uri
    if version:
        info = read.model_version(str(version), spec, tracking_uri)
    else:
        info = read.champion(spec, tracking_uri)
        if info is None:
            raise NothingToDeploy(
                f"{spec.model.registered_name} has no {spec.model.champion_alias} yet: "
                "nothing to deploy (train a model first, or pass a version)"
            )
    # A retired version is never deployed again, pinned or as a rollback (VersionRetired).
    refuse_retired(info.name, str(info.version), info.tags)
    threshold = read.decision_threshold(info.tags, version=info.version)
    return Target(
        name=info.name,
        version=str(info.version),
        model_uri=info.model_uri,
        threshold=threshold,
        features=list(info.features),
        tags=dict(info.tags),
    )


def package(target: Target) -> dict[str, Any]:
    """The version's BentoML model and Bento; returns their tags and the Bento's path."""
    import mlflow

    from include.modeling import tracking
    from serving import bento, model

    tracking.configure(get_settings().mlflow_tracking_uri)
    with tempfile.TemporaryDirectory(prefix="mlops-deploy-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=target.model_uri, dst_path=tmp)
        model_tag = model.package(
            local,
            name=target.name,
            version=target.version,
            threshold=target.threshold,
            metadata=model_metadata(target),
        )
    bento_tag = bento.build(str(model_tag), version=target.version)
    return {"model_tag": str(model_tag), "bento_tag": str(bento_tag), **_bento_files(bento_tag)}


def model_metadata(target: Target) -> dict[str, Any]:
    """What the BentoML model records of its registry version (lineage, threshold's FPR).
    The same version always gets the same metadata: packaging it again is a no-op."""
    return {
        "model_uri": target.model_uri,
        "features": target.features,
        "target_fpr": target.tags.get("serving.target_fpr"),
        "family": target.tags.get("family"),
        "training_run_id": target.tags.get("training_run_id"),
        "data_sha256": target.tags.get("data_sha256"),
        "git_commit": target.tags.get("lineage.git_commit"),
    }


def _bento_files(bento_tag: str) -> dict[str, str]:
    import bentoml

    path = bentoml.bentos.get(bento_tag).path
    return {"bento_path": str(path), "dockerfile": f"{path}/env/docker/Dockerfile"}
