"""The watchdog and the stop of ``make run`` (scripts/embedded), on real processes.

Components here are small shell programs, so the tests take seconds: one that dies is
restarted and reported with its log; one that keeps dying ends the run; one that Airflow
reports unhealthy while it runs is restarted; a stop leaves no process, even one that
started a session of its own (as Airflow's task processes do).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import date
from pathlib import Path

import pytest

from scripts.embedded import state as st
from scripts.embedded.console import Console
from scripts.embedded.supervisor import (
    Component,
    Supervisor,
    Unrecoverable,
    pid_alive,
    stop_leftovers,
)


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return Console(tmp_path / "make-run.log")


def _sup(tmp_path: Path, console: Console, **kw) -> Supervisor:
    return Supervisor(console, tmp_path / "run" / "processes.json", **kw)


def _wait(predicate, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_dead_component_is_restarted_and_reported_with_its_log(tmp_path, console):
    sup = _sup(tmp_path, console, max_restarts=2)
    c = sup.start(
        Component("worker", ["sh", "-c", "echo booting; sleep 60"], tmp_path / "worker.log")
    )
    _wait(lambda: "booting" in (tmp_path / "worker.log").read_text())
    first = c.pid
    os.kill(first, 9)
    _wait(lambda: not c.alive())
    sup.check(None)
    assert c.alive() and c.pid != first
    assert sup.restart_counts() == {"worker": 1}
    out = (tmp_path / "make-run.log").read_text()
    assert "worker exited (code -9)" in out
    assert "| booting" in out  # the tail of its log
    assert "restart 1 of 2" in out
    sup.stop_all(grace_s=2)
    assert not pid_alive(c.pid)


def test_a_component_that_keeps_dying_ends_the_run(tmp_path, console):
    sup = _sup(tmp_path, console, max_restarts=1)
    c = sup.start(Component("crasher", ["sh", "-c", "echo boom >&2; exit 3"], tmp_path / "c.log"))
    _wait(lambda: not c.alive())
    sup.check(None)  # first death: restarted
    _wait(lambda: not c.alive())
    with pytest.raises(Unrecoverable, match="crasher exited again after 1 restarts"):
        sup.check(None)
    assert "| boom" in (tmp_path / "make-run.log").read_text()
    sup.stop_all(grace_s=1)


def test_a_running_but_unhealthy_component_is_restarted(tmp_path, console):
    sup = _sup(tmp_path, console, max_restarts=3, hung_after_s=0.5)
    c = sup.start(
        Component("scheduler", ["sleep", "60"], tmp_path / "s.log", health_key="scheduler")
    )
    first = c.pid
    sup.check({"scheduler": "healthy"})
    assert c.pid == first
    time.sleep(0.7)
    sup.check({"scheduler": "unhealthy"})
    assert c.pid != first and c.alive()
    assert not pid_alive(first)
    assert (
        "scheduler is running but Airflow reports it unhealthy"
        in (tmp_path / "make-run.log").read_text()
    )
    sup.stop_all(grace_s=1)


STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(600)"
)


def test_b2_a_component_that_outlives_its_stop_grace_is_killed_and_restarted(tmp_path, console):
    # Given a component that ignores SIGTERM (a scheduler whose clean-up after SIGTERM hangs)
    sup = _sup(tmp_path, console, max_restarts=2, stop_grace_s=2)
    log = tmp_path / "stubborn.log"
    c = sup.start(Component("stubborn", ["python3", "-c", STUBBORN], log))
    _wait(lambda: "up" in log.read_text())
    stopped, first = time.monotonic(), c.pid
    # when someone stops its process group from outside the supervisor
    os.killpg(first, signal.SIGTERM)
    # then it is gone once its grace is over, its log says why, and the watchdog restarts it
    _wait(lambda: not c.alive(), timeout_s=2 + 5)
    assert time.monotonic() - stopped >= 2  # the grace was given first
    assert "did not exit within 2 s of SIGTERM: killing its process group" in log.read_text()
    sup.check(None)
    assert c.alive() and c.pid != first
    assert sup.restart_counts() == {"stubborn": 1}
    assert "stubborn exited (code 137)" in (tmp_path / "make-run.log").read_text()
    sup.stop_all(grace_s=1)


def test_a_stop_within_the_grace_keeps_the_components_exit_code(tmp_path, console):
    sup = _sup(tmp_path, console, stop_grace_s=30)
    log = tmp_path / "polite.log"
    script = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(3)); "
    c = sup.start(
        Component(
            "polite", ["python3", "-c", script + "print('up', flush=True); time.sleep(600)"], log
        )
    )
    _wait(lambda: "up" in log.read_text())
    os.killpg(c.pid, signal.SIGTERM)
    _wait(lambda: not c.alive(), timeout_s=10)
    assert c.proc.returncode == 3
    assert "bounded stop" not in log.read_text()


def test_when_the_supervisor_dies_the_launcher_stops_its_component_with_its_stop_signal(
    tmp_path,
):
    import subprocess
    import sys

    from scripts.embedded.supervisor import BOUNDED_STOP

    log = tmp_path / "pg.log"
    script = (
        "import signal, sys, time; "
        "say = lambda *a: (print('fast shutdown', flush=True), sys.exit(0)); "
        "signal.signal(signal.SIGINT, say); print('up', flush=True); time.sleep(600)"
    )
    with open(log, "wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, str(BOUNDED_STOP), "--grace", "30", "--signal", "INT", "--"]
            + ["python3", "-c", script],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait(lambda: "up" in log.read_text())
    launcher.send_signal(signal.SIGHUP)  # what PR_SET_PDEATHSIG sends it when we die
    assert launcher.wait(10) == 0
    assert "fast shutdown" in log.read_text()


def test_b10_stop_leaves_no_process_even_in_a_session_of_its_own(tmp_path, console):
    """Airflow task processes call setsid(): killing the component's group misses them."""
    sup = _sup(tmp_path, console)
    pidfile = tmp_path / "grandchild.pid"
    script = f"setsid sh -c 'echo $$ > {pidfile}; trap \"\" TERM; sleep 60' & sleep 60"
    c = sup.start(Component("scheduler", ["sh", "-c", script], tmp_path / "s.log"))
    _wait(lambda: pidfile.exists() and pidfile.read_text().strip())
    grandchild = int(pidfile.read_text())
    assert os.getpgid(grandchild) != c.pid  # out of the component's process group
    forced = sup.stop_all(grace_s=1)
    assert not pid_alive(c.pid)
    assert not pid_alive(grandchild)
    assert forced == []  # the component itself obeyed SIGTERM
    assert not (tmp_path / "run" / "processes.json").exists()


