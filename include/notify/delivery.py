"""The one way an alert leaves the pipeline: :func:`send_alert`.

Every alert mail (task failure, quarantined batch, rejected retrain) goes through it: the
subject prefix, sender and recipients come from the use-case spec and the settings, the mail
goes out through the Airflow SMTP connection named by ``MLOPS_SMTP_CONN_ID``. If SMTP fails,
the mail is written to ``<mail_sink_dir>/undelivered/`` and the error is logged; the caller's
outcome is unchanged and the missed alert stays visible (fault B7).

The SMTP hook is Airflow's (imported when a mail is sent); everything else is Airflow-free.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from include.config import get_settings
from include.notify.templates import Alert

log = logging.getLogger(__name__)


def recipients() -> list[str]:
    """``MLOPS_ALERT_RECIPIENTS`` when set, else the spec's ``alerts.recipients``."""
    from include.spec import load_spec

    settings = get_settings()
    return list(settings.alert_recipients or load_spec(settings.usecase_spec).alerts.recipients)


def subject_prefix(prefix: str) -> str:
    """The spec's subject prefix; with several use cases, followed by ``[<use case>]``
    unless it names the use case already (one inbox, every use case's mails)."""
    usecase = get_settings().usecase
    if usecase is None or not usecase.scoped or usecase.name in prefix:
        return prefix
    return f"{prefix} [{usecase.name}]"


def send_alert(alert: Alert) -> bool:
    """Mail ``alert`` to the recipients, its subject prefixed; never raises.

    Returns False when SMTP failed, after keeping the mail under ``undelivered/``."""
    from include.spec import load_spec

    settings = get_settings()
    spec = load_spec(settings.usecase_spec).alerts
    mail = replace(alert, subject=f"{subject_prefix(spec.subject_prefix)} {alert.subject}")
    sender, to = spec.from_email, recipients()
    try:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=settings.smtp_conn_id) as hook:
            hook.send_email_smtp(
                to=to, subject=mail.subject, html_content=mail.html, from_email=sender
            )
        log.info("alert sent to %s: %s", to, mail.subject)
        return True
    except Exception:
        path = save_undelivered(mail, sender, to, settings.mail_sink_dir / "undelivered")
        log.exception("ALERT NOT DELIVERED (%s); kept at %s", mail.subject, path)
        return False


def save_undelivered(alert: Alert, sender: str, recipients: list[str], folder: Path) -> Path:
    """Keep an alert that SMTP refused, so the failure to alert is itself visible (B7)."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in alert.subject)[:120]
    path = folder / f"{safe}.eml"
    path.write_bytes(bytes(alert.to_email(sender, recipients)))
    return path
