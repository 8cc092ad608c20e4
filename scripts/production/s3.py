"""The profile's S3 endpoint: the moto server (MinIO in compose), with fault switches.

``python -m scripts.production.s3 --port 9000 --faults <dir>`` serves moto's S3 API on
127.0.0.1. Its state lives in memory, so each start of the profile begins with empty buckets.

Fault switch (fault B6, an S3 that refuses uploads): while ``<faults>/s3-deny-writes`` exists,
every PUT or POST to a bucket named in that file (one per line; ``*`` for all) is answered
``403 AccessDenied``, exactly as S3 answers a principal without ``s3:PutObject``. Reads still
work. The switch is a file, so a test or an operator flips it without a request to the server.

Hold switch (fault B1, a writer killed mid-upload): while ``<faults>/s3-hold-writes`` exists,
a PUT whose ``bucket/key`` starts with one of its lines is held half-received: the server reads
the first half of the body, records ``holding`` in ``<faults>/s3-held-writes.jsonl`` and waits
until the file is gone. Then it reads the rest: a complete body is stored as usual (S3 keeps a
request whose body arrived whole, even when its writer died before the answer; recorded
``released``); a body cut short is dropped, as S3 drops an upload whose connection broke, and
recorded ``abandoned``. A test thus kills a writer while its upload is really in flight, and
waits on that record (it lasts), not on a task state that may last a fraction of a second.
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

DENY_WRITES = "s3-deny-writes"
HOLD_WRITES = "s3-hold-writes"
HELD_LOG = "s3-held-writes.jsonl"

_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied (write refused by the profile's fault switch "
    + DENY_WRITES.encode()
    + b")</Message></Error>"
)


def denied_buckets(faults: Path) -> set[str] | None:
    """The buckets whose writes are refused now (``{"*"}``: all), or None when none are."""
    try:
        text = (faults / DENY_WRITES).read_text()
    except OSError:
        return None
    return {line.strip() for line in text.splitlines() if line.strip()} or {"*"}


def bucket_of(path: str) -> str:
    """The bucket of a path-style request (``/bucket/key...``)."""
    return unquote(path).lstrip("/").split("/", 1)[0]


def held_prefixes(faults: Path) -> list[str]:
    """The ``bucket/key`` prefixes whose uploads are held now (none: the switch is off)."""
    try:
        text = (faults / HOLD_WRITES).read_text()
    except OSError:
        return []
    return [line.strip().lstrip("/") for line in text.splitlines() if line.strip()]


def held_writes(faults: Path) -> list[dict[str, Any]]:
    """The hold switch's records, oldest first: ``{"event", "object", "received", "length"}``."""
    try:
        lines = (faults / HELD_LOG).read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _record(faults: Path, **event: Any) -> None:
    with open(faults / HELD_LOG, "a") as fh:
        fh.write(json.dumps({**event, "at": time.time()}) + "\n")


def _read(stream: Any, n: int) -> bytes:
    """Up to ``n`` bytes of the request body; fewer when the client went away."""
    out = bytearray()
    while stream is not None and len(out) < n:
        try:
            chunk = stream.read(min(n - len(out), 1 << 16))
        except Exception:  # noqa: BLE001 - a reset or a closed socket: the body is cut
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _hold(environ: dict[str, Any], faults: Path, obj: str) -> bool:
    """Hold one upload half-received until the switch goes; True when its body came whole
    (it is then passed on, re-readable), False when the writer went away meanwhile."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ.get("wsgi.input")
    head = _read(stream, length // 2)
    _record(faults, event="holding", object=obj, received=len(head), length=length)
    while (faults / HOLD_WRITES).exists():
        time.sleep(0.1)
    body = head + _read(stream, length - len(head))
    if len(body) < length:
        _record(faults, event="abandoned", object=obj, received=len(body), length=length)
        return False
    _record(faults, event="released", object=obj, received=len(body), length=length)
    environ["wsgi.input"] = io.BytesIO(body)
    return True


_INCOMPLETE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>IncompleteBody</Code>'
    b"<Message>The request body ended before its Content-Length</Message></Error>"
)


def _drain(environ: dict[str, Any]) -> None:
    stream = environ.get("wsgi.input")
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        left = 0
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            return
        left -= len(chunk)


def gate(app: Callable[..., Iterable[bytes]], faults: Path) -> Callable[..., Iterable[bytes]]:
    """Wrap a WSGI app so that writes to denied buckets get 403 and writes under a held
    prefix are held (see the module doc)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "PUT":
            obj = unquote(environ.get("PATH_INFO", "")).lstrip("/")
            held = held_prefixes(faults)
            if any(obj.startswith(p) for p in held) and not _hold(environ, faults, obj):
                start_response(
                    "400 Bad Request",
                    [
                        ("Content-Type", "application/xml"),
                        ("Content-Length", str(len(_INCOMPLETE))),
                    ],
                )
                return [_INCOMPLETE]
        if environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            denied = denied_buckets(faults)
            if denied and ("*" in denied or bucket_of(environ.get("PATH_INFO", "")) in denied):
                # Read the body first, as S3 does: a client still sending it would see its
                # connection reset instead of the 403 and retry as if the network failed.
                _drain(environ)
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(_DENIED)))],
                )
                return [_DENIED]
        return app(environ, start_response)

    return wrapped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--faults", type=Path, required=True, help="folder of fault switches")
    args = parser.parse_args(argv)

    import os

    os.environ.setdefault("MOTO_PORT", str(args.port))
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        gate(app, args.faults),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
