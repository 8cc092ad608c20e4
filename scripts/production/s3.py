"""The profile's S3 endpoint: the moto server (MinIO in compose), with a fault switch.

``python -m scripts.production.s3 --port 9000 --faults <dir>`` serves moto's S3 API on
127.0.0.1. Its state lives in memory, so each start of the profile begins with empty buckets.

Fault switch (fault B6, an S3 that refuses uploads): while ``<faults>/s3-deny-writes`` exists,
every PUT or POST to a bucket named in that file (one per line; ``*`` for all) is answered
``403 AccessDenied``, exactly as S3 answers a principal without ``s3:PutObject``. Reads still
work. The switch is a file, so a test or an operator flips it without a request to the server.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

DENY_WRITES = "s3-deny-writes"

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
    """Wrap a WSGI app so that writes to denied buckets get 403 (see the module doc)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
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
