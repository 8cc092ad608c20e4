"""The production profile's components and the environment each one gets.

Each group of names below is what docker-compose.yaml passes to the matching services
(``tests/unit/deploy/test_compose_parity.py`` holds the two equal, both ways). A component gets
its group's variables, taken from the environment that ``scripts/production_env.sh`` and the
profile's generated secrets make, plus the machine's own variables (PATH, HOME, ...); no other
project setting leaks in, so a setting compose forgets fails here as it would there.
"""

from __future__ import annotations

import os

# x-airflow-common: api-server, scheduler, dag-processor, triggerer and the Celery workers.
AIRFLOW = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS",
    "OMP_WAIT_POLICY",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT",
    "AIRFLOW_CONN_SMTP_MLOPS",
    "MLOPS_DATA_ROOT",
    "MLOPS_LANDING_URI",
    "MLOPS_LAKE_URI",
    "MLOPS_GX_ROOT",
    "MLOPS_CONSOLE_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLOPS_FEAST_REPO",
    "MLOPS_FEAST_REGISTRY",
    "MLOPS_FEAST_ONLINE_STORE",
    "MLOPS_REDIS_URL",
    "MLOPS_USECASE_SPEC",
    "MLOPS_SMTP_CONN_ID",
    "MLOPS_ALERT_RECIPIENTS",
    "MLOPS_S3_ENDPOINT_URL",
    "MLOPS_MAIL_SINK_DIR",
    "MLOPS_INGEST_CATCHUP",
    "MLOPS_INGEST_START_DATE",
    "MLOPS_TASK_RETRY_DELAY_S",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "BENTOML_HOME",
    "BENTOML_DO_NOT_TRACK",
    "MLOPS_SERVING_URL",
    "MLOPS_SERVING_TOKEN",
)
# airflow-apiserver only: its login (SimpleAuthManager).
API_SERVER = (
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
)
# mlflow: tracking server on PostgreSQL, artifacts proxied to S3, basic auth.
MLFLOW = (
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_ARTIFACTS_DESTINATION",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "MLFLOW_SERVER_ALLOWED_HOSTS",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION",
    "MLFLOW_AUTH_CONFIG_PATH",
    "MLFLOW_AUTH_DATABASE_URI",
    "MLFLOW_AUTH_ADMIN_USERNAME",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
)
# serving: the scoring service (reads the online store and the deployment pointer).
SERVING = (
    "MLOPS_DATA_ROOT",
    "MLOPS_LAKE_URI",
    "MLOPS_USECASE_SPEC",
    "MLOPS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "BENTOML_HOME",
    "BENTOML_DO_NOT_TRACK",
    "MLOPS_FEAST_ONLINE_STORE",
    "MLOPS_REDIS_URL",
    "MLOPS_SERVING_TOKEN",
)
GROUPS = {"airflow": AIRFLOW, "airflow-apiserver": API_SERVER, "mlflow": MLFLOW, "serving": SERVING}

# Settings of this host only (loopback ports of co-located processes, the process set-up);
# compose needs none of them: each container has its own ports and image environment.
HOST_ONLY = (
    "AIRFLOW_HOME",
    "AIRFLOW__API__PORT",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    "MLOPS_WORKER_NAME",
    "PGPASSFILE",
    "PYTHONPATH",
    "PYTHONPYCACHEPREFIX",
    "MLFLOW_DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
)
# Prefixes of project settings: any other variable with one of them is not passed on.
_PROJECT = ("AIRFLOW", "MLOPS_", "MLFLOW_", "AWS_", "BENTOML_", "PG")


def component_env(*groups: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a component of ``groups``: the machine's variables, the host-only
    ones, and each variable of the groups (all must be set: a missing one is a bug of the
    profile, reported at start rather than as a half-configured component)."""
    wanted = {name for g in groups for name in GROUPS[g]}
    missing = sorted(n for n in wanted if n not in os.environ)
    if missing:
        raise KeyError(f"the production profile did not set {', '.join(missing)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PROJECT)}
    env.update({k: os.environ[k] for k in HOST_ONLY if k in os.environ})
    env.update({k: os.environ[k] for k in wanted})
    env.update(extra or {})
    return env


def names(*groups: str) -> set[str]:
    return {name for g in groups for name in GROUPS[g]}
