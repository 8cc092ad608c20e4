"""Pseudonyms (HMAC-SHA-256 under the platform key) and the key's life cycle."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
import stat

import pandas as pd
import pytest

from include.privacy import keys
from include.privacy.pseudonym import Pseudonymiser, canonical, is_pseudonym

KEY = bytes(range(32))


def test_a_pseudonym_is_the_hmac_sha256_of_the_canonical_text() -> None:
    expected = hmac.new(KEY, b"cus_000042", hashlib.sha256).hexdigest()[:32]
    assert Pseudonymiser(KEY).value("cus_000042") == expected
    assert is_pseudonym(expected) and not is_pseudonym("cus_000042")


def test_one_id_has_one_pseudonym_whatever_its_type_and_none_stays_none() -> None:
    p = Pseudonymiser(KEY)
    assert p.value(42) == p.value("42") == p.value(42.0) == p.value(pd.Series([42]).iloc[0])
    assert p.value(42) != p.value(43)
    assert [p.value(v) for v in (None, float("nan"), pd.NA)] == [None, None, None]
    assert canonical(True) == "true" and canonical(4.5) == "4.5"


def test_another_key_gives_other_pseudonyms() -> None:
    assert Pseudonymiser(KEY).value("cus_1") != Pseudonymiser(bytes(32)).value("cus_1")


def test_a_frame_gets_only_its_pii_columns_replaced_as_text() -> None:
    p = Pseudonymiser(KEY)
    frame = pd.DataFrame({"who": ["a", None, "a"], "n": [1, 2, 3]})
    out = p.frame(frame, ["who", "not_there"])
    assert out["who"].iloc[0] == out["who"].iloc[2] == p.value("a")
    assert pd.isna(out["who"].iloc[1]) and str(out["who"].dtype) == "string"
    assert out["n"].tolist() == [1, 2, 3] and frame["who"].iloc[0] == "a"  # a copy
    assert p.row({"who": "a", "n": 1}, ["who"]) == {"who": p.value("a"), "n": 1}
    assert "key" not in repr(p).replace("<key>", "")


def test_the_key_file_is_created_once_owner_only_and_then_reused(tmp_path, monkeypatch) -> None:
    path = tmp_path / "secrets" / "pii.key"
    monkeypatch.delenv(keys.KEY_ENV, raising=False)
    monkeypatch.setenv(keys.KEY_FILE_ENV, str(path))
    with pytest.raises(keys.PiiKeyError, match="no PII key"):
        keys.load_key(create=False)
    first = keys.load_key()
    assert len(first) == keys.KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.load_key() == first == keys.load_key(create=False)


def _load(path: str, out: multiprocessing.Queue) -> None:
    os.environ[keys.KEY_FILE_ENV] = path
    out.put(keys.load_key().hex())


def test_processes_creating_the_key_at_once_agree_on_one(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(keys.KEY_ENV, raising=False)
    path = str(tmp_path / "pii.key")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_load, args=(path, out)) for _ in range(6)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert len({out.get(timeout=5) for _ in procs}) == 1


def test_the_environment_key_wins_and_a_weak_one_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(keys.KEY_FILE_ENV, str(tmp_path / "unused"))
    monkeypatch.setenv(keys.KEY_ENV, KEY.hex())
    assert keys.load_key() == KEY and not (tmp_path / "unused").exists()
    monkeypatch.setenv(keys.KEY_ENV, "abcd")
    with pytest.raises(keys.PiiKeyError, match="16 bits"):
        keys.load_key()
    monkeypatch.setenv(keys.KEY_ENV, "not hex at all")
    with pytest.raises(keys.PiiKeyError, match="not hexadecimal"):
        keys.load_key()


def test_the_lake_refuses_a_key_other_than_the_one_it_was_pseudonymised_with(tmp_path) -> None:
    lake = str(tmp_path / "lake")
    keys.check_lake_key(lake, KEY)
    keys.check_lake_key(lake, KEY)  # the same key again: fine
    record = json.loads((tmp_path / "lake" / "privacy" / "key.json").read_text())
    assert record["fingerprint"] == keys.fingerprint(KEY) and KEY.hex() not in json.dumps(record)
    with pytest.raises(keys.PiiKeyError, match="restore the original key"):
        keys.check_lake_key(lake, bytes(32))
