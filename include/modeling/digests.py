"""Content digests of frames: the identity of a training set or a holdout.

Two frames with the same values in the same columns and row order have the same digest,
whatever their file, index or dtype objects; lineage tags and the gate use it to tell
"the same data again" from new data (fault model C8).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd


def frame_digest(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """SHA-256 of the given columns' values in row order (reproducibility tag, C8)."""
    hashed = pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()
