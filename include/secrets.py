"""Secret files the platform generates once: the serving token, the PII key.

A secret file is created exclusively (``os.link`` of a complete 0600 temp file), so two
processes starting at once agree on one value and no reader ever sees a half-written file.
Callers never log or print a secret, only its path.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def ensure_secret_file(path: Path, make: Callable[[], str]) -> str:
    """The contents of ``path``, written first from ``make()`` when the file is missing."""
    path = Path(path)
    if path.is_file():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # ours: readable by its owner only
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(make() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its value
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text()
