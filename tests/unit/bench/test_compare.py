"""``python -m bench.compare``: a results file against the baseline, on hand-written files.

Given a baseline and a results file written out here (every expected verdict and percentage
worked out by hand from their numbers), when they are compared, then only in-run ratios are
judged (absolute times are listed for information), each by its own direction and tolerance,
a figure on one side only is reported and never fails, a crashed section fails, and the
exit code says whether anything got worse.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import compare

pytestmark = pytest.mark.unit


def _fig(section: str, name: str, value: float, unit: str = "x", **extra: object) -> dict:
    return {"section": section, "name": name, "value": value, "unit": unit, **extra}


BASELINE = {
    "note": "quick run, 2-core dev machine",
    "meta": {"commit": "abc1234", "size": "quick", "started": "2026-12-07T12:00:00+00:00"},
    "default_tolerance": 0.25,
    "figures": {
        "gx: GX checks only / pandas": {"value": 2.0, "unit": "x", "better": "lower"},
        "train: MLflow share (warm)": {"value": 0.10, "unit": "x", "better": "lower"},
        "train: xgb 2t/1t default": {"value": 4.0, "unit": "x", "tolerance": 1.0},
        "online: Feast / project lookup p50": {"value": 8.0, "unit": "x", "better": "higher"},
        "serving: errors at 16 concurrent": {"value": 0.0, "unit": "x", "better": "lower"},
        "parse: fresh `import airflow.sdk` median": {"value": 2.0, "unit": "s"},
        "serving: online p99, one transaction": {"value": 0.002, "unit": "s", "compare": True},
        "drift: gone in the results": {"value": 1.5, "unit": "x"},
    },
}


def _results(**values: float) -> dict:
    """The baseline's figures with ``values`` changed (names as Python identifiers)."""
    names = {
        "gx": ("gx", "GX checks only / pandas", "x"),
        "share": ("train", "MLflow share (warm)", "x"),
        "threads": ("train", "xgb 2t/1t default", "x"),
        "feast": ("online", "Feast / project lookup p50", "x"),
        "errors": ("serving", "errors at 16 concurrent", "x"),
        "sdk": ("parse", "fresh `import airflow.sdk` median", "s"),
        "p99": ("serving", "online p99, one transaction", "s"),
        "new": ("score", "new in the results", "x"),
    }
    start = {"gx": 2.0, "share": 0.10, "threads": 4.0, "feast": 8.0, "errors": 0.0}
    start |= {"sdk": 2.0, "p99": 0.002, "new": 1.0}
    start |= values
    summary = [_fig(*names[k][:2], v, names[k][2]) for k, v in start.items()]
    return {
        "meta": {"commit": "def5678", "size": "quick", "started": "2026-12-08T12:00:00+00:00"},
        "summary": summary,
        "errors": {},
    }


def _by_key(rows: list[compare.Row]) -> dict[str, compare.Row]:
    return {r.key: r for r in rows}


def test_the_same_figures_are_no_regression() -> None:
    results = _results()

    rows = _by_key(compare.compare(results, BASELINE))

    assert rows["gx: GX checks only / pandas"].status == "ok"
    assert rows["gx: GX checks only / pandas"].worse_by == 1.0
    assert rows["serving: errors at 16 concurrent"].status == "ok"  # 0 -> 0
    assert not compare.failed(list(rows.values()), results)


def test_a_ratio_worse_beyond_its_tolerance_fails_and_within_it_does_not() -> None:
    # 2.0 -> 2.4 is 20 % worse (inside 25 %); 0.10 -> 0.13 is 30 % worse (outside)
    results = _results(gx=2.4, share=0.13)

    rows = _by_key(compare.compare(results, BASELINE))

    assert rows["gx: GX checks only / pandas"].status == "ok"
    assert rows["train: MLflow share (warm)"].status == "worse"
    assert rows["train: MLflow share (warm)"].worse_by == pytest.approx(1.3)
    assert compare.failed(list(rows.values()), results)


def test_a_figures_own_tolerance_wins_over_the_default() -> None:
    # tolerance 1.0 on the threads ratio: 4.0 -> 7.6 (+90 %) passes, 4.0 -> 8.4 (+110 %) not
    key = "train: xgb 2t/1t default"
    inside = _by_key(compare.compare(_results(threads=7.6), BASELINE))[key]
    outside = _by_key(compare.compare(_results(threads=8.4), BASELINE))[key]

    assert (inside.status, inside.tolerance) == ("ok", 1.0)
    assert (outside.status, outside.tolerance) == ("worse", 1.0)


def test_higher_is_better_figures_are_worse_when_they_fall() -> None:
    # 8.0 -> 6.0: 8/6 = 1.333, 33 % worse; 8.0 -> 12.0: 0.667 < 1/1.25 = 0.8, better
    fell = _by_key(compare.compare(_results(feast=6.0), BASELINE))
    rose = _by_key(compare.compare(_results(feast=12.0), BASELINE))

    assert fell["online: Feast / project lookup p50"].status == "worse"
    assert fell["online: Feast / project lookup p50"].worse_by == pytest.approx(4 / 3)
    assert rose["online: Feast / project lookup p50"].status == "better"


