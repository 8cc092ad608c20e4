"""Lineage: from one prediction back to the data, the checks and the runs behind it.

:func:`trace` (``include.lineage.query``) answers ``{"query", "steps", "missing"}``; the CLI
is ``python -m include.lineage --prediction-id X | --transaction-id Y [--json]``. Imports
nothing heavy until called.
"""

from __future__ import annotations

from typing import Any


def trace(prediction_id: str | None = None, transaction_id: str | None = None, **kw: Any) -> dict:
    """See :func:`include.lineage.query.trace`."""
    from include.lineage.query import trace as _trace

    return _trace(prediction_id, transaction_id, **kw)


__all__ = ["trace"]
