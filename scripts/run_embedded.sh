#!/usr/bin/env bash
# `make run`: the whole platform on one machine, supervised, stopped cleanly by Ctrl-C.
# The work is in scripts/embedded/ (python -m scripts.embedded); this only sets the
# environment and hands over, so the supervisor is make's direct child and gets the signals.
set -euo pipefail
. "$(dirname "$0")/embedded_env.sh"
cd "$MLOPS_ROOT"
exec python -m scripts.embedded "$@"
