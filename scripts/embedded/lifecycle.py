"""What every supervised start (``make run``, ``make run-prod``) shares: signals, ports,
one-shot preparation steps and the status file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from scripts.embedded.console import Console, tail
from scripts.embedded.supervisor import Supervisor, Unrecoverable


class Stop(Exception):
    """Ctrl-C, SIGTERM or SIGHUP: stop everything and exit 0."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def on_signal(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def refuse_taken(ports: dict[str, int], hint: str) -> None:
    taken = [f"{what} {port}" for what, port in ports.items() if port_taken(port)]
    if taken:
        raise Unrecoverable("port(s) already in use: " + "; ".join(taken) + ". " + hint)


class OneShots:
    """Preparation steps run in parallel; :meth:`wait` raises on the first failure."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = self.logs / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env)
        self.procs[name] = (proc, log)

    def wait(self) -> None:
        try:
            for name, (proc, log) in self.procs.items():
                code = proc.wait()
                if code != 0:
                    raise Unrecoverable(
                        f"{name} failed (exit {code}); last lines of {log}:\n{tail(log)}"
                    )
        finally:
            for proc, _ in self.procs.values():
                if proc.poll() is None:
                    proc.kill()
            self.procs.clear()


def write_status(path: Path, status: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1, default=str))
    tmp.replace(path)


def supervise(
    name: str,
    console: Console,
    supervisor: Supervisor,
    status: dict[str, object],
    status_path: Path,
    body: Callable[[], None],
    *,
    after_forced: str = "",
) -> int:
    """Run ``body`` (start the components, then watch them) until Ctrl-C/SIGTERM/SIGHUP or
    an unrecoverable failure; then stop everything, record the outcome in the status file
    and return the exit code (0 after a signal, 1 after a failure)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    code = 0
    try:
        body()
    except Stop as why:
        status["stopped_by"] = str(why)
    except (Unrecoverable, KeyError) as exc:
        code = 1
        status["error"] = str(exc)
        # Kill first: the message below may go to a closed terminal.
        supervisor.stop_all()
        console.say(f"xx {name} cannot run: {exc}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        forced = supervisor.stop_all()
        status["phase"] = "stopped"
        status["exit_code"] = code
        status["restarts"] = supervisor.restart_counts()
        write_status(status_path, status)
        console.say(
            f"stopping {name} ... stopped"
            + (
                f" ({', '.join(forced)} killed after the grace period{after_forced})"
                if forced
                else "."
            )
        )
        console.close()
    return code
