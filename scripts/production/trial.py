"""Drive a real ``make run-prod`` from another program: the production test tier and
``bench/production.py``. Same mechanics as :class:`scripts.embedded.trial.EmbeddedRun`
(scratch data directory, free ports, Ctrl-C to the whole group); Redis is always the
profile's own (never the machine's), so a test may stop it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scripts.embedded.trial import EmbeddedRun, free_port


@dataclass
class ProductionRun(EmbeddedRun):
    target: str = "run-prod"
    workers: int = 2

    def __post_init__(self) -> None:
        if not self.ports:
            self.ports = {
                name: free_port()
                for name in (
                    "MLOPS_UI_PORT",
                    "MLOPS_PG_PORT",
                    "MLOPS_REDIS_PORT",
                    "MLOPS_S3_PORT",
                    "MLOPS_MLFLOW_PORT",
                    "MLOPS_SMTP_PORT",
                    "MLOPS_SERVING_PORT",
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
                    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
                )
            }

    def env(self) -> dict[str, str]:
        env = super().env()
        env["MLOPS_PROD_DATA_ROOT"] = str(self.data_root)
        env["MLOPS_REDIS_MODE"] = "embedded"
        env["MLOPS_CELERY_WORKERS"] = str(self.workers)
        return env

    @property
    def secrets(self) -> dict[str, str]:
        """The profile's generated secrets (MLflow admin, serving token, ...)."""
        values = {}
        for name in ("secrets.env", "secrets-production.env"):
            path = self.data_root / "airflow" / name
            for line in path.read_text().splitlines() if path.exists() else []:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
        return values

    def hold(self, component: str) -> Path:
        """Hold a component down: the watchdog leaves it stopped until :meth:`release`."""
        path = self.data_root / "run" / "hold" / component
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path

    def release(self, component: str) -> None:
        (self.data_root / "run" / "hold" / component).unlink(missing_ok=True)

    def url(self, port_name: str) -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}"
