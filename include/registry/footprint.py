"""What a candidate costs to serve: single-row predict latency and artifact size.

The gate measures both for every candidate (:mod:`include.registry.gate`) and a candidate
over the spec's ``serving.model_p99_ms`` or ``serving.max_model_mb`` cannot become
champion. Latency is measured the way serving scores, in process: the pyfunc model
unwrapped, ``predict_array`` on one float32 row at a time (holdout rows in turn).

Noise: the gate runs on busy workers (2 cores shared with the scheduler and other tasks).
There the wall-clock p99 measures the machine, not the model: at a load of 4.6 an XGBoost
call of 0.6 ms median had a wall p99 of 5.2-6.5 ms in every one of six rounds of 300
calls, its process-CPU p99 1.0-1.6 ms. So each call is timed twice, wall time with
``perf_counter_ns`` and the calling thread's CPU time with ``thread_time_ns``, and its
latency is the smaller of the two (the thread's, not the process's: two promotions judged
at once in one process, or a heartbeat thread, must not charge their work to the model;
both families score on the calling thread: XGBoost with ``nthread=1``, the MLP in numpy):

* wall time above CPU time is time the process was not running (another process had the
  core) or waited; the models do no I/O, so that is the machine's noise, dropped;
* CPU time above wall time can not happen on one thread; a model that scored on threads
  of its own would be undercounted: ours do not (``probability_model``);
* a model that is slow is slow on both clocks: its own work always counts in full.

After a warm-up, with the garbage collector paused, ``calls`` calls make a round's p50 and
p99; of ``rounds`` rounds the quietest (lowest p99) is kept, because noise only ever adds
time. A round stops at ``max_round_s`` (a pathologically slow model needs no 300 calls).
The wall-clock p99 of that round is kept too, for the report.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

MB = 1024 * 1024  # as the rest of the project counts sizes (e.g. feeds' max_batch_mb)
WARMUP_CALLS = 30
CALLS_PER_ROUND = 300
ROUNDS = 3


@dataclass(frozen=True)
class Latency:
    """Single-row predict latency, milliseconds (the quietest round's percentiles)."""

    p50_ms: float
    p99_ms: float
    wall_p99_ms: float  # the same round's plain wall-clock p99 (machine noise included)
    calls: int  # calls per round (fewer than asked if a round hit its time limit)
    rounds: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _round(
    predict_one: Callable[[np.ndarray], Any],
    singles: list[np.ndarray],
    calls: int,
    max_round_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Wall and process-CPU nanoseconds of each call of one round."""
    wall: list[int] = []
    cpu: list[int] = []
    deadline = time.perf_counter_ns() + int(max_round_s * 1e9)
    for i in range(calls):
        row = singles[i % len(singles)]
        cpu_start, start = time.thread_time_ns(), time.perf_counter_ns()
        predict_one(row)
        end, cpu_end = time.perf_counter_ns(), time.thread_time_ns()
        wall.append(end - start)
        cpu.append(cpu_end - cpu_start)
        if end > deadline:
            break
    return np.asarray(wall, dtype=np.float64), np.asarray(cpu, dtype=np.float64)


def measure_latency(
    predict_one: Callable[[np.ndarray], Any],
    rows: np.ndarray,
    *,
    warmup: int = WARMUP_CALLS,
    calls: int = CALLS_PER_ROUND,
    rounds: int = ROUNDS,
    max_round_s: float = 5.0,
) -> Latency:
    """Time ``predict_one(rows[i : i + 1])`` over ``rows`` in turn; see the module docstring."""
    if rows.ndim != 2 or not len(rows):
        raise ValueError(f"need a 2-D array of at least one row to time, got {rows.shape}")
    if calls < 1 or rounds < 1:
        raise ValueError(f"need at least one round of one call, got {rounds} x {calls}")
    singles = [rows[i : i + 1] for i in range(len(rows))]
    for i in range(warmup):
        predict_one(singles[i % len(singles)])
    best: Latency | None = None
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            wall, cpu = _round(predict_one, singles, calls, max_round_s)
            ms = np.minimum(wall, cpu) / 1e6
            latency = Latency(
                p50_ms=float(np.percentile(ms, 50)),
                p99_ms=float(np.percentile(ms, 99)),
                wall_p99_ms=float(np.percentile(wall / 1e6, 99)),
                calls=len(ms),
                rounds=rounds,
            )
            if best is None or latency.p99_ms < best.p99_ms:
                best = latency
    finally:
        if enabled:
            gc.enable()
    assert best is not None  # at least one round ran
    return best


def directory_mb(path: Path | str) -> float:
    """Total size of the files under ``path`` (a downloaded model), in MB."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / MB
