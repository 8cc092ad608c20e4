"""Prediction capture: never blocks or fails a request; daily part files, atomically."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from include import layout
from serving import capture


def record(i: int, served_at: str = "2026-11-30T23:59:59+00:00") -> dict:
    return {
        "request_id": f"r{i}",
        "transaction_id": f"tx_{i:016x}",
        "served_at": served_at,
        "model_name": "fraud_is_fraud",
        "model_version": "3",
        "features": {"f1": 1.5, "f2": float("nan")},
        "score": 0.25,
        "decision": "approve",
        "scored": True,
        "unscored_reason": None,
        "latency_ms": 2.5,
    }


def parts(lake: Path) -> list[Path]:
    return sorted((lake / "capture").rglob("*.jsonl"))


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path) -> None:
    cap = capture.Capture(str(tmp_path), max_queue=3)  # writer not started: nothing drains
    start = time.perf_counter()
    accepted = [cap.offer(record(i)) for i in range(1000)]
    elapsed = time.perf_counter() - start
    assert accepted[:3] == [True] * 3 and not any(accepted[3:])
    counts = cap.counters()
    assert counts["dropped"] == 997 and counts["offered"] == 3 and counts["queued"] == 3
    assert elapsed < 0.5  # ~1 µs per offer; a blocking put would hang here


def test_a_failing_or_hanging_disk_never_reaches_offer(tmp_path, caplog) -> None:
    release = threading.Event()

    def broken(uri: str, data: bytes) -> None:
        release.wait(5)  # a disk that hangs, then fails
        raise OSError("disk full")

    events: list[tuple[str, int]] = []
    cap = capture.Capture(
        str(tmp_path),
        max_queue=10,
        flush_seconds=0.05,
        writer=broken,
        events=lambda k, n: events.append((k, n)),
    ).start()
    with caplog.at_level(logging.ERROR, logger="serving.capture"):
        start = time.perf_counter()
        results = [cap.offer(record(i)) for i in range(100)]
        assert time.perf_counter() - start < 0.5
        release.set()
        cap.close()
    counts = cap.counters()
    assert counts["written"] == 0 and counts["failed"] + counts["dropped"] == 100
    assert sum(results) == counts["failed"] > 0
    assert ("dropped", 1) in events and any(k == "failed" for k, _ in events)
    assert len([r for r in caplog.records if "not written" in r.message]) == 1  # rate-limited
    assert "disk full" in counts["last_error"]


def test_records_land_in_daily_part_files_as_json_lines(tmp_path) -> None:
    cap = capture.Capture(str(tmp_path), flush_seconds=60, flush_records=1000)
    for i in range(3):
        cap.offer(record(i))
    cap.offer(record(3, served_at="2026-12-01T00:00:01+00:00"))
    assert cap.flush() == 4
    files = parts(tmp_path)
    assert [f.parent for f in files] == [
        Path(layout.capture_dir(str(tmp_path), date(2026, 11, 30))),
        Path(layout.capture_dir(str(tmp_path), date(2026, 12, 1))),
    ]
    for f in files:
        assert re.fullmatch(r"part-\d{8}T\d{12}Z-\d+-\d{6}\.jsonl", f.name)
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [r["transaction_id"] for r in lines] == [record(i)["transaction_id"] for i in range(3)]
    assert lines[0]["features"] == {"f1": 1.5, "f2": None}  # JSON has no NaN
    assert cap.counters()["files"] == 2
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_the_writer_flushes_on_time_and_on_close(tmp_path) -> None:
    cap = capture.Capture(str(tmp_path), flush_seconds=0.2, flush_records=1000).start()
    cap.offer(record(1, datetime.now(UTC).isoformat()))
    deadline = time.monotonic() + 5
    while not parts(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(parts(tmp_path)) == 1
    for i in range(5):
        cap.offer(record(i, datetime.now(UTC).isoformat()))
    cap.close()
    assert cap.counters()["written"] == 6 and cap.counters()["queued"] == 0


def test_a_batch_of_records_is_flushed_before_the_timer(tmp_path) -> None:
    cap = capture.Capture(str(tmp_path), flush_seconds=60, flush_records=10).start()
    for i in range(25):
        cap.offer(record(i))
    deadline = time.monotonic() + 5
    while cap.counters()["written"] < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cap.counters()["written"] >= 20
    cap.close()
    assert cap.counters()["written"] == 25


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("false", False), ("0", False), ("OFF", False), ("true", True), ("", True)],
)
def test_capture_can_be_switched_off_for_smoke_traffic(
    monkeypatch, tmp_path, value, enabled
) -> None:
    monkeypatch.setenv(capture.CAPTURE_ENV, value)
    assert capture.capture_enabled() is enabled
    cap = capture.Capture(str(tmp_path), enabled=capture.capture_enabled()).start()
    assert cap.offer(record(1)) is enabled
    cap.close()
    assert bool(parts(tmp_path)) is enabled
