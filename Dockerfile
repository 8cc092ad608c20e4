# syntax=docker/dockerfile:1
# One image for every Airflow component (api-server, scheduler, dag-processor, triggerer,
# celery worker), the MLflow server and the scoring service, so client and server share the
# exact pins of requirements-prod.lock (runtime + production: Celery, MLflow's basic auth;
# made by `make lock`; dev tools live in requirements-dev.lock).
# Build: `docker compose build` (see deploy/README.md).
FROM python:3.11-slim

# uv installs the lock fast and is also what `bentoml build` shells out to (stack notes §6).
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

# curl: container healthchecks (the wheels bundle their own OpenMP runtimes).
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

# Same uid/gid convention as the official Airflow image (uid 50000, group 0).
ARG AIRFLOW_UID=50000
ENV AIRFLOW_HOME=/opt/airflow \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/airflow \
    PYTHONUNBUFFERED=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true
RUN useradd --uid "${AIRFLOW_UID}" --gid 0 --home-dir "${AIRFLOW_HOME}" --no-create-home \
        --shell /bin/bash airflow \
    && mkdir -p "${AIRFLOW_HOME}/logs" "${AIRFLOW_HOME}/data" \
    && chown -R airflow:0 "${AIRFLOW_HOME}" \
    && uv venv --python /usr/local/bin/python3.11 "${VIRTUAL_ENV}"

# torch is pinned as 2.13.0+cpu, a build only the PyTorch CPU index serves; unsafe-best-match
# lets uv take every other exact pin from PyPI although that index mirrors some of them.
# Bytecode is compiled at install: without .pyc the ML imports are 3-5x slower (stack notes §0).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=requirements-prod.lock,target=/tmp/requirements-prod.lock \
    uv pip install --compile-bytecode \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        --index-strategy unsafe-best-match \
        -r /tmp/requirements-prod.lock

# Project code last: it changes far more often than the dependencies. PYTHONPATH above makes
# `import include...` work from DAGs, tasks and the plugin alike.
WORKDIR ${AIRFLOW_HOME}
COPY --chown=airflow:0 include/ include/
# The console's report assets, pinned with sha512 in include/console/assets.lock.json: from the
# npm registry at build time, into the venv (never fetched at run time).
RUN python -m include.console.vendor
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
COPY --chown=airflow:0 feature_repo/ feature_repo/
COPY --chown=airflow:0 usecase/ usecase/
# The scoring service (compose's `serving`: bentoml serve serving.service:ScoringService); DAG
# tasks import it too when they package a model version.
COPY --chown=airflow:0 serving/ serving/
# The MLflow service writes its basic-auth config with scripts/production/mlflow_auth.py.
COPY --chown=airflow:0 scripts/ scripts/
# deploy_model builds a Bento per version, whose pins serving/bento.py reads from this file.
COPY --chown=airflow:0 requirements.lock requirements.lock

USER airflow
CMD ["airflow", "version"]
