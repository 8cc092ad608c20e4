"""``make test``'s two lanes (scripts/test_suite.py) run every tier, each once."""

from __future__ import annotations

from scripts import test_suite
from tests.conftest import _TIERS, ROOT


def test_the_lanes_run_every_tier_folder_once_with_its_marker() -> None:
    listed = [
        (marker, folder)
        for lane in test_suite.LANES
        for marker, folders in lane
        for folder in folders.split()
    ]
    assert len(listed) == len(set(listed))
    folders = {
        p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))
    }
    # Every folder holding tests is a tier, and every tier runs in a lane.
    assert folders == set(_TIERS)
    assert {(marker, f"tests/{folder}") for folder, marker in _TIERS.items()} == set(listed)


def test_a_tiers_summary_is_pytests_last_line() -> None:
    text = "collected 3 items\n...\n==== 2 passed, 1 failed in 3.21s (0:00:03) ====\n"
    assert test_suite._summary(text) == "2 passed, 1 failed in 3.21s (0:00:03)"
    assert test_suite._summary("==== no tests ran in 0.01s ====") == "no tests ran in 0.01s"
    assert test_suite._summary("Traceback ...") == "no pytest summary (see the log)"


def test_the_suite_fails_when_one_tier_fails_or_runs_nothing(tmp_path, monkeypatch, capsys):
    one = "tests/unit/scripts/test_test_suite.py::test_a_tiers_summary_is_pytests_last_line"
    monkeypatch.setattr(test_suite, "OUTPUT", tmp_path)
    # The same test as a unit (it is one) and as an integrity test (it is not: nothing runs).
    monkeypatch.setattr(test_suite, "LANES", ((("unit", one),), (("integrity", one),)))
    assert test_suite.main(["-q"]) == 1
    out = capsys.readouterr().out
    assert "FAILED (exit 5)" in out and "failed tiers: integrity" in out
    assert "1 passed" in (tmp_path / "unit.log").read_text()
    monkeypatch.setattr(test_suite, "LANES", ((("unit", one),),))
    assert test_suite.main(["-q"]) == 0
