"""End-to-end fixtures: the Airflow metadata DB, the DagBag and a real SMTP server."""

from __future__ import annotations

import email
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from tests.conftest import ROOT


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    def clear(self) -> None:
        self.messages.clear()

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    @staticmethod
    def body(msg: Message) -> str:
        parts = msg.walk() if msg.is_multipart() else [msg]
        return "\n".join(
            p.get_payload(decode=True).decode("utf-8", "replace")
            for p in parts
            if p.get_content_maintype() == "text"
        )


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        self.box.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture(scope="session")
def _smtp_server(smtp_port: int) -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mailbox(_smtp_server: Mailbox) -> Mailbox:
    _smtp_server.clear()
    return _smtp_server


@pytest.fixture(scope="session")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def run_dag(dagbag, dag_id: str, **conf):
    """Run a DAG in-process with ``dag.test()``; returns the DagRun."""
    return dagbag.get_dag(dag_id).test(run_conf=conf or None)


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def landing_dir(root: Path, feed: str, day: str) -> Path:
    return root / "landing" / feed / day
