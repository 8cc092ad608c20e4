"""``make test``'s two lanes (scripts/test_suite.py) run every tier, each once."""

from __future__ import annotations

from scripts import test_suite
from tests.conftest import _TIERS, ROOT


def test_the_lanes_run_every_tier_folder_once_with_its_marker() -> None:
    tiers = [t for lane in test_suite._tiers(test_suite.LANES) for t in lane]
    assert len({t.name for t in tiers}) == len(tiers)  # one log, one scratch folder each
    whole = [(t.marker, f) for t in tiers if not t.ignored for f in t.folders.split()]
    cut = [t for t in tiers if t.ignored]
    for rest in cut:
        # The rest of a cut tier: its folder, without exactly what its first part runs.
        (folder,) = rest.folders.split()
        parts = [(m, f) for m, f in whole if m == rest.marker and f.startswith(f"{folder}/")]
        assert sorted(f for _, f in parts) == sorted(rest.ignored.split())
        assert all((ROOT / f).exists() for _, f in parts), parts
        whole = [w for w in whole if w not in parts] + [(rest.marker, folder)]
    assert len(whole) == len(set(whole))
    folders = {
        p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))
    }
    # Every folder holding tests is a tier, and every tier runs in a lane.
    assert folders == set(_TIERS)
    assert {(marker, f"tests/{folder}") for folder, marker in _TIERS.items()} == set(whole)


def test_a_tier_cut_in_two_runs_each_test_once(tmp_path, monkeypatch, capsys) -> None:
    here = "tests/unit/scripts/test_test_suite.py"
    monkeypatch.setattr(test_suite, "OUTPUT", tmp_path)
    lanes = ((("unit", here),), (("unit", "tests/unit/scripts", here),))
    monkeypatch.setattr(test_suite, "LANES", lanes)
    # One test, selected in both parts: the first part runs it, the rest leaves its file out.
    assert test_suite.main(["-q", "-k", "a_tiers_summary_is"]) == 1
    assert "1 passed" in (tmp_path / "unit.log").read_text()
    rest = (tmp_path / "unit-2.log").read_text()
    assert "deselected" in rest and "passed" not in rest
    assert "failed tiers: unit-2" in capsys.readouterr().out


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
