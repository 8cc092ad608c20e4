"""Hyper-parameter search: a small, seeded random search within the spec's tuning budget.

The first config is the family's sound default, so a budget of 1 trains exactly the
default; further configs are distinct draws from the family's grid. The same seed always
yields the same configs (reproducibility, C8).
"""

from __future__ import annotations

import random
from typing import Any


def draw_configs(
    default: dict[str, Any], grid: dict[str, list[Any]], budget: int, seed: int
) -> list[dict[str, Any]]:
    """``budget`` distinct configs: ``default``, then random draws of every grid key."""
    if budget < 1:
        raise ValueError(f"tuning budget must be >= 1, got {budget}")
    rng = random.Random(seed)
    configs = [dict(default)]
    seen = {repr(sorted(default.items()))}
    for _ in range(200 * budget):  # the grids are far larger than any budget; bound anyway
        if len(configs) >= budget:
            break
        config = {**default, **{k: rng.choice(v) for k, v in grid.items()}}
        key = repr(sorted(config.items()))
        if key not in seen:
            seen.add(key)
            configs.append(config)
    return configs
