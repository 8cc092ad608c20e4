"""A task's "Evidence" button: push the console address of what it wrote.

The console plugin's global extra link (include/console/evidence_link.py) shows, on any task
instance that pushed the XCom :data:`include.console.links.EVIDENCE_XCOM_KEY`, a button to
that address: the Data Docs of a validation, the quarantine folder, the drift report... Call
:func:`push_evidence` inside a running task with the lake location; a location the console
does not serve pushes nothing (no button rather than a dead one).
"""

from __future__ import annotations

from typing import Any

from include.console.links import EVIDENCE_XCOM_KEY, console_url, report_url


def push_evidence(
    uri: str | None = None, *, page: str | None = None, context: Any = None
) -> str | None:
    """Push the console address of lake location ``uri`` (or of console ``page``, e.g.
    ``"inventory"``) for this task instance; returns it, or ``None`` when nothing is pushed."""
    url = console_url(page) if page else (report_url(uri) if uri else None)
    if url:
        if context is None:
            from airflow.sdk import get_current_context

            context = get_current_context()
        context["ti"].xcom_push(key=EVIDENCE_XCOM_KEY, value=url)
    return url
