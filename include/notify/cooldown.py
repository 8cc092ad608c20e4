"""Alert deduplication: the same thing is acted on once per cooldown (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def due(
    last: dict[str, Any] | None,
    key: str,
    now: datetime,
    cooldown_hours: float,
    *,
    key_field: str = "key",
) -> bool:
    """True unless ``last`` (a record ``{<key_field>: ..., "at": ISO time}``) holds ``key``
    and is less than ``cooldown_hours`` before ``now``. A malformed record is not a reason
    to stay silent: it counts as never acted on."""
    if not last or last.get(key_field) != key:
        return True
    try:
        at = datetime.fromisoformat(str(last["at"]))
    except (KeyError, ValueError):
        return True
    return now - at >= timedelta(hours=cooldown_hours)
