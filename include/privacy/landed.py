"""Raw pii values, read back from the landing zone (the source of record) by row key.

Only for a request a client would send with raw ids: the deployment's golden requests
exercise the service the way a client calls it, so they carry the raw values the service
pseudonymises itself. Nothing read here is written anywhere.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from include import storage
from include.data import batches
from include.spec import FeedSpec


def raw_values(landing_uri: str, feed: FeedSpec, day: date) -> pd.DataFrame:
    """The day's landed ``feed.key`` and pii columns (raw text), one row per key; empty when
    nothing is landed for the day (erased, or moved to quarantine)."""
    wanted = [feed.key, *(c for c in feed.pii_columns if c != feed.key)]
    frames = []
    for info in batches.list_batch_files(landing_uri, feed.name, day):
        frame, error = batches._read_csv(storage.read_bytes(info.uri))
        if error is None and set(wanted) <= set(frame.columns):
            frames.append(frame[wanted])
    if not frames:
        return pd.DataFrame(columns=wanted)
    return pd.concat(frames, ignore_index=True).drop_duplicates(feed.key).set_index(feed.key)
