"""The deployment pointer: absent, written atomically, read back, previous kept."""

from __future__ import annotations

import threading

import pytest

from serving import pointer


def test_no_pointer_means_nothing_deployed_yet(data_root, monkeypatch) -> None:
    monkeypatch.delenv(pointer.POINTER_ENV, raising=False)
    assert pointer.pointer_path() == data_root / "serving" / "deployment.json"
    assert pointer.read() is None


def test_point_to_writes_and_keeps_the_replaced_pointer_one_level_deep(tmp_path) -> None:
    path = tmp_path / "deployment.json"
    first = pointer.point_to("fraud_is_fraud:v1", 1, bento_tag="fraud_service:v1", path=path)
    assert pointer.read(path) == first and first.previous is None
    second = pointer.point_to("fraud_is_fraud:v2", "2", dag_run_id="run2", path=path)
    third = pointer.point_to("fraud_is_fraud:v3", "3", path=path)
    assert second.previous["model_tag"] == "fraud_is_fraud:v1"
    assert third.previous["model_tag"] == "fraud_is_fraud:v2"
    assert "previous" not in third.previous  # no unbounded chain
    assert pointer.read(path).version == "3"


def test_the_env_names_the_pointer_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(pointer.POINTER_ENV, str(tmp_path / "p.json"))
    pointer.point_to("m:v1", 1)
    assert (tmp_path / "p.json").is_file()


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'{"version": "1"}', b'{"model_tag": "", "version": "1"}']
)
def test_a_broken_pointer_says_what_is_wrong(tmp_path, raw) -> None:
    path = tmp_path / "deployment.json"
    path.write_bytes(raw)
    with pytest.raises(pointer.PointerInvalid, match=str(path)):
        pointer.read(path)


def test_readers_never_see_a_partial_pointer_while_it_is_rewritten(tmp_path) -> None:
    path = tmp_path / "deployment.json"
    pointer.point_to("m:v0", 0, path=path)
    stop = threading.Event()
    seen, errors = set(), []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(pointer.read(path).version)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(1, 100):
        pointer.point_to(f"m:v{i}", i, bento_tag="x" * (i % 7) * 100, path=path)
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deployment.json"]
