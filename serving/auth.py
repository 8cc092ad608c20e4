"""The scoring API's bearer token.

``POST /predict`` needs ``Authorization: Bearer <token>``. The token comes from
``MLOPS_SERVING_TOKEN`` if set (a candidate served for checks gets a throw-away one), else
from the token file (``MLOPS_SERVING_TOKEN_FILE``, default ``<data_root>/serving/token``),
which :func:`ensure_token` creates once, mode 0600, with 256 bits from ``secrets``. The
service refuses to start without a token rather than serve unauthenticated. The token is
never logged or printed: ``python -m serving.auth`` creates the file and prints its path.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

TOKEN_ENV = "MLOPS_SERVING_TOKEN"
TOKEN_FILE_ENV = "MLOPS_SERVING_TOKEN_FILE"
MIN_TOKEN_CHARS = 16


class TokenMissing(RuntimeError):
    """No usable serving token: the message says where one was looked for and how to make
    one."""


def token_path() -> Path:
    """Where the token file lives (``MLOPS_SERVING_TOKEN_FILE`` or the data root's)."""
    configured = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if configured:
        return Path(configured)
    from include.config import get_settings

    return get_settings().data_root / "serving" / "token"


def _checked(token: str, origin: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenMissing(
            f"the serving token from {origin} is {len(token)} characters; at least "
            f"{MIN_TOKEN_CHARS} are required (generate one: python -m serving.auth)"
        )
    return token


def ensure_token(path: Path | None = None) -> str:
    """The token in ``path`` (default :func:`token_path`), created first if missing.

    Creation is exclusive (``os.link`` of a complete 0600 temp file), so two processes
    starting at once agree on one token and no reader ever sees a half-written file.
    """
    from include.secrets import ensure_secret_file

    path = Path(path or token_path())
    return _checked(ensure_secret_file(path, lambda: secrets.token_urlsafe(32)), str(path))


def load_token() -> str:
    """The token the service accepts: ``MLOPS_SERVING_TOKEN``, else the token file.

    Raises :class:`TokenMissing` (the service does not start) when neither exists.
    """
    from_env = os.environ.get(TOKEN_ENV, "")
    if from_env.strip():
        return _checked(from_env, TOKEN_ENV)
    path = token_path()
    if path.is_file():
        return _checked(path.read_text(), str(path))
    raise TokenMissing(
        f"no serving token: {TOKEN_ENV} is not set and {path} does not exist. Create the "
        f"file once with `python -m serving.auth` (mode 0600; clients read it from there) "
        f"or set {TOKEN_ENV}; the service does not serve without one."
    )


if __name__ == "__main__":  # pragma: no cover - a command for operators
    where = token_path()
    ensure_token(where)
    print(f"serving token: {where} (send it as 'Authorization: Bearer <contents>')")
    sys.exit(0)
