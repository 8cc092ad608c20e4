# shellcheck shell=bash
# Environment of the embedded setup (one laptop: Airflow standalone, SQLite, local files).
# Sourced by scripts/run_embedded.sh and `make` targets; values from .env win.
MLOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$MLOPS_ROOT/.env" ]; then set -a; . "$MLOPS_ROOT/.env"; set +a; fi

export MLOPS_DATA_ROOT="${MLOPS_DATA_ROOT:-$MLOPS_ROOT/data}"
export MLOPS_UI_PORT="${MLOPS_UI_PORT:-8080}"
export MLOPS_SMTP_PORT="${MLOPS_SMTP_PORT:-2525}"
export MLOPS_MAIL_SINK_DIR="${MLOPS_MAIL_SINK_DIR:-$MLOPS_DATA_ROOT/mail}"
export MLOPS_SMTP_CONN_ID="${MLOPS_SMTP_CONN_ID:-smtp_mlops}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$MLOPS_DATA_ROOT/mlflow/mlflow.db}"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$MLOPS_DATA_ROOT/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$MLOPS_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$MLOPS_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
# LocalExecutor pre-forks [core] parallelism workers: keep it small on a laptop.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-mlops:admin}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__API__PORT="$MLOPS_UI_PORT"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$MLOPS_UI_PORT}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
# The SMTP connection of the alert mails; in the embedded setup the local mail sink.
export AIRFLOW_CONN_SMTP_MLOPS="${AIRFLOW_CONN_SMTP_MLOPS:-{\"conn_type\": \"smtp\", \"host\": \"127.0.0.1\", \"port\": $MLOPS_SMTP_PORT, \"extra\": {\"disable_ssl\": true, \"disable_tls\": true, \"timeout\": 10}}}"

export PYTHONPATH="$MLOPS_ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Bytecode caching makes imports 3-5x faster; this machine disables it by default.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$MLOPS_ROOT/.cache/pycache}"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
export PATH="$MLOPS_ROOT/.venv/bin:$PATH"
