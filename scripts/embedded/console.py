"""Terminal output of ``make run`` that never stops the supervisor.

Every line goes to the terminal with the time since start, and to ``data/logs/make-run.log``.
If stdout goes away (``make run | tee run.log`` and Ctrl-C kills ``tee`` first), writing to it
raises ``BrokenPipeError``; the console then stops writing there and carries on with the log
file, so the clean-up that follows a Ctrl-C still runs to the end.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO


class Console:
    def __init__(self, log_path: Path, started: float | None = None) -> None:
        self.started = started if started is not None else time.monotonic()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: TextIO | None = open(log_path, "a", buffering=1)  # noqa: SIM115
        self._stdout_ok = True

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stamp(self) -> str:
        s = int(self.elapsed())
        return f"{s // 60:02d}:{s % 60:02d}"

    def say(self, message: str = "", *, stamp: bool = True) -> None:
        lines = message.splitlines() or [""]
        prefix = f"[{self.stamp()}] " if stamp else ""
        text = "".join(f"{prefix}{line}\n" if line else "\n" for line in lines)
        if self._log is not None:
            try:
                self._log.write(text)
            except OSError:
                self._log = None
        if self._stdout_ok:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._stdout_ok = False
                # Python would report the broken pipe again when it flushes at exit.
                try:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                except OSError:
                    pass

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log, indented, for a report on the terminal."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64_000))
            text = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"    (no log: {exc})"
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    | {line[:220]}" for line in kept) or "    (log is empty)"
