"""``make bench-scale`` runs: the scale curve's harness, on its smoke sizes, reports every stage.

Given ``python -m bench.scale --smoke`` (the simulated platform and every stage in its own
fresh process, at two tiny day sizes) in a fresh process, when it ends, then it exited 0,
and each stage has a row per size whose time and peak RSS are finite numbers (and a growth
exponent at the second size, or none when a time rounds to zero). Nothing here reads a time
or a memory figure against a bound: a smoke run's figures mean nothing, only that they are
there, so the harness cannot rot unseen (bench/README.md, "Scale curve").
"""

from __future__ import annotations

import json
import math

import pytest

from bench import scale
from tests.bench.runner import run_smoke

pytestmark = pytest.mark.e2e


def test_every_stage_runs_at_both_smoke_sizes_and_reports_finite_figures(tmp_path) -> None:
    out = tmp_path / "scale.json"
    code, log = run_smoke("bench.scale", out)
    assert code == 0, log
    report = json.loads(out.read_text())

    sizes = sorted(int(s) for s in scale.SMOKE_SIZES.split(","))
    assert [r["rows"] for r in report["runs"]] == sizes, log
    for stage in scale.STAGES:
        rows = [r for r in report["table"] if r["stage"] == stage]
        assert [r["rows_per_day"] for r in rows] == sizes, (stage, log)
        for row in rows:
            for name in ("seconds", "cpu_s", "peak_rss_mb", "s_per_100k"):
                assert isinstance(row[name], int | float) and math.isfinite(row[name]), (
                    stage,
                    name,
                    row,
                )
            assert row["phases"], (stage, "no phase was timed", row)
        assert rows[-1]["exponent"] is None or math.isfinite(rows[-1]["exponent"]), rows[-1]
