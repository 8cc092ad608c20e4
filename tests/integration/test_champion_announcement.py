"""Exactly one ``champion_model`` event per promotion, whatever the retries.

The ``publish_champion`` task of the real ``train_model`` DAG is called with the asset's
event history as Airflow hands it over (``inlet_events[asset]``: objects with ``.extra``).
A retried or cleared run that promoted the same version again finds its own event and
skips, and a skipped task emits no Asset event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from include.orchestration.assets import CHAMPION_MODEL

pytestmark = pytest.mark.e2e

RESULT = {
    "model": "fraud_is_fraud",
    "version": "7",
    "alias": "champion",
    "run_ids": {"training": "r1"},
    "report_uri": "runs:/r1/gate/v7-comparison.html",
    "promoted": True,
}


@dataclass
class _Event:  # what Airflow's inlet-events accessor yields: the event's extra
    extra: dict[str, Any]


def _publish(dagbag, history: list[dict[str, Any]]) -> list[Any]:
    task = dagbag.get_dag("train_model").get_task("publish_champion")
    return list(task.python_callable(RESULT, inlet_events={CHAMPION_MODEL: map(_Event, history)}))


def test_C12_a_promotion_is_announced_once_whatever_the_retries(dagbag) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    # given no announcement yet: the task yields the event's extra
    (first,) = _publish(dagbag, [{"model": "fraud_is_fraud", "version": "6"}])
    assert first.extra["version"] == "7"
    # when the same promotion is published again (a retry, a cleared run): it skips
    with pytest.raises(AirflowSkipException, match="v7 was announced already"):
        _publish(dagbag, [{"model": "fraud_is_fraud", "version": "6"}, first.extra])
