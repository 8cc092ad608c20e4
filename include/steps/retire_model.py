"""The ``retire_model`` DAG's step (Airflow-free; see :mod:`include.registry.retire`)."""

from __future__ import annotations

from typing import Any

from include.config import get_settings


def retire_version(version: str, reason: str, retired_by: str) -> dict[str, Any]:
    from include.registry.retire import retire

    settings = get_settings()
    return retire(
        version,
        reason,
        retired_by,
        tracking_uri=settings.mlflow_tracking_uri,
        lock_dir=settings.data_root / "locks",
    )
