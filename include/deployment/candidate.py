"""A built Bento served on a private port, for the checks before any client traffic.

The candidate runs the Bento exactly as packaged (its own copy of the service code and the
model it pins), reads the same online store, captures nothing (smoke traffic must not reach
monitoring) and accepts only a throw-away token. It is stopped, with every process it
started, when the ``with`` block ends, whatever happened inside.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.config import current_usecase
from include.deployment.http import ServiceUnreachable, wait_ready


@dataclass(frozen=True)
class Candidate:
    pid: int  # the serve process (its workers are its children)
    url: str
    token: str
    bento_tag: str
    startup_s: float
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bentoml_cli() -> str:
    """The ``bentoml`` executable next to this interpreter (tasks may run without PATH)."""
    exe = Path(sys.executable).with_name("bentoml")
    return str(exe) if exe.exists() else "bentoml"


@contextmanager
def serve(
    bento_tag: str, log_dir: Path, *, ready_timeout_s: float = 180.0, capture: bool = False
) -> Iterator[Candidate]:
    """Serve ``bento_tag`` until the block ends; yields where and how to call it.
    ``capture``: keep the prediction capture on (benchmarks measure the real path)."""
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "MLOPS_SERVING_TOKEN": token,
        "MLOPS_SERVING_CAPTURE": "true" if capture else "false",
        "BENTOML_DO_NOT_TRACK": "true",
    }
    env.pop("MLOPS_SERVING_POINTER", None)  # pinned: the Bento serves the model it packages
    env.pop("MLOPS_USECASE_SPEC", None)  # and the spec it carries (serving/bento.py)
    from serving.bento import SPEC_IN_BENTO

    usecase = current_usecase()
    if usecase.scoped:  # the same use case (its stores), with the spec the Bento carries
        env["MLOPS_USECASES"] = f"{usecase.name}={SPEC_IN_BENTO}"
        env["MLOPS_USECASE"] = usecase.name
    home = tempfile.mkdtemp(prefix="mlops-candidate-")
    env["BENTOML_HOME"] = _private_home(Path(home))
    log_dir.mkdir(parents=True, exist_ok=True)
    proc = None
    try:
        # A free port can be taken between choosing it and the server binding it (any
        # process's connection may get it): a bind failure is retried on another port.
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            port = free_port()
            log = log_dir / f"candidate-{bento_tag.replace(':', '-')}-{port}.log"
            cmd = [bentoml_cli(), "serve", bento_tag, "--host", "127.0.0.1", "--port", str(port)]
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            url = f"http://127.0.0.1:{port}"
            try:
                waited = wait_ready(url, ready_timeout_s, proc=proc)
                break
            except ServiceUnreachable as exc:
                tail = log.read_text(errors="replace")[-2000:]
                _stop(proc)
                if "Address already in use" in tail and attempt < _BIND_ATTEMPTS:
                    continue
                raise ServiceUnreachable(
                    f"candidate {bento_tag} did not start: {exc}\n{tail}"
                ) from None
        yield Candidate(
            pid=proc.pid, url=url, token=token, bento_tag=bento_tag, startup_s=waited, log=log
        )
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(home, ignore_errors=True)


_BIND_ATTEMPTS = 3


def _private_home(home: Path) -> str:
    """A BentoML home of the candidate's own that sees the real stores.

    ``bentoml serve`` *wipes* ``<BENTOML_HOME>/prometheus_multiproc_dir`` at start: with the
    stable service's home, a candidate would delete the live service's metrics (and show its
    own in their place). So the candidate gets a home whose ``bentos`` and ``models`` are
    links to the real ones, and whose metrics directory is its own.
    """
    from serving.bento import bentoml_home

    real = Path(bentoml_home())
    for store in ("bentos", "models"):
        (real / store).mkdir(parents=True, exist_ok=True)
        (home / store).symlink_to(real / store, target_is_directory=True)
    return str(home)


def _stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            continue
        # The leader is gone; its workers may not be: the group gets the same signal.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
