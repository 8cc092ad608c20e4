"""``python -m include.quality check``: a producer gets the ingest's verdict before landing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from devtools import simulator
from include.config import REPO_ROOT, get_settings
from include.data import lake
from include.quality import profile
from include.quality.__main__ import main
from include.spec import load_spec
from tests.unit.quality.test_history import IDS, typed

START = dt.date(2026, 11, 1)
DAY = START + dt.timedelta(days=6)


@pytest.fixture
def platform(data_root: Path, monkeypatch: pytest.MonkeyPatch):
    """Six published days of the fraud spec, with their profile, as ingest leaves them."""
    monkeypatch.setenv("MLOPS_USECASE_SPEC", str(REPO_ROOT / "usecase" / "fraud.yaml"))
    spec = load_spec(REPO_ROOT / "usecase" / "fraud.yaml")
    feed = spec.feed("transactions")
    lake_uri = get_settings().lake_uri
    for i in range(6):
        d = START + dt.timedelta(days=i)
        frame = typed(simulator.simulate_transactions(spec, d, rows=2000), feed)
        staged = f"{lake_uri}/staging/{d}.parquet"
        lake.stage(frame, staged)
        lake.publish(staged, lake_uri, "transactions", d)
        stats = profile.partition_stats(frame, feed, d, identifiers=IDS)
        profile.record_partition(lake_uri, "transactions", d, stats)
        profile.rebuild(lake_uri, feed, "r", IDS)
    return spec


def _file(folder: Path, frame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "delivery.csv"
    path.write_bytes(simulator.to_csv_bytes(frame))
    return path


def test_a_unit_change_exits_1_with_its_named_cause_and_the_lake_untouched(
    platform, data_root, tmp_path, capsys
):
    frame = simulator.simulate_transactions(platform, DAY, rows=2000)
    clean = _file(tmp_path / "clean" / DAY.isoformat(), frame)  # the day from the folder
    assert main(["check", "transactions", str(clean)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"transactions batch {DAY}: PUBLISH (2,000 rows; history: 6")
    before = sorted(p.relative_to(data_root) for p in data_root.rglob("*"))
    shifted = _file(tmp_path / "x100", frame.assign(amount=frame["amount"] * 100))
    assert main(["check", "transactions", str(shifted), "--day", DAY.isoformat()]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"transactions batch {DAY}: QUARANTINE")
    assert "  amount: median " in out and "a unit change?" in out
    assert "history.quantiles(amount)" in out
    assert sorted(p.relative_to(data_root) for p in data_root.rglob("*")) == before


def test_usage_errors_exit_2_with_the_way_out(platform, tmp_path, capsys):
    path = _file(tmp_path / "anywhere", simulator.simulate_transactions(platform, DAY, rows=10))
    assert main(["check", "transactions", str(path)]) == 2
    assert "pass --day YYYY-MM-DD" in capsys.readouterr().err
    assert main(["check", "nope", str(path), "--day", str(DAY)]) == 2
    assert "no feed 'nope'" in capsys.readouterr().err