def test_leftovers_of_a_killed_supervisor_are_stopped_on_the_next_start(tmp_path, console):
    registry = tmp_path / "run" / "processes.json"
    first = _sup(tmp_path, console)
    c = first.start(Component("mail-sink", ["sleep", "60"], tmp_path / "m.log"))
    # The supervisor dies without its stop (SIGKILL): its record stays behind.
    data = registry.read_text().replace(f'"supervisor": {os.getpid()}', '"supervisor": 999999')
    registry.write_text(data)
    assert stop_leftovers(registry, console) == ["mail-sink"]
    _wait(lambda: not pid_alive(c.pid))
    c.proc.wait()


def test_b11_a_second_supervisor_on_the_same_data_is_refused(tmp_path, console):
    sup = _sup(tmp_path, console)
    sup.start(Component("mail-sink", ["sleep", "60"], tmp_path / "m.log"))
    with pytest.raises(Unrecoverable, match="another `make run`"):
        stop_leftovers(tmp_path / "run" / "processes.json", console)
    sup.stop_all(grace_s=1)


def test_b10_console_survives_a_closed_stdout(tmp_path, capsys):
    """`make run | tee` and Ctrl-C: tee dies first; writing must not end the clean-up."""
    r, w = os.pipe()
    os.close(r)
    saved = os.dup(1)
    try:
        os.dup2(w, 1)
        con = Console(tmp_path / "log")
        con.say("first line")  # EPIPE: swallowed
        con.say("second line")
    finally:
        os.dup2(saved, 1)
        os.close(w)
    text = (tmp_path / "log").read_text()
    assert "first line" in text and "second line" in text


def test_b11_landing_plan_first_start_and_restarts():
    today = date(2026, 12, 1)
    boot, first, n = st.plan_landing(None, today, 14)
    assert (first, n) == (date(2026, 11, 17), 14)
    assert (boot.first_day, boot.landed_through, boot.starts) == ("2026-11-17", "2026-11-30", 1)
    # Same day: nothing to land, nothing moves.
    again, _, n = st.plan_landing(boot, today, 14)
    assert n == 0 and again.landed_through == "2026-11-30" and again.starts == 2
    # Three days later: exactly the three days that ended since, none twice.
    later, first, n = st.plan_landing(again, date(2026, 12, 4), 14)
    assert (first, n) == (date(2026, 12, 1), 3)
    assert (later.first_day, later.landed_through) == ("2026-11-17", "2026-12-03")


def test_secrets_are_generated_once_and_kept(tmp_path):
    path = tmp_path / "airflow" / "secrets.env"
    first = st.ensure_secrets(path)
    assert set(first) >= {"AIRFLOW__CORE__FERNET_KEY", "MLOPS_PG_PASSWORD"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert st.ensure_secrets(path) == first
    login = tmp_path / "airflow" / "passwords.json"
    assert st.ensure_login(login, "mlops") is True
    kept = login.read_text()
    assert st.ensure_login(login, "mlops") is False and login.read_text() == kept
