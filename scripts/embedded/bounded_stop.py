"""Run one component so that a stop signal stops it within a bound (fault B2).

``python scripts/embedded/bounded_stop.py --grace 30 [--signal TERM] -- airflow scheduler``

A component told to stop is down for the user until it has exited, and the watchdog can only
restart what has exited. Airflow's scheduler, for one, cleans up after SIGTERM (its executor,
its job row) for as long as that takes, and a cleanup that waits on a busy database or broker
had kept the scheduler down for minutes. This launcher holds the component's stop to a grace
period, as Kubernetes' ``terminationGracePeriodSeconds`` and ``docker stop -t`` do.

* It starts the component as its child, in its own process group (the supervisor made it a
  group leader), so a stop sent to the group (the supervisor's way, and ``kill -TERM -<pid>``)
  reaches both at once. On SIGTERM or SIGINT the launcher passes nothing on (the component has
  it already) and starts the grace period; when the component has not exited at its end, the
  launcher says so in the component's log and kills the group with SIGKILL.
* SIGHUP is what it gets when the supervisor itself dies (``PR_SET_PDEATHSIG``): it stops the
  component with the component's stop signal (``--signal``, SIGTERM by default; SIGINT for
  PostgreSQL's fast shutdown), under the same grace.
* Its exit status is the component's (``128 + n`` for a component killed by signal ``n``), and
  the component dies with it if the launcher is killed (``PR_SET_PDEATHSIG`` SIGKILL).

Standard library only, run as a file: it costs a few milliseconds and megabytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

_PR_SET_PDEATHSIG = 1


def _die_with_launcher() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _say(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with contextlib.suppress(OSError):
        print(f"==== {stamp} bounded stop: {message}", file=sys.stderr, flush=True)


def _kill_group_but_me() -> None:
    """SIGKILL every other process of this process group (the component and what it forked)."""
    me, group = os.getpid(), os.getpgrp()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                pgid = int(fh.read().rsplit(")", 1)[1].split()[2])
        except (OSError, ValueError, IndexError):
            continue
        if pgid == group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)


def run(argv: list[str], grace_s: float, stop_signal: int = signal.SIGTERM) -> int:
    child = subprocess.Popen(argv, preexec_fn=_die_with_launcher)
    deadline: float | None = None
    received: list[int] = []

    def on_stop(signum: int, _frame: object) -> None:
        nonlocal deadline
        received.append(signum)
        if signum == signal.SIGHUP:  # the supervisor died: stop the component ourselves
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(stop_signal)
        if deadline is None:
            deadline = time.monotonic() + grace_s

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_stop)
    while True:
        try:
            code = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if deadline is not None and time.monotonic() > deadline:
            name = signal.Signals(received[0]).name
            _say(
                f"{' '.join(argv[:2])} (pid {child.pid}) did not exit within {grace_s:.0f} s "
                f"of {name}: killing its process group"
            )
            _kill_group_but_me()
            code = child.wait()
            break
    return 128 - code if code < 0 else code


def main(args: list[str]) -> int:
    grace_s, stop_signal = 30.0, signal.SIGTERM
    while args[:1] in (["--grace"], ["--signal"]):
        if args[0] == "--grace":
            grace_s = float(args[1])
        else:
            stop_signal = signal.Signals[f"SIG{args[1].removeprefix('SIG')}"]
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print(
            "usage: bounded_stop.py [--grace SECONDS] [--signal NAME] -- command [args...]",
            file=sys.stderr,
        )
        return 2
    return run(args, grace_s, stop_signal)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main(sys.argv[1:]))
