"""Runs a bench module on its smoke size in a fresh process, as the smoke tests do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def run_smoke(module: str, out: Path, *args: str) -> tuple[int, str]:
    """``python -m <module> --smoke <args> --out <out>``: its exit code and the tail of its
    output (for assertion messages)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return proc.returncode, f"{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