def test_any_error_where_the_baseline_had_none_is_worse() -> None:
    rows = _by_key(compare.compare(_results(errors=1.0), BASELINE))

    assert rows["serving: errors at 16 concurrent"].status == "worse"


def test_an_absolute_time_is_information_unless_the_baseline_asks_to_compare_it() -> None:
    # the sdk import doubled: information only; the p99 is compared (compare: true)
    results = _results(sdk=4.0, p99=0.003)

    rows = _by_key(compare.compare(results, BASELINE))

    assert rows["parse: fresh `import airflow.sdk` median"].status == "info"
    assert rows["serving: online p99, one transaction"].status == "worse"  # +50 %
    assert compare.failed(list(rows.values()), results)
    assert not compare.failed(
        list(_by_key(compare.compare(_results(sdk=4.0), BASELINE)).values()), _results(sdk=4.0)
    )


def test_figures_on_one_side_only_are_reported_and_do_not_fail() -> None:
    results = _results()

    rows = _by_key(compare.compare(results, BASELINE))

    assert rows["drift: gone in the results"].status == "only in baseline"
    assert rows["score: new in the results"].status == "only in results"
    assert not compare.failed(list(rows.values()), results)


def test_a_value_that_is_no_longer_a_number_fails() -> None:
    results = _results(gx=float("nan"))

    rows = _by_key(compare.compare(results, BASELINE))

    assert rows["gx: GX checks only / pandas"].status == "not finite"
    assert compare.failed(list(rows.values()), results)


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_the_command_prints_what_got_worse_and_exits_1(tmp_path, capsys) -> None:
    baseline = _write(tmp_path / "baseline.json", BASELINE)
    results = _write(tmp_path / "results.json", _results(share=0.13, sdk=4.0))

    code = compare.main([str(results), "--baseline", str(baseline), "--info"])

    out = capsys.readouterr().out
    assert code == 1
    worse = out.split("-- worse (1)\n")[1].splitlines()[0]
    assert "train: MLflow share (warm)" in worse and "30 % worse (tolerance 25%)" in worse
    info = out.split("-- info (1)\n")[1].splitlines()[0]
    assert "fresh `import airflow.sdk` median" in info and "2.00 s -> 4.00 s" in info
    assert "only in baseline" in out and "drift: gone in the results" in out
    assert out.rstrip().endswith("REGRESSION")


def test_the_command_exits_0_without_regression_and_1_on_a_crashed_section(
    tmp_path, capsys
) -> None:
    baseline = _write(tmp_path / "baseline.json", BASELINE)
    clean = _write(tmp_path / "clean.json", _results(gx=1.5))
    crashed = _results()
    crashed["errors"] = {"training": "ImportError: cannot import name 'x'"}
    crashed_path = _write(tmp_path / "crashed.json", crashed)

    assert compare.main([str(clean), "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    better = out.split("-- better (1)\n")[1].splitlines()[0]  # 2.0 -> 1.5: 1.5 / 2 = 0.75
    assert "gx: GX checks only / pandas" in better and "25 % better" in better
    assert out.rstrip().endswith("no regression")
    assert compare.main([str(crashed_path), "--baseline", str(baseline)]) == 1
    assert "CRASHED  training: ImportError" in capsys.readouterr().out


def test_runs_of_different_sizes_are_flagged(tmp_path, capsys) -> None:
    results = _results()
    results["meta"]["size"] = "smoke"

    compare.main(
        [
            str(_write(tmp_path / "r.json", results)),
            "--baseline",
            str(_write(tmp_path / "b.json", BASELINE)),
        ]
    )

    assert "NOTE: the runs differ in size" in capsys.readouterr().out


def test_a_new_baseline_keeps_the_hand_set_overrides(tmp_path) -> None:
    baseline = _write(tmp_path / "baseline.json", BASELINE)
    results = _results(threads=5.0)
    results["meta"] |= {"cpus": 2, "wall_s": 640.0}
    results["summary"][2] |= {"target": None, "better": "lower"}

    code = compare.main(
        [str(_write(tmp_path / "r.json", results)), "--baseline", str(baseline)]
        + ["--write-baseline", "--note", "refreshed after the GX upgrade"]
    )

    written = json.loads(baseline.read_text())
    assert code == 0
    assert written["note"] == "refreshed after the GX upgrade"
    assert written["meta"]["commit"] == "def5678" and written["meta"]["wall_s"] == 640.0
    assert written["figures"]["train: xgb 2t/1t default"] == {
        "value": 5.0,
        "unit": "x",
        "target": None,
        "better": "lower",
        "tolerance": 1.0,
    }
    assert written["figures"]["serving: online p99, one transaction"]["compare"] is True
    assert "drift: gone in the results" not in written["figures"]
    assert written["default_tolerance"] == 0.25


def test_a_run_with_a_crashed_section_makes_no_baseline() -> None:
    results = _results()
    results["errors"] = {"gx": "ValueError: boom"}

    with pytest.raises(ValueError, match="crashed sections"):
        compare.make_baseline(results, BASELINE, "")
