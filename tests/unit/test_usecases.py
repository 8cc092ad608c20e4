"""Several use cases in one platform (``MLOPS_USECASES``): each has its own storage, DAGs,
Assets, serving address and mail subject, and nothing of one lands in another's place.

Given ``MLOPS_USECASES=fraud,flights``, when settings, DAGs and Assets are built, then each
use case's roots carry its name, its DAG ids and Asset names are qualified with it, its tasks
take its settings before they run, and no two use cases share a DAG id, an Asset, a root, a
feature-store folder, a serving pointer or a scoring port. Given one use case (the default),
then nothing of that changes: the platform's roots and DAG ids are plain.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from include.config import (
    UseCaseUnknown,
    activate,
    current_usecase,
    get_settings,
    usecase_scope,
    usecases,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

BOTH = "fraud,flights"


@pytest.fixture
def both(monkeypatch: pytest.MonkeyPatch, data_root: Path) -> Path:
    monkeypatch.setenv("MLOPS_USECASES", BOTH)
    monkeypatch.delenv("MLOPS_USECASE", raising=False)
    monkeypatch.delenv("MLOPS_SERVING_URL", raising=False)
    monkeypatch.setenv("MLOPS_SERVING_PORT", "4100")
    return data_root


def test_the_default_use_case_keeps_the_platform_roots_and_ids(
    monkeypatch: pytest.MonkeyPatch, data_root: Path
) -> None:
    monkeypatch.delenv("MLOPS_USECASES", raising=False)
    (only,) = usecases()
    assert (only.name, only.scoped) == ("fraud", False)
    settings = get_settings()
    assert settings.lake_uri == str(data_root / "lake")
    assert settings.landing_uri == str(data_root / "landing")
    assert settings.feast_dir == data_root / "feast"
    assert settings.serving_dir == data_root / "serving"
    assert only.qualify("train_model") == "train_model"


def test_a_listed_use_case_keeps_its_place_when_another_goes(both: Path, monkeypatch) -> None:
    """Removing a use case from the list leaves the other one's data, ids and address."""
    before = get_settings("fraud"), current_usecase("fraud")
    monkeypatch.setenv("MLOPS_USECASES", "fraud")
    after = get_settings("fraud"), current_usecase("fraud")
    assert after[0].lake_uri == before[0].lake_uri == str(both / "lake" / "fraud")
    assert after[0].serving_url == before[0].serving_url
    assert after[1].qualify("train_model") == before[1].qualify("train_model")
    assert after[1].qualify("train_model") == "fraud.train_model"


def test_each_use_case_has_its_own_roots_spec_and_serving_address(both: Path) -> None:
    fraud, flights = (get_settings(name) for name in ("fraud", "flights"))
    assert fraud.usecase_spec == ROOT / "usecase" / "fraud.yaml"
    assert flights.usecase_spec == ROOT / "usecase" / "flights.yaml"
    for settings, name in ((fraud, "fraud"), (flights, "flights")):
        assert settings.landing_uri == str(both / "landing" / name)
        assert settings.lake_uri == str(both / "lake" / name)
        assert settings.features_uri == str(both / "features" / name)
        assert settings.gx_root == both / "gx" / name
        assert settings.feast_dir == both / "feast" / name
        assert settings.feast_registry == str(both / "feast" / name / "registry.db")
        assert settings.serving_dir == both / "serving" / name
    assert (fraud.serving_url, flights.serving_url) == (
        "http://127.0.0.1:4100",
        "http://127.0.0.1:4101",
    )
    # Shared on purpose: one MLflow (distinct registered models), one mail sink.
    assert fraud.mlflow_tracking_uri == flights.mlflow_tracking_uri
    assert fraud.mail_sink_dir == flights.mail_sink_dir


def test_an_s3_root_is_divided_the_same_way(both: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_LAKE_URI", "s3://lake/")
    assert get_settings("flights").lake_uri == "s3://lake/flights"


def test_a_named_serving_address_wins(both: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_SERVING_URL_FLIGHTS", "http://flights.internal:3000/")
    assert get_settings("flights").serving_url == "http://flights.internal:3000"
    assert get_settings("fraud").serving_url == "http://127.0.0.1:4100"


def test_the_current_use_case_comes_from_the_request_then_the_process(both: Path) -> None:
    assert current_usecase().name == "fraud"  # nothing said: the first
    activate("flights")  # a task's first step
    try:
        assert os.environ["MLOPS_USECASE"] == "flights"
        assert get_settings().lake_uri.endswith("/lake/flights")
        with usecase_scope("fraud"):  # a request of the console, in this thread only
            assert get_settings().lake_uri.endswith("/lake/fraud")
        assert get_settings().lake_uri.endswith("/lake/flights")
    finally:
        os.environ.pop("MLOPS_USECASE", None)


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("fraud,fraud", "listed twice"),
        ("fraud,Flights-2", "lower-case letters"),
    ],
)
def test_a_wrong_list_is_refused_in_words(monkeypatch, listed: str, message: str) -> None:
    monkeypatch.setenv("MLOPS_USECASES", listed)
    with pytest.raises(UseCaseUnknown, match=message):
        usecases()


