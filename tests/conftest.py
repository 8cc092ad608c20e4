"""Test set-up shared by every tier.

Airflow reads its configuration at import time, so the environment is fixed here, before
anything imports airflow: a throw-away AIRFLOW_HOME with a SQLite DB, the project's dags
folder, and a data root per test session (each e2e test gets its own through ``data_root``).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SESSION = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
_SMTP_PORT = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SMTP_PORT = _free_port()
# Nothing of a developer's own set-up (.env, a running `make run`) may leak into the tests.
for _var in list(os.environ):
    if _var.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "MLOPS_", "MLFLOW_")):
        del os.environ[_var]
os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_SESSION / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": ".*",
        "MLOPS_DATA_ROOT": str(_SESSION / "data"),
        "MLOPS_SMTP_CONN_ID": "smtp_mlops",
        "AIRFLOW_CONN_SMTP_MLOPS": (
            '{"conn_type": "smtp", "host": "127.0.0.1", "port": %d, "login": "", '
            '"extra": {"disable_ssl": true, "disable_tls": true, "timeout": 5, '
            '"retry_limit": 0}}' % _SMTP_PORT
        ),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def smtp_port() -> int:
    return _SMTP_PORT


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root (landing, lake, GX, mail) for one test."""
    root = tmp_path / "data"
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(root))
    for var in ("MLOPS_LANDING_URI", "MLOPS_LAKE_URI", "MLOPS_GX_ROOT", "MLOPS_MAIL_SINK_DIR"):
        monkeypatch.delenv(var, raising=False)
    return root
