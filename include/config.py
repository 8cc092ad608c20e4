"""One place for settings: environment variables with embedded defaults.

Every location can be a local path or an ``s3://`` URI; the same code runs against both.
Secrets never live here: SMTP credentials come from the Airflow connection named by
``MLOPS_SMTP_CONN_ID``, S3 credentials from the standard ``AWS_*`` variables.
See ``.env.example`` for each variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`get_settings`."""

    data_root: Path
    landing_uri: str
    lake_uri: str
    # Offline feature tables (local path or s3://); paths below each root: include.layout.
    features_uri: str
    gx_root: Path
    mlflow_tracking_uri: str
    feast_repo: Path
    usecase_spec: Path
    smtp_conn_id: str
    alert_recipients: tuple[str, ...]
    s3_endpoint_url: str | None
    mail_sink_dir: Path
    # Feast online store: "sqlite" (embedded, <data_root>/feast/online.db) or "redis".
    feast_online_store: str = "sqlite"
    redis_url: str = "redis://localhost:6379/0"
    ingest_catchup: bool = False
    # Day the ingest DAGs' schedule starts (with catchup, their first run ingests it).
    ingest_start_date: str = "2026-01-01"
    # Seconds before a failed task's first retry (exponential backoff after it).
    task_retry_delay_s: int = 30
    # Feast registry: a file path, or a SQLAlchemy URL (postgresql+psycopg2://...) for
    # Feast's SQL registry, which many task processes can update at once.
    feast_registry: str = ""
    # Where MLflow puts the artifacts of new experiments when the tracking URI is a database.
    mlflow_artifact_root: str = ""
    # Evidently workspace (local folder): every monitoring snapshot, for `make evidently-ui`.
    evidently_workspace: Path | None = None
    # The MLflow UI people open (links in lineage and mails): MLOPS_MLFLOW_UI_URL, else an
    # http(s) tracking URI, else `make mlflow-ui`'s address.
    mlflow_ui_url: str = "http://localhost:5000"


def get_settings() -> Settings:
    """Read the environment now (cheap; call it where the value is used, not at import)."""
    data_root = Path(_env("MLOPS_DATA_ROOT", str(REPO_ROOT / "data"))).resolve()
    recipients = tuple(
        r.strip() for r in os.environ.get("MLOPS_ALERT_RECIPIENTS", "").split(",") if r.strip()
    )
    return Settings(
        data_root=data_root,
        landing_uri=_env("MLOPS_LANDING_URI", str(data_root / "landing")),
        lake_uri=_env("MLOPS_LAKE_URI", str(data_root / "lake")),
        features_uri=_env("MLOPS_FEATURES_URI", str(data_root / "features")),
        gx_root=Path(_env("MLOPS_GX_ROOT", str(data_root / "gx"))),
        mlflow_tracking_uri=_env(
            "MLFLOW_TRACKING_URI", f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}"
        ),
        feast_repo=Path(_env("MLOPS_FEAST_REPO", str(REPO_ROOT / "feature_repo"))),
        # A relative spec path is the repository's (usecase/flights.yaml): every process,
        # whatever its working directory (a task, a Bento build), reads the same file.
        usecase_spec=REPO_ROOT / Path(_env("MLOPS_USECASE_SPEC", str(_default_spec()))),
        smtp_conn_id=_env("MLOPS_SMTP_CONN_ID", "smtp_mlops"),
        alert_recipients=recipients,
        s3_endpoint_url=os.environ.get("MLOPS_S3_ENDPOINT_URL") or None,
        mail_sink_dir=Path(_env("MLOPS_MAIL_SINK_DIR", str(data_root / "mail"))),
        feast_online_store=_env("MLOPS_FEAST_ONLINE_STORE", "sqlite").lower(),
        redis_url=_env("MLOPS_REDIS_URL", "redis://localhost:6379/0"),
        ingest_catchup=_env("MLOPS_INGEST_CATCHUP", "false").lower() in ("1", "true", "yes"),
        ingest_start_date=_env("MLOPS_INGEST_START_DATE", "2026-01-01"),
        task_retry_delay_s=int(_env("MLOPS_TASK_RETRY_DELAY_S", "30")),
        feast_registry=_env("MLOPS_FEAST_REGISTRY", str(data_root / "feast" / "registry.db")),
        mlflow_artifact_root=_env(
            "MLOPS_MLFLOW_ARTIFACT_ROOT", str(data_root / "mlflow" / "artifacts")
        ),
        evidently_workspace=Path(_env("MLOPS_EVIDENTLY_WORKSPACE", str(data_root / "evidently"))),
        mlflow_ui_url=_env("MLOPS_MLFLOW_UI_URL", _mlflow_ui_default()).rstrip("/"),
    )


def _default_spec() -> Path:
    """The spec when ``MLOPS_USECASE_SPEC`` is unset: the one a Bento or an image carries
    (``usecase/spec.yaml``, serving/bento.py), else the bundled default use case."""
    carried = REPO_ROOT / "usecase" / "spec.yaml"
    return carried if carried.is_file() else REPO_ROOT / "usecase" / "fraud.yaml"


def _mlflow_ui_default() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri if uri.startswith(("http://", "https://")) else "http://localhost:5000"
