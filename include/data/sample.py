"""A uniform, deterministic sample of a feed's rows, decided by each row's key alone.

A row is kept when the keyed hash of its key, read as a number in [0, 1), falls below the
rate. So the same key is kept or dropped in every process, run and partition (an event and
its label agree without a join), the same rate over the same rows gives the same sample,
a lower rate keeps a subset of what a higher one kept, and being kept says nothing of a
row's label, time or entity: shares, metrics and thresholds computed on the sample estimate
the whole's without weights.

The hash is SipHash-2-4 of the key's text under a fixed 16-byte key
(``pandas.util.hash_array``: vectorised, about 8x a Python loop of ``hashlib.blake2b``, which
would cost minutes a day at 10M rows). Its values for known keys are pinned in
tests/unit/data/test_sample.py: a library upgrade that changed them fails there instead of
silently drawing another sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HASH_KEY = "mlops-sample-key"  # SipHash's key: 16 characters; changing it redraws samples


def key_hash(keys: pd.Series) -> np.ndarray:
    """Each key's hash as a float in [0, 1) (the top 53 bits of the 64-bit hash)."""
    text = keys.astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(text, hash_key=HASH_KEY, categorize=False)
    return (hashed >> np.uint64(11)).astype(np.float64) * 2.0**-53


def rate_for(rows: int, cap: int | None) -> float:
    """The share of ``rows`` to keep so that about ``cap`` remain (1.0: keep all)."""
    return 1.0 if cap is None or rows <= cap else cap / rows


def keep(frame: pd.DataFrame, key: str, rate: float) -> pd.DataFrame:
    """The rows of ``frame`` whose ``key`` hashes below ``rate`` (``frame`` itself at 1.0)."""
    if rate >= 1.0:
        return frame
    return frame[key_hash(frame[key]) < rate]


@dataclass(frozen=True)
class Sampling:
    """What a sample kept: ``kept`` rows at ``rate`` (1.0: everything, not sampled)."""

    rate: float
    kept: int

    def describe(self, what: str, key: str) -> str:
        """For lineage and logs (``what``: the rows, ``key``: the hashed column); ``"-"``
        when nothing was left out. The whole's size is estimated: kept / rate."""
        if self.rate >= 1.0:
            return "-"
        return (
            f"{self.kept:,} of about {round(self.kept / self.rate):,} {what} "
            f"(rate {self.rate:.4g}, by hash of {key})"
        )