def test_a_use_case_can_be_named_apart_from_its_file(monkeypatch, data_root: Path) -> None:
    """``name=path``: a Bento's candidate keeps its use case's stores with the spec it carries."""
    monkeypatch.setenv("MLOPS_USECASES", "flights=usecase/spec.yaml")
    (uc,) = usecases()
    assert (uc.name, uc.spec, uc.scoped) == ("flights", ROOT / "usecase" / "spec.yaml", True)
    assert get_settings("flights").lake_uri == str(data_root / "lake" / "flights")


def test_a_use_case_the_platform_does_not_run_is_refused(both: Path) -> None:
    with pytest.raises(UseCaseUnknown, match=r"'payments' is not one of .*fraud, flights"):
        get_settings("payments")


def _names(condition) -> list[str]:
    """The names of the Assets of a schedule's condition (nested any/all)."""
    if condition is None:
        return []
    if hasattr(condition, "objects"):
        return [n for c in condition.objects for n in _names(c)]
    return [condition.name]


def _bag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def test_every_dag_exists_once_per_use_case_with_its_own_assets(both: Path) -> None:
    bag = _bag()
    ids = set(bag.dag_ids)
    plain = {i.split(".", 1)[1] for i in ids}
    by_case = {name: {i for i in ids if i.startswith(f"{name}.")} for name in ("fraud", "flights")}
    assert ids == by_case["fraud"] | by_case["flights"]
    assert len(by_case["fraud"]) == len(by_case["flights"]) == 10
    # Ingest and scoring DAGs are named after the use case's own feeds.
    assert {"fraud.ingest_transactions", "fraud.ingest_labels"} <= ids
    assert {"flights.ingest_flights", "flights.ingest_arrivals", "flights.score_flights"} <= ids
    assert {"train_model", "deploy_model", "monitor_drift"} <= plain
    for dag_id in ids:
        name = dag_id.split(".")[0]
        dag = bag.dags[dag_id]
        assert name in dag.tags, (dag_id, dag.tags)
        # Scheduled on, and producing, its own use case's Assets only.
        consumed = set(_names(getattr(dag.timetable, "asset_condition", None)))
        produced = {a.name for t in dag.tasks for a in t.outlets}
        for asset in consumed | produced:
            assert asset.startswith(f"{name}."), (dag_id, asset)
    monitor = bag.dags["flights.monitor_drift"].get_task("trigger_retrain")
    assert monitor.trigger_dag_id == "flights.train_model"
    accept = bag.dags["flights.accept_batch"].get_task("ingest_accepted")
    assert accept.trigger_dag_id == "flights.ingest_{{ params.feed }}"


def test_a_task_works_for_its_dags_use_case(both: Path) -> None:
    """The callback every task runs first makes its process the DAG's use case's, so the
    step code (which reads ``get_settings()``) writes into that use case's roots."""
    bag = _bag()
    task = bag.dags["flights.materialize_features"].get_task("compute_feature_tables")
    (callback,) = (
        task.on_execute_callback
        if isinstance(task.on_execute_callback, list)
        else [task.on_execute_callback]
    )
    try:
        callback({})
        assert get_settings().features_uri.endswith("/features/flights")
        assert task.on_failure_callback  # the alert names the same use case
        (notifier,) = (
            task.on_failure_callback
            if isinstance(task.on_failure_callback, list)
            else [task.on_failure_callback]
        )
        assert notifier.usecase == "flights"
    finally:
        os.environ.pop("MLOPS_USECASE", None)


def test_mail_subjects_name_the_use_case(both: Path) -> None:
    from include.notify.delivery import subject_prefix

    with usecase_scope("fraud"):
        assert subject_prefix("[airflow-mlops]") == "[airflow-mlops] [fraud]"
    with usecase_scope("flights"):  # a prefix naming it already is left as it is
        assert subject_prefix("[airflow-mlops flights]") == "[airflow-mlops flights]"


def test_console_links_point_at_the_use_cases_pages(both: Path) -> None:
    from include.console.links import console_url, report_url

    with usecase_scope("flights"):
        lake = get_settings().lake_uri
        url = report_url(f"{lake}/reports/drift/2026-01-01_2026-01-07/index.html")
        assert url is not None and url.endswith(
            "/mlops/uc/flights/lake/reports/drift/2026-01-01_2026-01-07/index.html"
        )
        assert console_url("inventory").endswith("/mlops/uc/flights/inventory")
        # Another use case's lake is not this one's: no link rather than a wrong one.
        assert report_url(f"{get_settings('fraud').lake_uri}/reports/x.html") is None
