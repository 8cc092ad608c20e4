"""Shared pieces of the harness: the isolated environment, statistics and summary rows.

Every measurement runs against a scratch folder (AIRFLOW_HOME, data root, GX project) so a
benchmark never reads or writes a developer's ``data/`` or Airflow database, and every
subprocess gets exactly the environment the in-process measurements use.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
PYCACHE = REPO_ROOT / ".cache" / "pycache"
# A developer's own set-up (.env, `make run`) must not leak into a measurement.
_DEV_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "MLOPS_", "MLFLOW_")

# How much a run measures. "smoke": the smallest input that still runs every section's whole
# path (a few thousand rows, one rep; the e2e tier runs it: tests/bench); "quick": what the
# committed baseline (bench/baseline.json) is measured at; "default": the anchors' sizes.
Size = Literal["smoke", "quick", "default"]
SIZES: tuple[Size, ...] = ("smoke", "quick", "default")


def size_from_argv(argv: Sequence[str]) -> Size:
    """A section run on its own (``python -m bench.<section> [--quick | --smoke]``)."""
    return "smoke" if "--smoke" in argv else "quick" if "--quick" in argv else "default"


def isolated_env(scratch: Path) -> dict[str, str]:
    """The environment of every measurement: repo on PYTHONPATH, bytecode cache on,
    Airflow and project data in ``scratch``, GX analytics off (no network in a timing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DEV_PREFIXES)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    airflow_home = scratch / "airflow"
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "MLOPS_DATA_ROOT": str(scratch / "data"),
            "GX_ANALYTICS_ENABLED": "False",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        }
    )
    return env


def apply_env(env: dict[str, str]) -> None:
    """Make this process match ``env`` (in-process measurements share the subprocesses' set-up).

    The interpreter read PYTHONDONTWRITEBYTECODE / PYTHONPYCACHEPREFIX at start-up, so the
    bytecode settings are also applied to ``sys`` for modules imported from now on.
    """
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    os.environ.update(env)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = env["PYTHONPYCACHEPREFIX"]
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


# In-process only (never in a measured subprocess): Airflow's structlog loggers take their
# level from this setting, read when airflow is first imported.
QUIET_AIRFLOW = {"AIRFLOW__LOGGING__NAMESPACE_LEVELS": "airflow.dag_processing=WARNING"}


def quiet_logs() -> None:
    """Silence INFO chatter (GX set-up, per-batch null rates) and a provider's deprecation
    warning that would interleave with the figures. Call after importing GX: some of its
    module loggers set their own level on import."""
    warnings.filterwarnings("ignore", message=r"The `airflow\.", category=UserWarning)
    for name in ["great_expectations", "include", *logging.root.manager.loggerDict]:
        if name.startswith(("great_expectations", "include")):
            logging.getLogger(name).setLevel(logging.WARNING)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100), numpy's default method."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


@dataclass(frozen=True)
class Figure:
    """One row of the summary: a measured value next to its target (never a verdict)."""

    section: str
    name: str
    value: float
    unit: str  # "s", "x" or "rows/s"
    target: float | None = None  # the value must be <= target to meet the anchor
    note: str = ""
    # Which way is better (for ``bench.compare``); None: by unit, higher for rows/s.
    better: Literal["lower", "higher"] | None = None

    @property
    def key(self) -> str:
        """The figure's name in the JSON and the baseline (``bench.compare``)."""
        return f"{self.section}: {self.name}"

    @property
    def of_target(self) -> float | None:
        """value / target: below 1 means inside the target, above 1 means over it."""
        return self.value / self.target if self.target else None

    def to_dict(self) -> dict[str, object]:
        return {
            "section": self.section,
            "name": self.name,
            "value": round(self.value, 6),
            "unit": self.unit,
            "target": self.target,
            "of_target": round(self.of_target, 4) if self.of_target is not None else None,
            "better": self.better or better_by_unit(self.unit),
            "note": self.note,
        }


def better_by_unit(unit: str) -> Literal["lower", "higher"]:
    """A throughput is better higher; a time, or a ratio of times, lower."""
    return "higher" if unit == "rows/s" else "lower"


def fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "rows/s":
        return f"{value:,.0f}/s"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
