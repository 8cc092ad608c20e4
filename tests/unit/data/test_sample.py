"""The key-hash sampler (``include.data.sample``) and the footer row count it is sized by."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from include import layout, storage
from include.data import lake, sample

ROOT = Path(__file__).resolve().parents[3]
KEYS = ["tx_0000000000000001", "tx_00000000000000ff", "flight-42"]
# Pinned: a change of the hash (a pandas upgrade, another HASH_KEY) would draw another
# training sample for the same window; it must be a decision, not a side effect.
PINNED = [0.25014381558279875, 0.6969543295353222, 0.23090501009645958]


def test_the_key_hash_is_pinned_and_the_same_in_another_process() -> None:
    assert sample.key_hash(pd.Series(KEYS)).tolist() == PINNED
    code = (
        "import sys, pandas as pd; from include.data.sample import key_hash; "
        "print(repr(key_hash(pd.Series(sys.argv[1:])).tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *KEYS],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert eval(out.stdout) == PINNED  # noqa: S307 - a list literal printed by our own code


def test_a_key_hashes_by_its_text_into_0_1_uniformly() -> None:
    assert sample.key_hash(pd.Series([42, 7])).tolist() == (
        sample.key_hash(pd.Series(["42", "7"])).tolist()
    )
    u = sample.key_hash(pd.Series([f"tx_{i:016x}" for i in range(100_000)]))
    assert u.min() >= 0.0 and u.max() < 1.0
    # each tenth holds 10,000 +- 4.5 binomial standard deviations (sqrt(100k * .1 * .9))
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.abs(counts - 10_000).max() <= 4.5 * np.sqrt(100_000 * 0.1 * 0.9)


def test_a_lower_rate_keeps_a_subset_and_rate_1_keeps_the_frame_itself() -> None:
    frame = pd.DataFrame({"k": [f"e{i}" for i in range(5_000)], "v": range(5_000)})
    low, high = sample.keep(frame, "k", 0.1), sample.keep(frame, "k", 0.3)
    assert set(low["k"]) < set(high["k"])
    assert sample.keep(frame, "k", 1.0) is frame


@pytest.mark.parametrize(
    ("rows", "cap", "rate"), [(10, None, 1.0), (10, 10, 1.0), (10, 20, 1.0), (40, 10, 0.25)]
)
def test_the_rate_keeps_about_the_cap(rows, cap, rate) -> None:
    assert sample.rate_for(rows, cap) == rate


def test_sampling_is_described_for_the_lineage() -> None:
    assert sample.Sampling(1.0, 1234).describe("events", "id") == "-"
    text = sample.Sampling(0.1, 2_000_000).describe("matured labelled events", "transaction_id")
    assert text == (
        "2,000,000 of about 20,000,000 matured labelled events (rate 0.1, by hash of "
        "transaction_id)"
    )


def test_a_partitions_rows_are_counted_from_its_footer_alone(tmp_path, monkeypatch) -> None:
    lake_uri, day = str(tmp_path / "lake"), date(2026, 11, 1)
    frame = pd.DataFrame({"k": [f"row-{i}" for i in range(50_000)], "v": np.arange(50_000)})
    uri = layout.partition_uri(lake_uri, "transactions", day)
    data = lake.to_parquet_bytes(frame)
    storage.write_bytes(uri, data)
    read: list[int] = []
    tail = storage.read_tail
    monkeypatch.setattr(storage, "read_tail", lambda u, n: read.append(n) or tail(u, n))
    monkeypatch.setattr(lake, "_FOOTER_GUESS", 64)  # smaller than the footer: a second read
    assert lake.partition_rows(lake_uri, "transactions", day) == 50_000
    footer = pq.ParquetFile(io.BytesIO(data)).metadata.serialized_size
    assert read == [64, footer + 8] and footer + 8 < len(data) / 10
    assert storage.read_tail(uri, 10 * len(data)) == data
