"""What ``make run`` keeps under ``data/`` between starts: secrets, the login, what was landed.

* ``airflow/secrets.env`` (0600): JWT secret, Fernet key, the embedded PostgreSQL password;
  generated once, never printed. A later start reuses them, so the login, the encrypted
  connections and the database stay readable.
* ``airflow/simple_auth_manager_passwords.json.generated`` (0600): the UI login.
* ``run/bootstrap.json``: the first simulated day and the last one landed. A restart lands
  only the days that have ended since (none twice), and the ingest DAGs' catch-up, which
  starts at the first day, makes each landed day one run: the scheduler does not create a
  run for a logical date it already has.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def token(nbytes: int) -> str:
    """A URL-safe secret (safe unescaped in URLs, libpq password files and env files)."""
    return secrets.token_urlsafe(nbytes)


def ensure_secrets(
    path: Path, wanted: dict[str, Callable[[], str]] | None = None
) -> dict[str, str]:
    """The run's secrets, generated on first use; existing values are kept. ``wanted`` maps
    each name to its generator (default: ``make run``'s own secrets)."""
    values = _read_env_file(path)
    if wanted is None:
        wanted = {
            "AIRFLOW__API_AUTH__JWT_SECRET": lambda: token(64),
            "AIRFLOW__API__SECRET_KEY": lambda: token(64),
            "AIRFLOW__CORE__FERNET_KEY": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
            # URL-safe characters only: it goes into a libpq password file unescaped.
            "MLOPS_PG_PASSWORD": lambda: token(24),
        }
    missing = {k: make() for k, make in wanted.items() if not values.get(k)}
    if missing or not path.exists():
        values.update(missing)
        _write_private(path, "".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def ensure_login(path: Path, user: str) -> bool:
    """Generate the UI password of ``user`` once; True if it was created now."""
    if path.exists():
        data = json.loads(path.read_text() or "{}")
        if user in data:
            return False
    else:
        data = {}
    data[user] = secrets.token_urlsafe(16)
    _write_private(path, json.dumps(data))
    return True


@dataclass
class Bootstrap:
    first_day: str
    landed_through: str
    starts: int = 0

    @classmethod
    def load(cls, path: Path) -> Bootstrap | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)


def plan_landing(previous: Bootstrap | None, today: date, days: int) -> tuple[Bootstrap, date, int]:
    """The state after this start, and the days to land now: ``(state, first, count)``.

    First start: the ``days`` days that ended before today. Restart: the days that ended
    since the last one landed (possibly none).
    """
    yesterday = today - timedelta(days=1)
    if previous is None:
        first = today - timedelta(days=days)
        state = Bootstrap(first.isoformat(), yesterday.isoformat(), starts=1)
        return state, first, days
    last = date.fromisoformat(previous.landed_through)
    first = last + timedelta(days=1)
    count = max(0, (yesterday - last).days)
    through = max(last, yesterday)
    state = Bootstrap(previous.first_day, through.isoformat(), starts=previous.starts + 1)
    return state, first, count
