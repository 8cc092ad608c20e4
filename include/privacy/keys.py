"""The PII key: 256 random bits generated once into the platform's secrets.

``MLOPS_PII_KEY`` (hex) when set (a secret manager's injection), else the key file
(``MLOPS_PII_KEY_FILE``, default ``<data_root>/secrets/pii.key``, mode 0600), created once
by the first process that needs it. The key is never logged, printed or tracked; the
lake records only its fingerprint (an HMAC of a fixed text), so a lost or swapped key is
reported before it splits one person into two pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from include import storage

KEY_ENV = "MLOPS_PII_KEY"
KEY_FILE_ENV = "MLOPS_PII_KEY_FILE"
KEY_BYTES = 32
_FINGERPRINT_TEXT = b"airflow-mlops pii key fingerprint"


class PiiKeyError(RuntimeError):
    """The PII key is unusable or is not the one the lake was pseudonymised with."""


def key_path() -> Path:
    """Where the key file lives (``MLOPS_PII_KEY_FILE`` or the data root's secrets)."""
    configured = os.environ.get(KEY_FILE_ENV, "").strip()
    if configured:
        return Path(configured)
    from include.config import get_settings

    return get_settings().data_root / "secrets" / "pii.key"


def _parse(text: str, origin: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise PiiKeyError(f"the PII key from {origin} is not hexadecimal") from None
    if len(key) < 16:
        raise PiiKeyError(
            f"the PII key from {origin} has {len(key) * 8} bits; at least 128 are required"
        )
    return key


def load_key(*, create: bool = True) -> bytes:
    """The key: ``MLOPS_PII_KEY``, else the key file (created once when ``create``)."""
    from_env = os.environ.get(KEY_ENV, "")
    if from_env.strip():
        return _parse(from_env, KEY_ENV)
    path = key_path()
    if not create and not path.is_file():
        raise PiiKeyError(
            f"no PII key: {KEY_ENV} is not set and {path} does not exist; the first ingest "
            "of a feed with pii columns creates it (or run `python -m include.privacy key`)"
        )
    from include.secrets import ensure_secret_file

    return _parse(ensure_secret_file(path, lambda: secrets.token_hex(KEY_BYTES)), str(path))


def fingerprint(key: bytes) -> str:
    """Names a key without revealing it (an HMAC of a fixed text, 16 hex digits)."""
    return hmac.new(key, _FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:16]


def key_record_uri(lake_uri: str) -> str:
    return storage.join(lake_uri, "privacy", "key.json")


def check_lake_key(lake_uri: str, key: bytes) -> None:
    """Record the key's fingerprint in the lake the first time; later, refuse another key:
    its pseudonyms would never join the lake's (a person's history would restart)."""
    uri, mine = key_record_uri(lake_uri), fingerprint(key)
    if storage.exists(uri):
        recorded = json.loads(storage.read_bytes(uri))["fingerprint"]
        if recorded != mine:
            raise PiiKeyError(
                f"the PII key (fingerprint {mine}) is not the one this lake was pseudonymised "
                f"with (fingerprint {recorded}, {uri}): restore the original key file or "
                f"{KEY_ENV}; with a new key every person's pseudonym would change"
            )
        return
    record = {"fingerprint": mine, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    storage.write_bytes(uri, json.dumps(record).encode())
