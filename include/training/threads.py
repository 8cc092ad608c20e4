"""Thread hygiene for XGBoost and PyTorch on small, shared machines.

GNU OpenMP (used by XGBoost and torch) reads ``OMP_WAIT_POLICY`` once, when the library is
loaded. Its default lets idle worker threads spin; on a 2-core machine shared with other
processes the spinning threads starve the working ones, and XGBoost with 2 threads ran at
half the speed of 1 thread (performance-anchors.md: 93 M vs 190 M cell-rounds/s; 342 M with
``PASSIVE``). So every training code path imports xgboost/torch through :func:`import_xgboost`
/ :func:`import_torch`, which set ``PASSIVE`` first. A worker image should also export
``OMP_WAIT_POLICY=PASSIVE`` so that a library loaded earlier (Feast pulls in torch) sees it.

Passive threads sleep at every barrier, and waking them costs more than small work saves.
Measured here (2 cores, another process busy; medians of 3): XGBoost hist with 2 threads
vs 1 took 1.6x as long at 15k x 10 and 60k x 10 cells, 0.87x at 100k x 20 and ~1.0x from
300k x 20 up. So :func:`xgboost_threads` gives one thread per
:data:`XGB_CELLS_PER_THREAD` cells. The MLP's layers are too small to split (2 torch threads
took 1.2-1.45x as long at 210k rows, batch 512-1024, widths 64-128): :data:`MLP_THREADS`.
"""

from __future__ import annotations

import logging
import os
import sys
from types import ModuleType

log = logging.getLogger(__name__)

_OPENMP_LIBRARIES = ("xgboost", "torch", "sklearn")
XGB_CELLS_PER_THREAD = 1_000_000  # rows x features that make one more XGBoost thread pay
MLP_THREADS = 1
_warned = False


def configure_openmp() -> None:
    """Default ``OMP_WAIT_POLICY`` to ``PASSIVE``; warn once if it comes too late."""
    global _warned
    if "OMP_WAIT_POLICY" not in os.environ:
        loaded = [name for name in _OPENMP_LIBRARIES if name in sys.modules]
        if loaded and not _warned:
            _warned = True
            log.warning(
                "OMP_WAIT_POLICY set after %s was imported: OpenMP already read its default "
                "(spinning threads). Export OMP_WAIT_POLICY=PASSIVE in the worker environment.",
                ", ".join(loaded),
            )
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def resolve_threads(threads: int | None) -> int:
    """``threads`` or the CPUs this process may use (the affinity mask, not the host's)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        return threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def xgboost_threads(cap: int, rows: int, features: int) -> int:
    """Threads for XGBoost on ``rows`` x ``features``: at most ``cap``, at least 1."""
    return max(1, min(cap, rows * features // XGB_CELLS_PER_THREAD))


def import_xgboost() -> ModuleType:
    """``xgboost``, imported after the OpenMP policy is set."""
    configure_openmp()
    import xgboost

    return xgboost


def import_torch(threads: int | None = None) -> ModuleType:
    """``torch``, imported after the OpenMP policy is set, with its intra-op threads capped."""
    configure_openmp()
    import torch

    torch.set_num_threads(resolve_threads(threads))
    return torch
