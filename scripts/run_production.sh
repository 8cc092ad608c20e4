#!/usr/bin/env bash
# `make run-prod`: the production stack (docker-compose.yaml) as plain processes on this
# machine, supervised like `make run` and stopped by Ctrl-C. See deploy/README.md.
set -euo pipefail
. "$(dirname "$0")/production_env.sh"
cd "$MLOPS_ROOT"
exec python -m scripts.production "$@"
