"""Serialize registrations and promotions of one registered model (fault C3).

Setting an MLflow alias is last-writer-wins, and MLflow has no compare-and-set: two runs
that each compared against the old champion could both promote, and the worse one could
win. Two concurrent writes of the *same* alias even failed outright (the store reads, then
inserts: UNIQUE constraint error on SQLite). So every alias write of the gate, and its
decision, happen while holding an exclusive ``flock`` on
``<data_root>/locks/promotion-<model>.lock``; the champion is re-read inside it.

Production caveat: ``flock`` serializes processes on one host (or on a shared filesystem
with working POSIX locks; NFS and object stores are not that). With Celery workers on
several hosts, serialize in Airflow as well: ``max_active_runs=1`` on the training DAG and
a one-slot pool for the promotion task. The re-check narrows the race but cannot close it
without a lock every promoter honours.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from include.registry.errors import PromotionLockTimeout


def lock_path(model_name: str, lock_dir: Path | None = None) -> Path:
    if lock_dir is None:
        from include.config import get_settings

        lock_dir = get_settings().data_root / "locks"
    return Path(lock_dir) / f"promotion-{re.sub(r'[^A-Za-z0-9_.-]', '_', model_name)}.lock"


@contextmanager
def promotion_lock(
    model_name: str, lock_dir: Path | None = None, *, timeout_s: float = 300.0
) -> Iterator[Path]:
    """Hold the model's promotion lock for the ``with`` body; :class:`PromotionLockTimeout`
    after ``timeout_s``. Separate ``open()`` calls conflict, so threads are serialized too."""
    path = lock_path(model_name, lock_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise PromotionLockTimeout(
                        f"promotion lock {path} still held after {timeout_s:.0f} s by {holder}"
                    ) from None
                time.sleep(0.05)
        try:
            # Who holds it, for the timeout message and for a human looking at the file.
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"pid={os.getpid()} host={socket.gethostname()} "
                f"since={dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
            )
            handle.flush()
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
