"""``make bench`` runs: every section of the harness, on its smoke size, reports its figures.

Given ``python -m bench --smoke`` (every section's whole path on its smallest input, one rep)
in a fresh process, as ``make bench`` runs it (one process for all the sections, so what one
section leaves behind is seen by the next), when it ends, then each section ran without
raising, its entry in the JSON names its summary rows, and each of them is a finite number.
Nothing here reads a time against a bound: the figures of a smoke run mean nothing, only that
they are there. ``-k <section>`` runs only the sections selected.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest

from bench.__main__ import SECTIONS
from tests.bench.runner import run_smoke

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class SmokeRun:
    report: dict[str, Any]
    log: str


def _selected(request: pytest.FixtureRequest) -> list[str]:
    """The sections whose test is in this session (all, unless ``-k`` chose some)."""
    chosen = {
        item.callspec.params["section"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    }
    return [s for s in SECTIONS if s in chosen]


@pytest.fixture(scope="module")
def smoke(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    only = [arg for section in _selected(request) for arg in ("--only", section)]
    code, log = run_smoke("bench", out, *only)
    assert out.exists(), f"the harness wrote no JSON (exit {code}):\n{log}"
    return SmokeRun(json.loads(out.read_text()), log)


@pytest.mark.parametrize("section", SECTIONS)
def test_the_section_runs_and_reports_finite_figures(smoke: SmokeRun, section: str) -> None:
    report = smoke.report

    assert section not in report["errors"], f"{report['errors'][section]}\n{smoke.log}"
    assert report["meta"]["size"] == "smoke"
    keys = report["sections"][section]["figures"]
    assert keys, f"{section} reported no summary row"
    rows = {f"{f['section']}: {f['name']}": f for f in report["summary"]}
    for key in keys:
        value = rows[key]["value"]
        assert isinstance(value, int | float) and math.isfinite(value), (key, value)
    if section == "parse":  # a DAG file that fails to run is printed, not raised
        failed = {f["file"]: f["errors"] for f in report["sections"]["parse"]["files"]}
        assert not any(failed.values()), failed
