"""The bearer token: generated once, 0600, reused; the env wins; no token, no service."""

from __future__ import annotations

import stat
import threading

import pytest

from serving import auth


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch, data_root):
    monkeypatch.delenv(auth.TOKEN_ENV, raising=False)
    monkeypatch.delenv(auth.TOKEN_FILE_ENV, raising=False)


def test_the_token_file_defaults_to_the_data_root(data_root) -> None:
    assert auth.token_path() == data_root / "serving" / "token"


def test_E4_ensure_token_creates_a_0600_file_once_and_reuses_it(data_root) -> None:
    token = auth.ensure_token()
    path = auth.token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40 and path.read_text().strip() == token
    assert auth.ensure_token() == token
    assert auth.load_token() == token
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no temp file left


def test_E4_a_token_file_readable_by_others_is_tightened(tmp_path) -> None:
    path = tmp_path / "token"
    path.write_text("x" * 43)
    path.chmod(0o644)
    assert auth.ensure_token(path) == "x" * 43
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_E4_concurrent_starts_agree_on_one_token(tmp_path) -> None:
    path = tmp_path / "serving" / "token"
    tokens: list[str] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(auth.ensure_token(path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1 and len(tokens) == 8


def test_E4_the_environment_wins_over_the_file(monkeypatch) -> None:
    auth.ensure_token()
    monkeypatch.setenv(auth.TOKEN_ENV, "  from-the-environment-123  ")
    assert auth.load_token() == "from-the-environment-123"


def test_E4_no_token_refuses_with_how_to_make_one(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(auth.TOKEN_FILE_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(auth.TokenMissing) as caught:
        auth.load_token()
    message = str(caught.value)
    assert "python -m serving.auth" in message and auth.TOKEN_ENV in message
    assert str(tmp_path / "nowhere") in message


def test_E4_a_short_token_is_refused(monkeypatch) -> None:
    monkeypatch.setenv(auth.TOKEN_ENV, "secret")
    with pytest.raises(auth.TokenMissing, match="at least 16"):
        auth.load_token()
