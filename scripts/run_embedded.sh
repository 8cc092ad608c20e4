#!/usr/bin/env bash
# `make run`: the whole platform on one machine, stopped cleanly by Ctrl-C.
#   1. secrets and the login are generated once under data/airflow/
#   2. the mail sink, then Airflow standalone (api-server :8080, scheduler, dag-processor,
#      triggerer) start in their own process groups
#   3. the simulator lands the last days' batches; the DAGs are unpaused and those days
#      backfilled, so the lifecycle starts at once
set -euo pipefail
. "$(dirname "$0")/embedded_env.sh"
cd "$MLOPS_ROOT"

# Two weeks: genuine transactions are labelled 7 days late, so the first model gets a week
# of matured labels, enough for whole nights (when fraud clusters) in each part of the split.
DAYS="${MLOPS_BOOTSTRAP_DAYS:-14}"
LOGS="$MLOPS_DATA_ROOT/logs"
mkdir -p "$AIRFLOW_HOME" "$LOGS" "$MLOPS_MAIL_SINK_DIR" "$(dirname "${MLFLOW_TRACKING_URI#sqlite:///}")"

for port in "$MLOPS_UI_PORT" "$MLOPS_SMTP_PORT"; do
  if python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    echo "port $port is already in use (another 'make run'?). Stop it or set MLOPS_UI_PORT / MLOPS_SMTP_PORT." >&2
    exit 1
  fi
done

# --- secrets: generated once, kept out of the repo and out of the logs
SECRETS="$AIRFLOW_HOME/secrets.env"
if [ ! -f "$SECRETS" ]; then
  umask 077
  python - "$SECRETS" <<'PY'
import base64, os, secrets, sys
with open(sys.argv[1], "w") as fh:
    fh.write(f"AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_urlsafe(64)}\n")
    fh.write(f"AIRFLOW__CORE__FERNET_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}\n")
PY
fi
set -a; . "$SECRETS"; set +a

USER_NAME="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS%%:*}"
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
if [ ! -f "$PASSWORDS" ]; then
  (umask 077; python -c "import json,secrets,sys; json.dump({sys.argv[1]: secrets.token_urlsafe(16)}, open(sys.argv[2], 'w'))" "$USER_NAME" "$PASSWORDS")
fi

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping airflow-mlops ..."
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  echo "stopped."
}
trap cleanup INT TERM EXIT

echo "== preparing the Airflow metadata DB (SQLite under $AIRFLOW_HOME)"
airflow db migrate > "$LOGS/db-migrate.log" 2>&1 || { tail -20 "$LOGS/db-migrate.log"; exit 1; }

echo "== starting the mail sink on 127.0.0.1:$MLOPS_SMTP_PORT (mails kept in $MLOPS_MAIL_SINK_DIR)"
setsid python -m include.notify.mail_sink --port "$MLOPS_SMTP_PORT" --dir "$MLOPS_MAIL_SINK_DIR" \
  > "$LOGS/mail-sink.log" 2>&1 &
PIDS+=($!)

echo "== starting Airflow standalone (log: $LOGS/airflow.log)"
setsid airflow standalone > "$LOGS/airflow.log" 2>&1 &
PIDS+=($!)

echo "== landing $DAYS days of simulated transactions and labels"
START=$(python -c "import datetime as d; print(d.date.today() - d.timedelta(days=$DAYS))")
python -m include.data.simulator --start "$START" --days "$DAYS" --feed both

echo "== waiting for the web UI on http://localhost:$MLOPS_UI_PORT"
python -m scripts.bootstrap_airflow --port "$MLOPS_UI_PORT" --user "$USER_NAME" \
  --password-file "$PASSWORDS" --start "$START" --days "$DAYS"

cat <<INFO

  airflow-mlops is running.
    Airflow UI    http://localhost:$MLOPS_UI_PORT   login: $USER_NAME
                  password: in $PASSWORDS
    Alert mails   $MLOPS_MAIL_SINK_DIR/*.eml
    Data          $MLOPS_DATA_ROOT  (landing/, lake/validated, lake/quarantine, lake/reports)
    Logs          $LOGS
  Land more data: .venv/bin/python -m include.data.simulator --help
  Ctrl-C stops every process started here.

INFO
wait
