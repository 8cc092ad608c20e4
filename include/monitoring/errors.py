"""Monitoring's refusals: each names what is wrong and where."""

from __future__ import annotations


class MonitoringInputInvalid(ValueError):
    """The current window's data is malformed (missing columns, wrong types): the run fails
    and alerts; it is never read as drift and never retrains."""


class ReferenceUnavailable(RuntimeError):
    """The champion's reference (training set or holdout) can not be read."""


class NoChampion(RuntimeError):
    """No model was promoted yet: there is nothing to monitor."""
