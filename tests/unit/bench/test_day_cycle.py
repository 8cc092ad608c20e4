"""The day-cycle bench's arithmetic (``bench/day_cycle.py``) on hand-made run records.

Given two runs on a known timeline (an ingest run of two tasks, then a materialize run the
Asset started), when the wall time is split and the stage figures are computed, then the
busy, queued, scheduling and between-runs pieces are the ones drawn here and add up to the
total, tasks running side by side count once, and each stage's span, task time, queue wait
and gap are those of the timeline. Nothing runs a platform here.
"""

from __future__ import annotations

import pytest

from bench.day_cycle import Run, Task, split_time, stage_figures

# t (s): 0 landed; ingest run queued 0.5, started 1; task a queued 2, runs 3-6; task b
# queued 6.5, runs 7-9; run ends 10. Materialize queued 12, starts 13; task c queued 13,
# runs 14-19; run ends 20.
INGEST = Run(
    "ingest_transactions",
    "r1",
    "success",
    0.5,
    1,
    10,
    [Task("a", "success", 2, 3, 6, 3), Task("b", "success", 6.5, 7, 9, 2)],
)
MATERIALIZE = Run(
    "materialize_features", "r2", "success", 12, 13, 20, [Task("c", "success", 13, 14, 19, 5)]
)


def test_the_wall_time_splits_into_the_drawn_pieces() -> None:
    split = split_time([INGEST, MATERIALIZE], 0, 20)

    assert split == pytest.approx(
        {"busy": 10.0, "queued": 2.5, "scheduling": 5.0, "between runs": 2.5}
    )
    assert sum(split.values()) == pytest.approx(20)


def test_parallel_tasks_count_once_as_busy() -> None:
    labels = Run("ingest_labels", "r3", "success", 0.5, 1, 10, [Task("d", "success", 2, 3, 6, 3)])

    split = split_time([INGEST, labels], 0, 10)

    assert split["busy"] == pytest.approx(5.0)  # 3-6 twice, 7-9 once
    assert sum(split.values()) == pytest.approx(10)


def test_stage_figures_follow_the_timeline() -> None:
    stages = {"ingest transactions": [INGEST], "ingest labels": [], "materialize": [MATERIALIZE]}

    got = stage_figures(stages, 0, 20)

    ingest, mat = got["ingest transactions"], got["materialize"]
    assert (ingest["span_s"], ingest["task_s"], ingest["queue_s"]) == (7, 5, 1.5)
    assert ingest["gap_s"] == 1  # landed at 0, the run started at 1
    assert mat["gap_s"] == 4  # the ingest's last task ended at 9, materialize started at 13
    assert (mat["span_s"], mat["busy_s"], mat["span_minus_task_s"]) == (6, 5.0, 1)
    assert got["ingest labels"] == {"runs": 0, "states": []}


def test_a_bigger_day_comes_from_a_bigger_population_under_the_same_use_case(
    tmp_path, monkeypatch
) -> None:
    from bench.day_cycle import scaled_spec
    from include.spec import load_spec

    monkeypatch.delenv("MLOPS_USECASE_SPEC", raising=False)
    base = load_spec().simulator
    spec = scaled_spec(base.rows_per_day * 10, tmp_path)
    assert spec is not None and spec.stem == "fraud"  # same use case name, DAG ids, storage
    sim = load_spec(spec).simulator
    assert (sim.customers, sim.merchants) == (base.customers * 10, base.merchants * 10)
    assert sim.rows_per_day == base.rows_per_day * 10
    assert scaled_spec(base.rows_per_day, tmp_path / "same") is None
