"""Fixtures of the console tests: the console app inside Airflow's own api-server app (so
Airflow's auth manager, middlewares and cookie handling are the real ones), tokens, a lake."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def plugin_module():
    spec = importlib.util.spec_from_file_location(
        "mlops_console", ROOT / "plugins/mlops_console.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def airflow_app(plugin_module):
    """Airflow's api-server app (core), with exactly this plugin's FastAPI app mounted."""
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app

    mp = pytest.MonkeyPatch()
    mp.setattr(
        plugins_manager,
        "get_fastapi_plugins",
        lambda: (plugin_module.MlopsConsolePlugin.fastapi_apps, []),
    )
    # Token checks look up revoked tokens in the metadata DB: the unit tier has no migrated
    # DB, so only that table is created (checkfirst: a migrated DB is left as it is).
    from airflow.models.revoked_token import RevokedToken
    from airflow.settings import engine

    RevokedToken.__table__.create(engine, checkfirst=True)
    try:
        yield create_app(apps="core")
    finally:
        mp.undo()


def _token(role: str = "admin", username: str = "console-test") -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture
def token(airflow_app) -> str:
    return _token()


@pytest.fixture
def anonymous(airflow_app) -> Iterator[TestClient]:
    with TestClient(airflow_app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(airflow_app, token: str) -> Iterator[TestClient]:
    """A browser session: the ``_token`` cookie Airflow's login sets."""
    with TestClient(airflow_app, follow_redirects=False) as c:
        c.cookies.set("_token", token)
        yield c


@pytest.fixture
def client_as(airflow_app) -> Iterator[Callable[[str], TestClient]]:
    """Browser sessions of users with a given SimpleAuthManager role (viewer, user, op,
    admin): ``client_as("op")``."""
    with contextlib.ExitStack() as stack:

        def make(role: str) -> TestClient:
            c = stack.enter_context(TestClient(airflow_app, follow_redirects=False))
            c.cookies.set("_token", _token(role, f"{role}-user"))
            return c

        yield make


@pytest.fixture
def lake_root(data_root: Path) -> Path:
    """An empty lake under the test's data root (the console reads MLOPS_LAKE_URI's default)."""
    lake = data_root / "lake"
    lake.mkdir(parents=True)
    return lake
