"""A local SMTP sink for the embedded setup: every mail received is kept as an .eml file.

    python -m devtools.mail_sink --port 2525 --dir data/mail

Files are named ``<UTC time>-<subject>.eml`` so the newest alert is easy to find; open one
with any mail client or read it as text. Not for production (use Mailpit or a real relay).
"""

from __future__ import annotations

import argparse
import email
import re
import signal
import threading
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any


class FileSinkHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._n = 0

    def save(self, content: bytes) -> Path:
        msg = email.message_from_bytes(content)
        subject = str(make_header(decode_header(msg.get("Subject", "no subject"))))
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", subject).strip("_")[:80] or "mail"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        with self._lock:
            self._n += 1
            path = self.folder / f"{stamp}-{self._n:04d}-{slug}.eml"
        path.write_bytes(content)
        return path

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        path = self.save(envelope.original_content or envelope.content)
        print(f"mail-sink: saved {path.name}", flush=True)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", type=Path, required=True, help="folder that keeps the mails")
    args = parser.parse_args(argv)
    controller = Controller(FileSinkHandler(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail-sink: listening on {args.host}:{args.port}, saving to {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
