"""Prediction capture: every served transaction, as served, to the lake — off the request path.

The request thread only *offers* a record to a bounded in-memory queue: that never blocks
and never raises; when the queue is full the record is dropped and counted (monitoring
loses a sample, the client loses nothing). An offer is a ``deque.append``: it wakes no
thread (a ``queue.Queue`` put signals the waiting writer, a GIL hand-off per request). One
writer thread looks at the queue every ``tick_seconds`` and writes a part file every
``flush_seconds`` or ``flush_records`` records, one per UTC day of ``served_at``::

    <lake>/capture/date=<YYYY-MM-DD>/part-<UTC stamp>-<pid>-<seq>.jsonl   (include.layout)

written atomically (``include.storage.write_bytes``: local temp file + rename, or one S3
put), so a reader never sees half a file and two processes never write the same name. A
failing or slow disk only delays the writer: its records are counted as failed, the error
logged at most once a minute. ``close()`` flushes what is queued (service shutdown).

A record (one JSON object per line): ``request_id``, ``transaction_id``, ``served_at``,
``model_name``, ``model_version``, ``features`` (name -> value as served, null for a
missing value), ``score``, ``decision``, ``scored``, ``unscored_reason``, ``latency_ms``,
and the transaction's ``event_timestamp`` (what drift windows are cut on).

``MLOPS_SERVING_CAPTURE=false`` turns capture off (pre-traffic checks: smoke traffic must
not reach monitoring).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from include import layout, storage

CAPTURE_ENV = "MLOPS_SERVING_CAPTURE"
log = logging.getLogger(__name__)

Writer = Callable[[str, bytes], None]
Events = Callable[[str, int], None]  # ("written" | "dropped" | "failed", count)


def capture_enabled() -> bool:
    """False when ``MLOPS_SERVING_CAPTURE`` is false/0/no/off (default: on)."""
    value = os.environ.get(CAPTURE_ENV, "").strip().lower()
    return value not in ("false", "0", "no", "off")


def _clean(value: Any) -> Any:
    """JSON has no NaN: a missing feature value is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _day(record: Mapping[str, Any]) -> date:
    served = record.get("served_at")
    if isinstance(served, datetime):
        return served.astimezone(UTC).date()
    try:
        return datetime.fromisoformat(str(served)).astimezone(UTC).date()
    except ValueError:
        return datetime.now(UTC).date()


class Capture:
    """A bounded queue and one writer thread (see the module docstring)."""

    def __init__(
        self,
        lake_uri: str,
        *,
        enabled: bool = True,
        max_queue: int = 10_000,
        flush_seconds: float = 2.0,
        flush_records: int = 1_000,
        tick_seconds: float = 0.25,
        writer: Writer = storage.write_bytes,
        events: Events | None = None,
        log_every_seconds: float = 60.0,
    ) -> None:
        self.lake_uri = lake_uri
        self.enabled = enabled
        self.flush_seconds = flush_seconds
        self.flush_records = flush_records
        self.tick_seconds = min(tick_seconds, flush_seconds)
        self._writer = writer
        self._events = events
        self._max_queue = max_queue
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._counts = {"offered": 0, "written": 0, "dropped": 0, "failed": 0, "files": 0}
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log_every = log_every_seconds
        self._last_log = -math.inf
        self.last_error: str | None = None

    # ------------------------------------------------------------------ request thread
    def offer(self, record: dict[str, Any]) -> bool:
        """Queue ``record`` for writing; False when capture is off or the queue is full.
        Never blocks, never raises."""
        if not self.enabled:
            return False
        try:
            if len(self._queue) >= self._max_queue:
                self._count("dropped", 1)
                return False
            self._queue.append(record)
            self._count("offered", 1)
            return True
        except Exception:  # noqa: BLE001 - a capture problem must never reach the request
            return False

    def counters(self) -> dict[str, Any]:
        """Offered, written, dropped, failed records; files written; records queued."""
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
        out["queued"] = len(self._queue)
        out["enabled"] = self.enabled
        out["last_error"] = self.last_error
        return out

    # ---------------------------------------------------------------------- lifecycle
    def start(self) -> Capture:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer after it has flushed what was queued (bounded by ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self.flush()

    # ----------------------------------------------------------------- writer thread
    def _run(self) -> None:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.flush_seconds
        while True:
            wait = min(self.tick_seconds, max(0.0, deadline - time.monotonic()))
            stopping = self._stop.wait(wait)
            batch += self._drain()
            while len(batch) >= self.flush_records:
                self._write(batch[: self.flush_records])
                batch = batch[self.flush_records :]
            now = time.monotonic()
            if batch and (now >= deadline or stopping):
                self._write(batch)
                batch = []
            if now >= deadline:
                deadline = now + self.flush_seconds
            if stopping:
                return

    def _drain(self) -> list[dict[str, Any]]:
        out = []
        pop = self._queue.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            return out

    def flush(self) -> int:
        """Write everything queued now, on the caller's thread; returns records written."""
        batch = self._drain()
        return self._write(batch) if batch else 0

    def _write(self, batch: list[dict[str, Any]]) -> int:
        by_day: dict[date, list[dict[str, Any]]] = {}
        for record in batch:
            by_day.setdefault(_day(record), []).append(record)
        written = 0
        for day, records in sorted(by_day.items()):
            try:
                lines = [json.dumps(_clean(r), default=str, allow_nan=False) for r in records]
                data = ("\n".join(lines) + "\n").encode()
                self._writer(self._part_uri(day), data)
            except Exception as exc:  # noqa: BLE001 - counted and logged, never raised
                self._count("failed", len(records))
                self._log_failure(exc, len(records))
                continue
            written += len(records)
            self._count("written", len(records))
            self._count("files", 1)
        return written

    def _part_uri(self, day: date) -> str:
        with self._lock:
            self._seq += 1
            seq = self._seq
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return storage.join(
            layout.capture_dir(self.lake_uri, day), f"part-{stamp}-{os.getpid()}-{seq:06d}.jsonl"
        )

    # ------------------------------------------------------------------------ helpers
    def _count(self, name: str, n: int) -> None:
        with self._lock:
            self._counts[name] += n
        if self._events is not None and name in ("written", "dropped", "failed"):
            try:
                self._events(name, n)
            except Exception:  # noqa: BLE001 - metrics must not break capture
                pass

    def _log_failure(self, exc: Exception, n: int) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        now = time.monotonic()
        if now - self._last_log >= self._log_every:
            self._last_log = now
            log.error(
                "capture: %d records not written to %s (%s); counted as failed, serving "
                "continues (further errors are logged at most every %.0f s)",
                n,
                self.lake_uri,
                self.last_error,
                self._log_every,
            )
