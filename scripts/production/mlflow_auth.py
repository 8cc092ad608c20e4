"""MLflow's basic-auth config, written from the environment before ``mlflow server --app-name
basic-auth`` starts: the profile calls :func:`write_config`, compose's mlflow service runs
``python -m scripts.production.mlflow_auth`` in its command. One writer for both.

The file says where MLflow keeps its users (``MLFLOW_AUTH_DATABASE_URI``, which may hold a
password: mode 0600) and who the admin is (``MLFLOW_AUTH_ADMIN_USERNAME``; MLflow creates it
with ``MLFLOW_AUTH_ADMIN_PASSWORD`` on the first start). Every request but ``/health`` then
needs a login; the admin is the only user, the one Airflow's tasks log in as.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path


def write_config(path: Path | None = None) -> Path:
    path = Path(path or os.environ["MLFLOW_AUTH_CONFIG_PATH"])
    config = configparser.ConfigParser()
    config["mlflow"] = {
        "default_permission": "READ",
        "database_uri": os.environ["MLFLOW_AUTH_DATABASE_URI"],
        "admin_username": os.environ["MLFLOW_AUTH_ADMIN_USERNAME"],
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access": "false",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        config.write(fh)
    path.chmod(0o600)
    return path


if __name__ == "__main__":
    print(f"MLflow basic-auth config written to {write_config()}")
