"""A real MLflow registry for the registry's unit tests: one SQLite store per test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite DB for the module (its first migration takes seconds), absolute path."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def client(tracking_uri: str) -> Iterator[Any]:
    from include.modeling import tracking

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow = tracking.configure(tracking_uri)
    yield mlflow.MlflowClient()
    # set_tracking_uri also exports MLFLOW_TRACKING_URI; later test modules must not see it.
    mlflow.set_tracking_uri(previous)
