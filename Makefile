# airflow-mlops: `make run` starts the embedded platform, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY_VERSION ?= 3.11
VENV := .venv
PY := $(VENV)/bin/python
# torch==2.13.0+cpu: the local wheel pip is configured with (find-links), else PyTorch's CPU index.
FIND_LINKS ?= $(shell pip config get global.find-links 2>/dev/null)
TORCH_SOURCE := $(if $(wildcard $(FIND_LINKS)/torch-*),--find-links $(FIND_LINKS),--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
ENV := source scripts/embedded_env.sh &&

.PHONY: help run run-prod test lint bench bench-compare bench-startup bench-production bench-day bench-scale lock clean mlflow-ui evidently-ui inject-drift lineage spec-schema spec-check

help:
	@echo "make run    start the embedded platform (Airflow UI on http://localhost:8080)"
	@echo "make run-prod  the production stack without Docker (CeleryExecutor, Redis, MLflow server, S3)"
	@echo "make test   install test tools and run the whole suite"
	@echo "make bench  run the benchmark harness (BENCH_ARGS=--quick: the baseline's size)"
	@echo "make bench-compare  the last bench results against bench/baseline.json"
	@echo "make bench-startup  time make run to the first champion (scratch data, free ports)"
	@echo "make bench-production  the production profile's bootstrap, 1 Celery worker vs 2"
	@echo "make bench-day  one new day of 100k rows: ingest to redeploy, timed on a live platform"
	@echo "make bench-scale  each stage's time and peak RAM at 10k, 100k and 1M rows a day"
	@echo "make mlflow-ui  MLflow's UI on http://localhost:5000 (runs, registry, champion)"
	@echo "make evidently-ui  Evidently's UI on http://localhost:8001 (monitoring trends)"
	@echo "make inject-drift  re-land the last days with drift into the running platform"
	@echo "make lineage ID=<request id> | TX=<transaction id>  trace a prediction to its data (JSON=1)"
	@echo "make spec-check  check every usecase/*.yaml; print every problem (SPEC=path for one)"
	@echo "make spec-schema  write usecase/spec.schema.json (editors check spec files with it)"
	@echo "make lint   ruff"
	@echo "make lock   re-resolve requirements*.lock from requirements*.txt"

$(UV):
	python3 -m pip install --user --quiet uv==0.13.9 || python3 -m pip install --quiet uv==0.13.9

# The console's report assets (jQuery, Bootstrap, Vega...) come pinned from the npm registry,
# sha512-checked, at install time (include/console/assets.lock.json), never at run time.
$(VENV)/.runtime: requirements.lock include/console/assets.lock.json | $(UV)
	@test -x $(PY) || $(UV) venv $(VENV) --python $(PY_VERSION) --quiet
	$(UV) pip install --python $(PY) $(TORCH_SOURCE) -r requirements.lock
	$(PY) -m include.console.vendor
	@touch $@

$(VENV)/.prod: requirements-prod.lock $(VENV)/.runtime
	$(UV) pip install --python $(PY) $(TORCH_SOURCE) -r requirements-prod.lock
	@touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.prod
	$(UV) pip install --python $(PY) $(TORCH_SOURCE) -r requirements-dev.lock
	@touch $@

run: $(VENV)/.runtime
	@bash scripts/run_embedded.sh

# The production stack (docker-compose.yaml) as plain processes: Celery, Redis, MLflow server.
run-prod: $(VENV)/.prod
	@bash scripts/run_production.sh

# Lint first, then every tier, in two lanes side by side (scripts/test_suite.py: each tier's
# time is printed at the end); PYTEST_ARGS runs one plain pytest instead, e.g.
# `make test PYTEST_ARGS="-m unit"`.
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@unset PYTHONDONTWRITEBYTECODE; export PYTHONPYCACHEPREFIX=$(CURDIR)/.cache/pycache; \
	$(if $(PYTEST_ARGS),$(PY) -m pytest $(PYTEST_ARGS),$(PY) -m scripts.test_suite)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

# BENCH_ARGS: e.g. --quick (the baseline's size), --smoke, --only gx, --out file.json
bench: $(VENV)/.dev
	@$(ENV) $(PY) -m bench $(BENCH_ARGS)

# The last `make bench` against the committed baseline; COMPARE_ARGS: e.g. results.json
# --baseline other.json (bench/README.md, "Regression watch").
bench-compare: $(VENV)/.dev
	@$(PY) -m bench.compare $(COMPARE_ARGS)

bench-startup: $(VENV)/.runtime
	@$(ENV) $(PY) -m bench.startup

# The production profile's 14-day bootstrap with one Celery worker, then two (deploy/README.md).
bench-production: $(VENV)/.prod
	@$(PY) -m bench.production $(BENCH_ARGS)

# One new day through ingest, features, training, gate and deployment (bench/README.md);
# BENCH_ARGS="--attach data" measures the running `make run` instead of starting one.
bench-day: $(VENV)/.runtime
	@$(ENV) $(PY) -m bench.day_cycle $(BENCH_ARGS)

# Each stage's time and peak RAM at 10k, 100k and 1M rows a day (~40 min; bench/README.md,
# "Scale curve"); BENCH_ARGS: e.g. --sizes 10000,100000 --only train, or --smoke.
bench-scale: $(VENV)/.dev
	@$(ENV) $(PY) -m bench.scale $(BENCH_ARGS)

mlflow-ui: $(VENV)/.runtime
	@$(ENV) $(VENV)/bin/mlflow ui --backend-store-uri "$$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port $${MLFLOW_UI_PORT:-5000}

# Every monitor_drift snapshot (drift, skew, quality), over time; no telemetry.
evidently-ui: $(VENV)/.runtime
	@$(ENV) mkdir -p "$${MLOPS_EVIDENTLY_WORKSPACE:-$$MLOPS_DATA_ROOT/evidently}" && DO_NOT_TRACK=1 $(VENV)/bin/evidently ui --workspace "$${MLOPS_EVIDENTLY_WORKSPACE:-$$MLOPS_DATA_ROOT/evidently}" --host 127.0.0.1 --port $${EVIDENTLY_UI_PORT:-8001}

# The monitoring demo (README, "Monitoring"): drifted days into the running `make run`.
inject-drift: $(VENV)/.runtime
	@$(ENV) $(PY) -m devtools.drift_demo $(DRIFT_ARGS)

# A prediction's lineage (README): model version, training run, data, validation results.
lineage: $(VENV)/.runtime
	@$(ENV) $(PY) -m include.lineage $(if $(ID),--prediction-id $(ID)) $(if $(TX),--transaction-id $(TX)) $(if $(JSON),--json)

lock: | $(UV)
	$(UV) pip compile requirements.txt --python-version $(PY_VERSION) $(TORCH_SOURCE) -o requirements.lock
	$(UV) pip compile requirements.txt requirements-prod.txt -c requirements.lock --python-version $(PY_VERSION) $(TORCH_SOURCE) -o requirements-prod.lock
	$(UV) pip compile requirements.txt requirements-prod.txt requirements-dev.txt -c requirements-prod.lock --python-version $(PY_VERSION) $(TORCH_SOURCE) -o requirements-dev.lock

# A use case is a spec file: check it, and give editors its JSON Schema.
spec-check: $(VENV)/.runtime
	$(PY) -m include.spec check $(or $(SPEC),usecase/*.yaml)

spec-schema: $(VENV)/.runtime
	$(PY) -m include.spec schema usecase/spec.schema.json

clean:
	rm -rf data data-prod .cache .pytest_cache
