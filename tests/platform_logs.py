"""Evidence of a failed platform tier (startup, production, browser): what a person needs to
find the cause of a CI failure after the run's scratch folder is gone.

* Every failed test of a tier that runs a real platform gets, in its report (so in CI's
  output), the supervisor's status file and the last lines of its console, which quotes the
  log tail of any component that died or hung.
* When a tier had a failure, its fixture copies the platform's logs (the supervisor's, every
  component's, the task logs, the status file) to ``.cache/test-logs/<tier>-<time>/`` before
  it deletes the scratch folder, and says where.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from scripts.embedded.trial import ROOT, EmbeddedRun

KEPT = ROOT / ".cache" / "test-logs"
# Node ids of the session's failed tests (setup, call or teardown), by the hook in conftest.
FAILED: set[str] = set()


def platform_of(funcargs: dict[str, Any]) -> EmbeddedRun | None:
    """The running platform a test used (a fixture that is one, or that holds one as .run)."""
    for value in funcargs.values():
        for candidate in (value, getattr(value, "run", None)):
            if isinstance(candidate, EmbeddedRun):
                return candidate
    return None


def report_sections(run: EmbeddedRun) -> list[tuple[str, str]]:
    status = json.dumps(run.status(), indent=1, default=str)
    return [
        ("platform status.json", status[-4000:]),
        ("platform console (last lines)", run.text()[-12000:]),
    ]


def tier_failed(tier: str) -> bool:
    return any(n.startswith(f"tests/{tier}/") for n in FAILED)


def keep_if_failed(tier: str, root: Path) -> Path | None:
    """Copy the logs under ``root`` (a platform's scratch folder) when ``tier`` had a failure;
    returns where they went."""
    if not tier_failed(tier):
        return None
    dest = KEPT / f"{tier}-{time.strftime('%Y%m%d-%H%M%S')}"
    dest.mkdir(parents=True, exist_ok=True)
    for log in root.glob("*.log"):
        shutil.copy2(log, dest / log.name)
    for part in ("logs", "run", "airflow/logs", "mail"):
        src = root / "data" / part
        if src.is_dir():
            shutil.copytree(src, dest / part.replace("/", "-"), dirs_exist_ok=True)
    print(f"\n{tier} tier failed: its platform's logs are kept in {dest}")
    return dest
