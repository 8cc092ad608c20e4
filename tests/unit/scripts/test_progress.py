"""The first cycle's progress lines (scripts/embedded/progress.py) around a stop."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.console import Console
from scripts.embedded.progress import Progress, ProgressPoller


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_a_stopped_poller_says_nothing_of_services_going_away(tmp_path: Path) -> None:
    log = tmp_path / "make-run.log"
    passwords = tmp_path / "passwords.json"
    passwords.write_text('{"mlops": "x"}')
    progress = Progress(
        api=AirflowApi(f"http://127.0.0.1:{_closed_port()}", "mlops", passwords, timeout_s=2),
        console=Console(log),
        first_day=date(2026, 1, 1),
        last_day=date(2026, 1, 2),
        tracking_uri="sqlite:///unused.db",
        model_name="m",
        primary_metric="pr_auc",
        usecase="one",
    )
    poller = ProgressPoller([progress])
    progress.poll()  # Airflow's API is not there: said, once per poll
    said = log.read_text()
    assert "[one] (progress not readable right now:" in said, said
    poller.stop()  # the platform stops: the same poll says nothing more
    progress.poll()
    assert log.read_text() == said
