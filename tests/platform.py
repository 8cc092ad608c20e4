"""The trained platform of the serving, deployment and scoring tests (built by
``devtools.trained_platform``), and how a test uses it.

Tests that *change* the registry or the online store must copy the platform first
(:func:`copy_platform`): the session's copy is shared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from devtools.trained_platform import DAYS, ROWS, Platform, build_platform, small_spec

__all__ = [
    "DAYS",
    "ROWS",
    "Platform",
    "build_platform",
    "copy_platform",
    "small_spec",
    "use_platform",
]


def copy_platform(platform: Platform, root: Path) -> Platform:
    """A private copy (registry, lake, stores) a test may change. MLflow's artifact root
    and Feast's registry are paths under the data root, so the copy is self-contained
    only if nothing points back: the tracking DB keeps absolute artifact paths, which stay
    readable (read-only use of the session's artifacts)."""
    shutil.copytree(platform.root, root)
    spec_path = root.parent / f"{root.name}-spec.yaml"
    shutil.copy(platform.spec_path, spec_path)
    return Platform(
        root=root,
        spec_path=spec_path,
        tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
        champion_version=platform.champion_version,
        days=platform.days,
    )


def use_platform(platform: Platform, monkeypatch) -> Platform:
    """Point this test's environment at ``platform``."""
    for key, value in platform.env().items():
        monkeypatch.setenv(key, value)
    for var in ("MLOPS_LANDING_URI", "MLOPS_LAKE_URI", "MLOPS_FEATURES_URI", "MLOPS_GX_ROOT"):
        monkeypatch.delenv(var, raising=False)
    return platform
