"""Create or upgrade MLflow's schema once, before any task opens the store.

Several training tasks opening an empty database at once would each try to create the
tables; done here, at start-up, they find them. A no-op for an MLflow server (``http(s)://``).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri or uri.startswith(("http://", "https://")):
        return 0
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from include.config import get_settings

    SqlAlchemyStore(uri, get_settings().mlflow_artifact_root)
    print("MLflow schema ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
