"""Processes of ``make run``: start each in its own process group, watch them, stop them all.

Each component runs in a new session, so a Ctrl-C at the terminal reaches only the
supervisor, which then stops every component at once, PostgreSQL last. Airflow's task
processes start sessions of their own, so a process group does not hold them all: the
supervisor is a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), every process it started,
however deep and even orphaned, stays its descendant, and the stop ends with no descendant
left. ``PR_SET_PDEATHSIG`` makes the kernel stop a component if the supervisor itself is
killed with no chance to clean up, and the process groups of a run are recorded in
``data/run/processes.json`` so the next start stops any that survived.

The watchdog (``check``) restarts a component that exits, or that Airflow's health endpoint
reports unhealthy for longer than ``hung_after_s`` while its process is alive, at most
``max_restarts`` times; after that the run cannot recover and the caller stops everything.

A component told to stop (by anyone: the supervisor, an operator, a test) is gone within
``stop_grace_s``: each runs under :mod:`scripts.embedded.bounded_stop`, which kills its group
when it outlives that grace after SIGTERM (a scheduler cleaning up after SIGTERM had stayed
down for minutes, fault B2). PostgreSQL, started as its own user, stops as it chooses.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.embedded.console import Console, tail

BOUNDED_STOP = Path(__file__).with_name("bounded_stop.py")

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ≥ 3.4), so none escapes the stop."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1) == 0
    except (OSError, AttributeError):
        return False


def _die_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


class Unrecoverable(RuntimeError):
    """A component kept failing: the platform cannot run; the message says which and why."""


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    stop_signal: int = signal.SIGTERM
    user: int | None = None
    group: int | None = None
    # Airflow health key ("scheduler", "dag_processor", ...) watched for a hung process.
    health_key: str | None = None
    # Its own environment (default: the supervisor's).
    env: dict[str, str] | None = None
    # What it needs up before a restart (e.g. the database): while this says False, a dead
    # component waits, and the wait does not count as a restart.
    needs: Callable[[], bool] | None = None
    needs_what: str = ""
    # Run under bounded_stop with this grace (seconds); None: the supervisor's default, 0: not.
    stop_grace_s: float | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: list[float] = field(default_factory=list)
    last_healthy: float = 0.0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(
        self,
        console: Console,
        registry: Path,
        *,
        max_restarts: int = 3,
        hung_after_s: float = 180.0,
        env: dict[str, str] | None = None,
        holds: Path | None = None,
        stop_grace_s: float = 30.0,
    ) -> None:
        self.console = console
        self.stop_grace_s = stop_grace_s
        self.registry = registry
        self.max_restarts = max_restarts
        self.hung_after_s = hung_after_s
        self.env = env
        self.components: list[Component] = []
        self.stopping = False
        # <holds>/<name> present: the component is held down on purpose (maintenance, a
        # fault drill); the watchdog neither restarts nor counts it until the file goes.
        self.holds = holds
        self._waiting: dict[str, str] = {}
        become_subreaper()

    # ----------------------------------------------------------------------------- start
    def start(self, component: Component) -> Component:
        component.log.parent.mkdir(parents=True, exist_ok=True)
        log = open(component.log, "ab")  # noqa: SIM115 (owned by the child)
        log.write(
            f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {component.name}\n".encode()
        )
        log.flush()
        if component.user is not None:
            os.chown(component.log, component.user, component.group or -1)
        argv, parent_death = component.argv, component.stop_signal
        grace = self.grace_of(component)
        if grace:
            # SIGHUP: the launcher's "the supervisor died", it then stops the component itself
            stop = signal.Signals(component.stop_signal).name
            argv = [sys.executable, str(BOUNDED_STOP), "--grace", f"{grace:g}"]
            argv += ["--signal", stop, "--", *component.argv]
            parent_death = signal.SIGHUP
        component.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(parent_death),
            user=component.user,
            group=component.group,
            env=component.env if component.env is not None else self.env,
            cwd="/" if component.user is not None else None,
        )
        log.close()
        component.started_at = time.monotonic()
        component.last_healthy = component.started_at
        if component not in self.components:
            self.components.append(component)
        self._record()
        return component

    def grace_of(self, component: Component) -> float:
        """The stop grace a component runs under (0: none, it stops as it chooses)."""
        if component.user is not None:  # another account's server (PostgreSQL)
            return 0.0
        return self.stop_grace_s if component.stop_grace_s is None else component.stop_grace_s

    def _record(self) -> None:
        self.registry.parent.mkdir(parents=True, exist_ok=True)
        data = {
            c.name: {"pid": c.pid, "argv0": _argv0(c), "restarts": len(c.restarts)}
            for c in self.components
            if c.proc is not None
        }
        tmp = self.registry.with_suffix(".tmp")
        tmp.write_text(json.dumps({"supervisor": os.getpid(), "components": data}, indent=1))
        tmp.replace(self.registry)

    # ------------------------------------------------------------------------- watchdog
    def check(self, health: dict[str, str] | None) -> None:
        """One watchdog pass; ``health`` maps Airflow health keys to statuses (None: no
        answer). Restarts what died or hung; raises :class:`Unrecoverable` when it can't."""
        now = time.monotonic()
        for c in list(self.components):
            if self.stopping:
                return
            if not c.alive():
                if self._held(c) or self._dependency_down(c):
                    continue
                code = c.proc.returncode if c.proc else None
                self.console.say(
                    f"!! {c.name} exited (code {code}) after {now - c.started_at:.0f} s; "
                    f"last lines of {c.log}:\n{tail(c.log)}"
                )
                # What it forked in its group (LocalExecutor workers) would outlive it idle.
                with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
                    os.killpg(c.pid, signal.SIGKILL)  # type: ignore[arg-type]
                self._restart(c, "exited")
                continue
            # The api-server is judged by whether it answers; the others by their heartbeat.
            seen = health.get(c.health_key) if health is not None else None
            if c.health_key == "metadatabase" and health is None:
                seen = "not answering"
            if c.health_key and seen is not None:
                if seen == "healthy":
                    c.last_healthy = now
                elif now - c.last_healthy > self.hung_after_s:
                    self.console.say(
                        f"!! {c.name} is running but Airflow reports it "
                        f"{seen} for "
                        f"{now - c.last_healthy:.0f} s (no heartbeat); last lines of {c.log}:\n"
                        f"{tail(c.log)}"
                    )
                    self._kill(c, grace_s=15)
                    self._restart(c, "hung")

    def _held(self, c: Component) -> bool:
        held = self.holds is not None and (self.holds / c.name).exists()
        if held and self._waiting.get(c.name) != "held":
            self._waiting[c.name] = "held"
            self.console.say(f"   {c.name} is held down ({self.holds / c.name}); not restarting it")
        elif not held and self._waiting.get(c.name) == "held":
            del self._waiting[c.name]
        return held

    def _dependency_down(self, c: Component) -> bool:
        if c.needs is None or c.needs():
            if self._waiting.pop(c.name, None) == "needs":
                self.console.say(f"   {c.needs_what} is back: restarting {c.name}")
                self.start(c)  # not counted: it failed because of the dependency
                return True
            return False
        if self._waiting.get(c.name) != "needs":
            self._waiting[c.name] = "needs"
            self.console.say(
                f"!! {c.name} exited while {c.needs_what} is down; it restarts when "
                f"{c.needs_what} is back"
            )
        return True

    def _restart(self, c: Component, why: str) -> None:
        if len(c.restarts) >= self.max_restarts:
            raise Unrecoverable(
                f"{c.name} {why} again after {len(c.restarts)} restarts; its log is {c.log}"
            )
        c.restarts.append(time.monotonic())
        backoff = 2 * len(c.restarts)
        self.console.say(
            f"   restarting {c.name} in {backoff} s (restart {len(c.restarts)} of "
            f"{self.max_restarts})"
        )
        time.sleep(backoff)
        self.start(c)

    def restart_counts(self) -> dict[str, int]:
        return {c.name: len(c.restarts) for c in self.components}

    # ----------------------------------------------------------------------------- stop
    def _kill(self, c: Component, grace_s: float) -> None:
        if c.proc is None:
            return
        pgid = c.proc.pid
        tree = _descendants(pgid)  # its task processes run in sessions of their own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, c.stop_signal)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and group_alive(pgid):
            c.proc.poll()
            time.sleep(0.2)
        for pid in [pgid, *tree]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        c.proc.wait()
        self.reap_orphans()

    def reap_orphans(self) -> None:
        """Reap adopted orphans that exited (our own components are reaped by ``poll``)."""
        _reap_zombie_children(exclude={c.pid for c in self.components if c.pid})

    def stop_all(self, grace_s: float = 15.0) -> list[str]:
        """Stop every component; returns the names that needed SIGKILL.

        All but PostgreSQL get their stop signal at once and ``grace_s`` to exit (the
        scheduler would otherwise wait for running tasks: they are retried on the next start,
        and every task is idempotent). Then every remaining descendant is killed, and
        PostgreSQL, which the others needed until then, stops last. Signals go out before any
        output: the terminal may be gone already.
        """
        self.stopping = True
        forced: list[str] = []
        db = [c for c in self.components if c.name == "postgres" and c.proc is not None]
        rest = [c for c in reversed(self.components) if c not in db and c.proc is not None]
        for group in (rest, db):
            for c in group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c.proc.pid, c.stop_signal)  # type: ignore[union-attr]
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and any(group_alive(c.proc.pid) for c in group):  # type: ignore[union-attr]
                for c in group:
                    c.proc.poll()  # type: ignore[union-attr]
                time.sleep(0.2)
            for c in group:
                if group_alive(c.proc.pid):  # type: ignore[union-attr]
                    forced.append(c.name)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(c.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            if group is rest:
                # Task processes in sessions of their own, orphans adopted by us: not the
                # database, which stops next.
                keep = set(_descendants(db[0].proc.pid)) | {db[0].proc.pid} if db else set()  # type: ignore[union-attr]
                _kill_descendants(exclude=keep)
            for c in group:
                c.proc.wait()  # type: ignore[union-attr]
        _kill_descendants(exclude=set())
        with contextlib.suppress(OSError):
            self.registry.unlink()
        return forced


def _argv0(c: Component) -> str:
    """What ``/proc/<pid>/cmdline`` starts with for the process that was started."""
    args = c.proc.args if c.proc is not None else c.argv
    return str(args[0] if isinstance(args, list | tuple) else args)


def _process_table() -> dict[int, tuple[int, int, str]]:
    """``{pid: (ppid, pgid, state)}`` of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def _reap_zombie_children(exclude: set[int]) -> None:
    """Reap this process's exited children, except ``exclude`` (reaped by ``Popen.poll``)."""
    for pid, (ppid, _, state) in _process_table().items():
        if ppid == os.getpid() and state == "Z" and pid not in exclude:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _descendants(root: int) -> list[int]:
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_descendants(exclude: set[int], timeout_s: float = 10.0) -> None:
    """SIGKILL every live descendant of this process not in ``exclude``; reap them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        table = _process_table()
        live = [
            p
            for p in _descendants(os.getpid())
            if p not in exclude and table.get(p, (0, 0, "Z"))[2] != "Z"
        ]
        for pid in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _reap_zombie_children(exclude)
        if not live:
            return
        time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still "exists"; the group is gone when only zombies are left.
    return any(pid_alive(pid) for pid in _group_members(pgid))


def _group_members(pgid: int) -> list[int]:
    return [pid for pid, (_, group, _) in _process_table().items() if group == pgid]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_leftovers(registry: Path, console: Console) -> list[str]:
    """Stop the process groups a previous, killed supervisor left behind."""
    try:
        data = json.loads(registry.read_text())
    except (OSError, ValueError):
        return []
    stopped = []
    if data.get("supervisor") and pid_alive(int(data["supervisor"])):
        raise Unrecoverable(
            f"another `make run` (pid {data['supervisor']}) is running on this data directory; "
            "stop it first (Ctrl-C in its terminal)"
        )
    for name, info in (data.get("components") or {}).items():
        pid = info.get("pid")
        if not pid or not group_alive(int(pid)):
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            cmd = ""
        if cmd != info.get("argv0"):
            continue  # the pid was reused by something else
        console.say(f"   stopping {name} (pid {pid}) left over from an earlier run")
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), sig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and group_alive(int(pid)):
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)
        stopped.append(name)
    with contextlib.suppress(OSError):
        registry.unlink()
    return stopped
