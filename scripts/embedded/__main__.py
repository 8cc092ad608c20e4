"""``make run``: start the embedded platform, watch it, show the first cycle, stop on Ctrl-C.

Run through ``scripts/run_embedded.sh`` (which sources ``scripts/embedded_env.sh``). Order:

1. stop leftovers of a killed earlier run; refuse ports already taken;
2. secrets and login (once), the embedded PostgreSQL (init once, databases once);
3. at the same time: land the simulated days not landed yet, ``airflow db migrate``, and
   MLflow's schema;
4. the mail sink, scheduler, dag-processor, triggerer and api-server, each its own process;
5. until Ctrl-C: the watchdog (processes + ``/api/v2/monitor/health``) and the milestones.

Exit status: 0 after Ctrl-C/SIGTERM, 1 when a component cannot be brought back or the
start-up fails (the message says which and where its log is).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from scripts.embedded import state as st
from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.console import Console
from scripts.embedded.lifecycle import OneShots, refuse_taken, supervise, write_status
from scripts.embedded.lifecycle import env as _env
from scripts.embedded.postgres import EmbeddedPostgres, write_pgpass
from scripts.embedded.progress import Progress, ProgressPoller
from scripts.embedded.supervisor import Component, Supervisor, Unrecoverable, stop_leftovers

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    data = Path(_env("MLOPS_DATA_ROOT", str(ROOT / "data"))).resolve()
    logs, run_dir, airflow_home = data / "logs", data / "run", Path(_env("AIRFLOW_HOME"))
    console = Console(logs / "make-run.log")
    supervisor = Supervisor(
        console,
        run_dir / "processes.json",
        max_restarts=int(_env("MLOPS_MAX_RESTARTS", "3")),
        hung_after_s=float(_env("MLOPS_HUNG_AFTER_S", "180")),
        stop_grace_s=float(_env("MLOPS_STOP_GRACE_S", "30")),
    )
    status_path = run_dir / "status.json"
    status: dict[str, object] = {"phase": "starting", "started_at": datetime.now(UTC).isoformat()}
    return supervise(
        "airflow-mlops",
        console,
        supervisor,
        status,
        status_path,
        lambda: _run(console, supervisor, data, logs, run_dir, airflow_home, status, status_path),
        after_forced="; tasks it was running are retried on the next start",
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
    ui_port = int(_env("MLOPS_UI_PORT", "8080"))
    smtp_port = int(_env("MLOPS_SMTP_PORT", "2525"))
    pg_port = int(_env("MLOPS_PG_PORT", "54320"))
    serving_port = int(_env("MLOPS_SERVING_PORT", "3000"))
    from include.config import usecases

    # Listed use cases (MLOPS_USECASES): one scoring service each, at its settings' address
    # (consecutive ports from MLOPS_SERVING_PORT, or MLOPS_SERVING_URL_<NAME>).
    platform_usecases = usecases()
    from urllib.parse import urlsplit

    from include.config import get_settings

    serving_ports = {
        uc.name: urlsplit(get_settings(uc.name).serving_url).port or serving_port + uc.index
        for uc in platform_usecases
    }
    embedded_pg = _env("MLOPS_EMBEDDED_POSTGRES", "true").lower() in ("1", "true", "yes")
    user = _env("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "mlops:admin").split(":")[0]
    passwords = airflow_home / "simple_auth_manager_passwords.json.generated"

    # 1. leftovers and ports
    stop_leftovers(run_dir / "processes.json", console)
    ports = {
        "web UI (MLOPS_UI_PORT)": ui_port,
        "mail sink (MLOPS_SMTP_PORT)": smtp_port,
        **{
            (
                f"scoring service of {uc.name} (MLOPS_SERVING_PORT + {uc.index})"
                if uc.scoped
                else "scoring service (MLOPS_SERVING_PORT)"
            ): serving_ports[uc.name]
            for uc in platform_usecases
        },
        "task log server (AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT)": int(
            _env("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "8793")
        ),
        "triggerer log server (AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT)": int(
            _env("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "8794")
        ),
    }
    if embedded_pg:
        ports["embedded PostgreSQL (MLOPS_PG_PORT)"] = pg_port
    refuse_taken(
        ports, "Another `make run`? Stop it, or set the variable named to a free port in .env"
    )

    # 2. secrets, login, bootstrap state
    secrets = st.ensure_secrets(airflow_home / "secrets.env")
    # The database password reaches clients through PGPASSFILE only, not the environment.
    os.environ.update({k: v for k, v in secrets.items() if k != "MLOPS_PG_PASSWORD"})
    st.ensure_login(passwords, user)
    from serving.auth import ensure_token, token_path

    ensure_token(token_path())  # the scoring service's bearer token, generated once
    from include.privacy.keys import load_key

    load_key()  # the PII key (pseudonyms), generated once: ingest and services share it
    previous = st.Bootstrap.load(run_dir / "bootstrap.json")
    days = int(_env("MLOPS_BOOTSTRAP_DAYS", "14"))
    reference = _env("MLOPS_BOOTSTRAP_REFERENCE", "false") == "true"
    if reference:  # tests and benchmarks: the same eight days of content whatever the date
        from devtools.trained_platform import DAYS

        days = len(DAYS)
    boot, land_first, land_count = st.plan_landing(previous, date.today(), days)
    os.environ.setdefault("MLOPS_INGEST_START_DATE", boot.first_day)
    if previous is None:
        console.say(f"== airflow-mlops: first start on {data}")
    else:
        console.say(
            f"== airflow-mlops: resuming on {data} (start {boot.starts}; data since "
            f"{boot.first_day}, landed through {previous.landed_through})"
        )

    # 3. PostgreSQL
    if embedded_pg:
        pg = EmbeddedPostgres(data / "postgres", pg_port, secrets["MLOPS_PG_PASSWORD"])
        write_pgpass(Path(_env("PGPASSFILE", str(airflow_home / "pgpass"))), pg_port, pg.password)
        if not pg.initialized:
            console.say(f"== creating the embedded PostgreSQL 18 cluster in {pg.pgdata}")
            pg.init()
        account = pg.run_as()
        comp = supervisor.start(
            Component(
                "postgres",
                pg.command(),
                logs / "postgres.log",
                stop_signal=signal.SIGINT,  # fast shutdown; SIGTERM would wait for clients
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
            )
        )
        pg.wait_ready(60, comp.alive)
        created = pg.ensure_databases(["airflow", "mlflow", "feast"])
        console.say(
            f"== PostgreSQL up on 127.0.0.1:{pg_port}"
            + (f" (created databases {', '.join(created)})" if created else "")
        )

    # 4. one-shot preparation, in parallel
    console.say(
        "== preparing: Airflow metadata DB, MLflow store"
        + (f", landing {land_count} day(s) from {land_first}" if land_count else "")
    )
    prep = OneShots(logs)
    prep.start("db-migrate", ["airflow", "db", "migrate"])
    prep.start("mlflow-init", [sys.executable, "-m", "scripts.embedded.mlflow_init"])
    for uc in platform_usecases if land_count else ():
        env = {**os.environ, "MLOPS_USECASE": uc.name}
        suffix = f"-{uc.name}" if uc.scoped else ""
        rows = ["--rows", _env("MLOPS_BOOTSTRAP_ROWS")] if _env("MLOPS_BOOTSTRAP_ROWS") else []
        if reference and uc.index == 0:  # the reference days (tests, benchmarks): the first's
            argv = [sys.executable, "-m", "devtools.trained_platform", "--land", *rows]
            prep.start(f"reference-days{suffix}", argv, env=env)
            continue
        # The spec's source: the simulator, or a recorded dataset replayed day by day; each
        # use case its own, into its own landing zone.
        argv = [sys.executable, "-m", "devtools.land", "--start", land_first.isoformat()]
        argv += ["--days", str(land_count), *rows]
        prep.start(f"first-days{suffix}", argv, env=env)
    prep.wait()
    boot.save(run_dir / "bootstrap.json")

    # 5. the long-running components
    console.say(
        "== starting the mail sink and Airflow (api-server, scheduler, dag-processor, triggerer)"
    )
    py, airflow = sys.executable, "airflow"
    mail_dir = _env("MLOPS_MAIL_SINK_DIR", str(data / "mail"))
    supervisor.start(
        Component(
            "mail-sink",
            [py, "-m", "devtools.mail_sink", "--port", str(smtp_port), "--dir", mail_dir],
            logs / "mail-sink.log",
        )
    )
    for name, key in (
        ("scheduler", "scheduler"),
        ("dag-processor", "dag_processor"),
        ("triggerer", "triggerer"),
    ):
        supervisor.start(Component(name, [airflow, name], logs / f"{name}.log", health_key=key))
    supervisor.start(
        Component(
            "api-server",
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(ui_port)],
            logs / "api-server.log",
            health_key="metadatabase",
        )
    )

    # The scoring service: up from the start, ready once a deployment points it at a model
    # (deploy_model runs on the first champion); it swaps versions without restarting. One
    # per use case: each deploys, rolls back, pauses and restarts without touching another.
    for uc in platform_usecases:
        name = f"serving-{uc.name}" if uc.scoped else "serving"
        supervisor.start(
            Component(
                name,
                [
                    str(Path(sys.executable).with_name("bentoml")),
                    "serve",
                    "serving.service:ScoringService",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(serving_ports[uc.name]),
                ],
                logs / f"{name}.log",
                env={**os.environ, "MLOPS_USECASE": uc.name},
            )
        )

    api = AirflowApi(f"http://127.0.0.1:{ui_port}", user, passwords)
    from include.spec import load_spec

    progresses = []
    for uc in platform_usecases:
        spec = load_spec(uc.spec)
        progresses.append(
            Progress(
                api=api,
                console=console,
                first_day=date.fromisoformat(boot.first_day),
                last_day=date.fromisoformat(boot.landed_through),
                tracking_uri=_env("MLFLOW_TRACKING_URI"),
                model_name=spec.model.registered_name,
                primary_metric=spec.model.primary_metric,
                feeds={"events": spec.names.events_feed, "labels": spec.names.labels_feed},
                serving_url=get_settings(uc.name).serving_url,
                usecase=uc.name if uc.scoped else None,
            )
        )

    # 6. watch
    healthy_once = False
    unhealthy_since: float | None = None
    poller = ProgressPoller(progresses)
    try:
        while True:
            health = api.health()
            supervisor.check(health)
            supervisor.reap_orphans()
            all_ok = health is not None and all(
                health.get(k) == "healthy"
                for k in ("metadatabase", "scheduler", "dag_processor", "triggerer")
            )
            status.update(
                phase="running" if all_ok else "starting" if not healthy_once else "degraded",
                health=health,
                restarts=supervisor.restart_counts(),
                pids={c.name: c.pid for c in supervisor.components},
                ports={
                    "ui": ui_port,
                    "smtp": smtp_port,
                    "serving": serving_port,
                    # Listed use cases: each one's scoring address.
                    **{f"serving.{p.usecase}": p.serving_url for p in progresses if p.usecase},
                    "postgres": pg_port if embedded_pg else None,
                },
            )
            if all_ok and not healthy_once:
                healthy_once = True
                status["ui_up_s"] = round(console.elapsed(), 1)
                if previous is not None:
                    for one in progresses:
                        one.resume_summary()
                _banner(console, ui_port, user, passwords, data, logs, progresses)
            elif healthy_once and not all_ok and unhealthy_since is None:
                unhealthy_since = time.monotonic()
                bad = {
                    k: v
                    for k, v in (health or {"api-server": "no answer"}).items()
                    if v != "healthy"
                }
                console.say(f"!! not healthy: {bad} (the watchdog restarts what does not recover)")
            elif all_ok and unhealthy_since is not None:
                console.say(f"   healthy again after {time.monotonic() - unhealthy_since:.0f} s")
                unhealthy_since = None
            elif not healthy_once and console.elapsed() > float(
                _env("MLOPS_START_TIMEOUT_S", "600")
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
    port: int,
    user: str,
    passwords: Path,
    data: Path,
    logs: Path,
    progresses: list[Progress],
) -> None:
    from serving.auth import token_path

    scoring = "\n                  ".join(
        f"{p.serving_url}/predict" + (f"  ({p.usecase})" if p.usecase else "") for p in progresses
    )
    console.say(
        f"""== airflow-mlops is running (all components healthy)
    Airflow UI    http://localhost:{port}   login: {user}
                  password: in {passwords}
    Alert mails   {_env("MLOPS_MAIL_SINK_DIR", str(data / "mail"))}/*.eml
    Data          {data}  (landing/, lake/validated, lake/quarantine, lake/reports)
    Logs          {logs}  (one per component; make-run.log is this terminal)
    Scoring API   {scoring}
                  (ready once a champion is deployed)
                  bearer token: in {token_path()}
    MLflow UI     make mlflow-ui  (in a second terminal)
  Progress of the first cycle follows. Ctrl-C stops every process started here."""
    )


if __name__ == "__main__":
    raise SystemExit(main())
