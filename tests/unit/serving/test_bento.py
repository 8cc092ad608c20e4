"""What a Bento is built from: pinned packages, the service's own modules, a uv binary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from serving import bento


def test_packages_are_pinned_to_the_lock_and_an_unpinned_one_is_refused(tmp_path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# generated\nPyYAML==6.0.3\n    # via -r requirements.txt\nmlflow-skinny==3.17.2\n"
        "numpy==2.4.6 ; python_version >= '3.11'\n"
    )
    assert bento.lock_pins(["pyyaml", "numpy", "PyYAML>=6"], lock) == [
        "pyyaml==6.0.3",
        "numpy==2.4.6",
    ]
    with pytest.raises(bento.LockMissing, match="make lock"):
        bento.lock_pins(["numpy", "feast"], lock)


def test_the_real_lock_pins_what_the_service_imports() -> None:
    pins = bento.lock_pins([*bento.SERVICE_PACKAGES, "bentoml", "xgboost"])
    assert len(pins) == len(bento.SERVICE_PACKAGES) + 2 and all("==" in p for p in pins)


def test_the_bento_holds_the_service_and_only_the_include_modules_it_imports() -> None:
    files = {p.as_posix() for p in bento.service_files()}
    assert {"serving/service.py", "serving/online.py", "include/spec/__init__.py"} <= files
    assert {"include/spec/sections.py", "include/spec/problems.py"} <= files  # spec's own imports
    assert {"include/config.py", "include/layout.py", "include/storage.py"} <= files
    heavy = [f for f in files if f.startswith(("include/training", "include/registry"))]
    heavy += [
        f for f in files if f in ("include/features/store.py", "include/features/training_set.py")
    ]
    assert not heavy, heavy  # Feast, MLflow's registry client and training stay out
    for f in files:
        imported = bento._imports(bento.REPO_ROOT / f)
        assert not any(m.split(".")[0] in ("feast", "airflow", "torch") for m in imported), f


def test_imports_are_followed_transitively(tmp_path) -> None:
    (tmp_path / "serving").mkdir()
    (tmp_path / "include" / "a").mkdir(parents=True)
    (tmp_path / "serving" / "svc.py").write_text("def f():\n    from include.a import b\n")
    (tmp_path / "include" / "__init__.py").write_text("")
    (tmp_path / "include" / "a" / "__init__.py").write_text("")
    (tmp_path / "include" / "a" / "b.py").write_text("from include import c\n")
    (tmp_path / "include" / "c.py").write_text("import numpy\n")
    (tmp_path / "include" / "unused.py").write_text("import feast\n")
    assert [p.as_posix() for p in bento.service_files(tmp_path)] == [
        "include/__init__.py",
        "include/a/__init__.py",
        "include/a/b.py",
        "include/c.py",
        "serving/svc.py",
    ]


def test_no_uv_binary_is_a_clear_error_saying_how_to_install_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(bento.UvMissing, match="pip install --user uv=="):
        bento.uv_dir()
    uv = tmp_path / ".local" / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.write_text("#!/bin/sh\n")
    uv.chmod(0o755)
    assert bento.uv_dir() == uv.parent


def test_bentoml_home_defaults_under_the_data_root(data_root, monkeypatch) -> None:
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    assert bento.bentoml_home() == data_root / "bentoml"
    monkeypatch.setenv("BENTOML_HOME", "/elsewhere/bentoml")
    assert bento.bentoml_home() == Path("/elsewhere/bentoml")


def test_the_git_commit_is_read_without_running_git(tmp_path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("0123456789abcdef0123\n")
    assert bento._git_commit(tmp_path) == "0123456789ab"
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text("# pack\nfedcba9876543210fedc refs/heads/main\n")
    assert bento._git_commit(tmp_path) == "fedcba987654"
    assert bento._git_commit(tmp_path / "nowhere") == "unknown"
