"""``python -m bench.day_cycle``: one new day through the whole platform, timed on a live one.

    make bench-day                                   # own platform: 8 days x 100k, then day 9
    python -m bench.day_cycle --rows 5000 --days 8   # the same path, small and quick
    python -m bench.day_cycle --attach data          # a running `make run` (UI port from
                                                     # data/run/status.json, or --port)

"A new day of 100k transactions → validated → materialized → retrained → gated →
redeployed" (issue 20: target ≤ 5 min, orchestration overhead ≤ 25 % of it). By default it
starts ``make run`` (``scripts.embedded.trial``) on a scratch data directory and free ports
with ``--days`` days of ``--rows`` transactions, and waits for the first champion to serve
(or the gate to reject the bootstrap's model) and the platform to fall quiet. Then it lands
the next day of both feeds (the simulator, no drift), triggers both ingest DAGs with
``batch_date`` over the REST API, follows the runs the Assets start
(``materialize_features`` → ``train_model`` → ``deploy_model``) and reads every task
instance back from Airflow.

Figures (seconds; the clock starts when both files have landed):

* per stage: *span* (its first task queued → its last task ended), *tasks* (the summed run
  time of its task instances), *queue* (the summed ``queued_when`` → ``start_date``),
  *busy* (the time at least one of its tasks ran), *gap* (the upstream run's last task end,
  or the landing for the ingests → the stage's first run started: the trigger or Asset
  latency);
* *total*: landed → the deploy run ended (or the chain's last run ended: rejected, skipped,
  failed);
* *overhead* = total − busy, where busy is the time at least one task of the chain was
  running; it is split, instant by instant, into *queued* (a task queued, none running),
  *scheduling* (a run of the chain active, no task of it queued or running) and *between
  runs* (no run of the chain active: the REST trigger and the Asset hand-overs). The three
  add up to the overhead exactly. Time inside a task (its process start, imports) is work.

Prints a table and writes ``bench/results/day_cycle.json``; stops the platform it started
with Ctrl-C. The harness measures; it does not judge.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.supervisor import pid_alive
from scripts.embedded.trial import ROOT, EmbeddedRun, ingested, port_open

RESULTS = ROOT / "bench" / "results" / "day_cycle.json"
TARGET_S = 300
OVERHEAD_TARGET = 0.25
# Stage name → the DAG (unqualified id) whose runs make it up.
STAGES = {
    "ingest transactions": "ingest_transactions",
    "ingest labels": "ingest_labels",
    "materialize": "materialize_features",
    "train + gate": "train_model",
    "deploy": "deploy_model",
}
UPSTREAM = {
    "materialize": ("ingest transactions", "ingest labels"),
    "train + gate": ("materialize",),
    "deploy": ("train + gate",),
}
ACTIVE = ("queued", "running")


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


# ------------------------------------------------------------------------------ the records
@dataclass
class Task:
    task_id: str
    state: str | None
    queued: float | None
    start: float | None
    end: float | None
    duration: float

    @classmethod
    def of(cls, ti: dict[str, Any]) -> Task:
        return cls(
            ti["task_id"],
            ti.get("state"),
            _ts(ti.get("queued_when")),
            _ts(ti.get("start_date")),
            _ts(ti.get("end_date")),
            float(ti.get("duration") or 0),
        )


@dataclass
class Run:
    dag_id: str
    run_id: str
    state: str
    queued_at: float | None
    start: float | None
    end: float | None
    tasks: list[Task] = field(default_factory=list)

    @classmethod
    def of(cls, r: dict[str, Any]) -> Run:
        return cls(
            r["dag_id"],
            r["dag_run_id"],
            r["state"],
            _ts(r.get("queued_at")),
            _ts(r.get("start_date")),
            _ts(r.get("end_date")),
        )

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)

    def last_task_end(self) -> float | None:
        ends = [t.end for t in self.tasks if t.end is not None]
        return max(ends) if ends else self.end


def _union(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def _running(runs: list[Run], t_end: float) -> list[tuple[float, float]]:
    return [
        (t.start, t.end if t.end is not None else t_end)
        for r in runs
        for t in r.tasks
        if t.start is not None
    ]


def split_time(runs: list[Run], t0: float, t_end: float) -> dict[str, float]:
    """[t0, t_end] cut at every task and run edge; each piece is *busy* (a task running),
    *queued* (a task queued, none running), *scheduling* (a run active, no task queued or
    running) or *between runs* (no run active). The four add up to ``t_end - t0``."""
    running = _running(runs, t_end)
    queued = [
        (t.queued, t.start if t.start is not None else t_end)
        for r in runs
        for t in r.tasks
        if t.queued is not None
    ]
    active = [
        (r.queued_at or r.start or t_end, r.end if r.end is not None else t_end) for r in runs
    ]
    edges = {t0, t_end}
    for a, b in running + queued + active:
        edges.update(x for x in (a, b) if t0 < x < t_end)
    out = {"busy": 0.0, "queued": 0.0, "scheduling": 0.0, "between runs": 0.0}
    cuts = sorted(edges)
    for a, b in zip(cuts, cuts[1:], strict=False):
        mid = (a + b) / 2
        kind = "between runs"
        for name, spans in (("busy", running), ("queued", queued), ("scheduling", active)):
            if any(x <= mid < y for x, y in spans):
                kind = name
                break
        out[kind] += b - a
    return out


def stage_figures(stages: dict[str, list[Run]], t0: float, t_end: float) -> dict[str, dict]:
    """Per stage: runs, span, summed task time and queue wait, busy time, and the gap from
    what started it (the landing, or its upstream stage's last task end) to its first run."""
    out: dict[str, dict] = {}
    for name, runs in stages.items():
        tasks = [t for r in runs for t in r.tasks if t.start is not None]
        if not tasks:
            out[name] = {"runs": len(runs), "states": [r.state for r in runs]}
            continue
        first = min(t.queued or t.start for t in tasks)
        last = max(t.end if t.end is not None else t_end for t in tasks)
        task_s = sum(t.duration for t in tasks)
        starts = sorted(r.start for r in runs if r.start is not None)
        upstream = [r for u in UPSTREAM.get(name, ()) for r in stages.get(u, ())]
        ends = [e for r in upstream if (e := r.last_task_end()) is not None]
        before = [e for e in ends if starts and e <= starts[0]]
        origin = max(before) if before else (t0 if name.startswith("ingest") else None)
        out[name] = {
            "runs": len(runs),
            "states": [r.state for r in runs],
            "first_queued_s": round(first - t0, 1),
            "last_end_s": round(last - t0, 1),
            "span_s": round(last - first, 1),
            "tasks_run": sum(t.state != "skipped" for t in tasks),
            "task_s": round(task_s, 1),
            "queue_s": round(sum(t.start - t.queued for t in tasks if t.queued), 1),
            "busy_s": round(_union(_running(runs, t_end)), 1),
            "span_minus_task_s": round(last - first - task_s, 1),
            "gap_s": round(starts[0] - origin, 1) if starts and origin is not None else None,
        }
    return out


# ----------------------------------------------------------------------------- the platform
def api_for(data_root: Path, port: int, user: str | None = None) -> AirflowApi:
    """The platform's login (``make run`` generates the password file)."""
    name = "simple_auth_manager_passwords.json.generated"
    passwords = data_root / "airflow" / name  # make run's AIRFLOW_HOME, unless .env moved it
    if not passwords.exists() and os.environ.get("AIRFLOW_HOME"):
        passwords = Path(os.environ["AIRFLOW_HOME"]) / name
    users = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "mlops:admin")
    user = user or users.split(":")[0]
    return AirflowApi(f"http://127.0.0.1:{port}", user, passwords, timeout_s=30)


def active_runs(api: AirflowApi) -> list[dict[str, Any]]:
    page = api.get("/api/v2/dags/~/dagRuns", state=list(ACTIVE), limit=100)
    return page["dag_runs"]


def wait_quiet(api: AirflowApi, quiet_s: float, timeout_s: float) -> float:
    """Until no DAG run is queued or running for ``quiet_s`` in a row; returns the wait."""
    t0 = time.monotonic()
    since: float | None = None
    while time.monotonic() - t0 < timeout_s:
        try:
            busy = bool(active_runs(api))
        except OSError:  # the api-server restarting: ask again
            busy = True
        now = time.monotonic()
        since = None if busy else since or now
        if since is not None and now - since >= quiet_s:
            return round(now - t0, 1)
        time.sleep(3)
    raise TimeoutError(f"the platform was not quiet for {quiet_s:.0f} s in {timeout_s:.0f} s")


def boot(run: EmbeddedRun, log: Path, expect_champion: bool, timeout_s: float) -> dict[str, Any]:
    """``make run`` until every landed day is ingested and (if the bootstrap days can train
    one: more than the labels' maturity) the first champion serves, or the gate rejected the
    bootstrap's model (then the day's run trains the first champion, if any)."""
    t0 = time.monotonic()
    marks: dict[str, Any] = {}
    run.start(log)
    while time.monotonic() - t0 < timeout_s:
        status = run.status()
        progress = status.get("progress") or {}
        now = round(time.monotonic() - t0, 1)
        if status.get("ui_up_s") and "ui_healthy_s" not in marks:
            marks["ui_healthy_s"] = now
        if ingested(status) and "all_ingested_s" not in marks:
            marks["all_ingested_s"] = now
        if progress.get("first_champion_s") and "first_champion_s" not in marks:
            marks["first_champion_s"] = now
        trains = (progress.get("train_runs") or {}).values()
        rejected = (
            ingested(status)
            and trains
            and all(state in ("success", "failed") for state in trains)
            and progress.get("versions_judged")
            and not progress.get("champion")
        )
        if (
            progress.get("first_deployed_s")
            or rejected
            or (not expect_champion and ingested(status))
        ):
            marks["ready_s"] = now
            marks["deployed"] = progress.get("deployed")
            if rejected:
                lines = [x for x in run.text().splitlines() if " rejected: " in x]
                marks["no_champion"] = lines[-1].strip() if lines else "rejected at the gate"
            return marks
        if run.proc is not None and run.proc.poll() is not None:
            raise RuntimeError(f"make run exited {run.proc.returncode}:\n{run.text()[-3000:]}")
        time.sleep(2)
    raise TimeoutError(f"no deployed champion after {timeout_s:.0f} s:\n{run.text()[-3000:]}")


def land_next_day(rows: int | None) -> dict[str, Any]:
    """The day after the newest landed one, both feeds, from the simulator (no drift)."""
    from devtools.simulator import land
    from include.config import get_settings
    from include.data import batches, lake
    from include.spec import load_spec

    spec, settings = load_spec(), get_settings()
    events, labels = spec.names.events_feed, spec.names.labels_feed
    landed = batches.landed_days(settings.landing_uri, events)
    if not landed:
        raise RuntimeError(f"nothing landed under {settings.landing_uri}: is this a platform?")
    day = landed[-1] + timedelta(days=1)
    if rows is None:  # attached: the newest day's size, the normal the history checks know
        newest = batches.list_batch_files(settings.landing_uri, events, landed[-1])
        rows = sum(_data_rows(Path(f.uri)) for f in newest)
    since = lake.partitions(settings.lake_uri, events)[0]
    t = time.monotonic()
    written = {feed: land(spec, feed, day, rows=rows, since=since) for feed in (events, labels)}
    return {
        "day": day.isoformat(),
        "rows": rows,
        "label_rows": sum(_data_rows(Path(u)) for u in written[labels]),
        "landing_s": round(time.monotonic() - t, 1),
        "files": written,
        "feeds": {"events": events, "labels": labels},
    }


def _data_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh) - 1


def trigger(api: AirflowApi, dag_id: str, day: str) -> str:
    body = {
        "dag_run_id": f"day_cycle__{day}__{int(time.time())}",
        "logical_date": None,
        "conf": {"batch_date": day},
    }
    return api.post(f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]


def _run_path(run: Run) -> str:
    return f"/api/v2/dags/{run.dag_id}/dagRuns/{quote(run.run_id, safe='')}"


def _task_instances(api: AirflowApi, run: Run) -> list[Task]:
    page = api.get(f"{_run_path(run)}/taskInstances", limit=100)
    return [Task.of(ti) for ti in page["task_instances"]]


def _xcom(api: AirflowApi, run: Run, task_id: str, key: str) -> Any:
    try:
        value = api.get(f"{_run_path(run)}/taskInstances/{task_id}/xcomEntries/{key}")["value"]
    except (urllib.error.URLError, OSError, KeyError):
        return None
    if isinstance(value, str):  # stored serialized: JSON, or a Python repr
        for parse in (json.loads, ast.literal_eval):
            try:
                return parse(value)
            except (ValueError, SyntaxError):
                continue
    return value


def _skip_message(api: AirflowApi, run: Run, task: Task) -> str:
    """The AirflowSkipException's message: the ``reason`` of the log's "Skipping task." line."""
    path = f"{_run_path(run)}/taskInstances/{task.task_id}/logs/1"
    try:
        lines = api.get(path, full_content=True).get("content") or []
    except (urllib.error.URLError, OSError, AttributeError):
        return f"{task.task_id} skipped (its log is not readable)"
    reasons = [x["reason"] for x in lines if isinstance(x, dict) and x.get("reason")]
    return f"{task.task_id}: {reasons[-1]}" if reasons else f"{task.task_id} skipped"


@dataclass
class Chain:
    """The runs that one landed day set off, followed through the REST API."""

    api: AirflowApi
    dag_ids: dict[str, str]  # stage → this use case's DAG id
    t0: float
    ingest_runs: dict[str, str]  # stage → the run id we triggered
    stages: dict[str, list[Run]] = field(default_factory=dict)
    others: list[Run] = field(default_factory=list)

    def poll(self) -> None:
        since = datetime.fromtimestamp(self.t0 - 1, UTC).isoformat()
        page = self.api.get("/api/v2/dags/~/dagRuns", run_after_gte=since, limit=100)
        by_dag = {dag: stage for stage, dag in self.dag_ids.items()}
        stages: dict[str, list[Run]] = {s: [] for s in self.dag_ids}
        others = []
        for raw in page["dag_runs"]:
            run = Run.of(raw)
            stage = by_dag.get(run.dag_id)
            if stage in self.ingest_runs and run.run_id != self.ingest_runs[stage]:
                stage = None  # a scheduled ingest run: not this day's
            (stages[stage] if stage else others).append(run)
        for run in [r for rs in stages.values() for r in rs] + others:
            run.tasks = _task_instances(self.api, run)
        for runs in stages.values():
            runs.sort(key=lambda r: r.queued_at or 0)
        self.stages, self.others = stages, others

    def runs(self) -> list[Run]:
        return [r for rs in self.stages.values() for r in rs]

    def settled(self, quiet_s: float) -> bool:
        """Every run ended, a promotion's deployment included, and nothing new for
        ``quiet_s`` after the last one ended (the next Asset run would have started)."""
        runs = self.runs()
        if not runs or any(r.state in ACTIVE or r.end is None for r in runs):
            return False
        trains, deploys = self.stages["train + gate"], self.stages["deploy"]
        promoted = [r for r in trains if (t := r.task("publish_champion")) and t.state == "success"]
        if promoted and not [r for r in deploys if r.start and r.start >= promoted[-1].start]:
            return False
        return time.time() - max(r.end for r in runs) >= quiet_s

    def follow(self, quiet_s: float, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.poll()
            except OSError as exc:  # the api-server restarting: ask again
                print(f"   (Airflow not answering: {exc})")
            else:
                if self.settled(quiet_s):
                    return
            time.sleep(3)
        raise TimeoutError(f"the day's runs had not settled after {timeout_s:.0f} s")

    def outcome(self) -> dict[str, Any]:
        """What the day ended in: deployed, rejected at the gate, skipped or failed, and why."""
        training = [self._training(r) for r in self.stages["train + gate"]]
        deploys = [self._deploy(r) for r in self.stages["deploy"]]
        deployed = [d for d in deploys if d["result"] == "deployed"]
        if deployed:
            kind, why = "promoted+deployed", f"v{deployed[-1]['version']} serves"
        elif any(t["result"] == "promoted" for t in training):
            kind, why = "promoted, not deployed", "; ".join(d["detail"] for d in deploys)
        elif training:
            kind, why = training[-1]["result"], training[-1]["detail"]
        else:
            ingests = [r for s in ("ingest transactions", "ingest labels") for r in self.stages[s]]
            failed = [r for r in ingests if r.state != "success"]
            kind = "stopped at ingest" if failed else "no training run"
            why = ", ".join(f"{r.dag_id} {r.state}" for r in failed) or "no features event?"
        return {"result": kind, "detail": why, "training": training, "deploys": deploys}

    def _training(self, run: Run) -> dict[str, Any]:
        built, trained = run.task("build_training_set"), run.task("train_candidates")
        gate = run.task("evaluate_and_promote")
        if built and built.state == "skipped":
            why = _xcom(self.api, run, "build_training_set", "skipped_because")
            return {"run_id": run.run_id, "result": "skipped", "detail": str(why)}
        if trained and trained.state == "skipped":
            detail = _skip_message(self.api, run, trained)
            return {"run_id": run.run_id, "result": "skipped", "detail": detail}
        if gate and gate.state == "success":
            res = _xcom(self.api, run, "evaluate_and_promote", "return_value") or {}
            decision = res.get("decision", "?")
            result = "promoted" if res.get("promoted") else f"rejected at the gate ({decision})"
            # After a promotion the result's champion_version is the new one: the champion
            # it was compared with is the comparison's.
            before = (res.get("comparison") or {}).get(
                "champion_version", res.get("champion_version")
            )
            against = f"champion v{before}" if before not in (None, res.get("version")) else "none"
            detail = f"v{res.get('version')} (against {against}): "
            return {
                "run_id": run.run_id,
                "result": result,
                "detail": detail + str(res.get("reason")),
            }
        failed = [t.task_id for t in run.tasks if t.state in ("failed", "upstream_failed")]
        return {"run_id": run.run_id, "result": f"training {run.state}", "detail": str(failed)}

    def _deploy(self, run: Run) -> dict[str, Any]:
        resolved, recorded = run.task("resolve_version"), run.task("record")
        target = _xcom(self.api, run, "resolve_version", "return_value") or {}
        version = target.get("version") if isinstance(target, dict) else None
        if recorded and recorded.state == "success":
            return {"run_id": run.run_id, "result": "deployed", "version": version, "detail": ""}
        if resolved and resolved.state == "skipped":
            detail = _skip_message(self.api, run, resolved)
            return {"run_id": run.run_id, "result": "skipped", "version": None, "detail": detail}
        failed = [t.task_id for t in run.tasks if t.state in ("failed", "upstream_failed")]
        detail = f"deploy {run.state} at {failed}"
        return {"run_id": run.run_id, "result": run.state, "version": version, "detail": detail}


# ------------------------------------------------------------------------------ the report
def measure(api: AirflowApi, quiet_s: float, timeout_s: float, rows: int | None) -> dict:
    from include.config import current_usecase
    from include.spec import load_spec

    uc = current_usecase()  # with several use cases (MLOPS_USECASE picks one): its DAG ids
    names = load_spec().names
    dag_ids = {stage: uc.qualify(dag) for stage, dag in STAGES.items()}
    ingest = {  # ingest_<feed>, the spec's feed names
        "ingest transactions": uc.qualify(f"ingest_{names.events_feed}"),
        "ingest labels": uc.qualify(f"ingest_{names.labels_feed}"),
    }
    dag_ids.update(ingest)
    waited = wait_quiet(api, 20, timeout_s)
    load_before = os.getloadavg()
    landed = land_next_day(rows)
    t0 = time.time()
    chain = Chain(api, dag_ids, t0, {s: trigger(api, d, landed["day"]) for s, d in ingest.items()})
    print(
        f"landed {landed['day']} ({landed['rows']:,} transactions, {landed['label_rows']:,} "
        f"labels) in {landed['landing_s']} s; triggered {', '.join(ingest.values())}"
    )
    chain.follow(quiet_s, timeout_s)
    out = chain.outcome()
    runs = chain.runs()
    deployed = [
        r for r in chain.stages["deploy"] if (t := r.task("record")) and t.state == "success"
    ]
    t_end = deployed[-1].end if deployed else max(r.end for r in runs)
    split = split_time(runs, t0, t_end)
    total = t_end - t0
    overhead = total - split["busy"]
    stages = stage_figures(chain.stages, t0, t_end)
    concurrent: dict[str, float] = {}
    for r in chain.others:  # other DAGs' work in the window (score_transactions...): same CPUs
        inside = [(max(a, t0), min(b, t_end)) for a, b in _running([r], t_end) if b > t0]
        busy = _union([(a, b) for a, b in inside if b > a])
        concurrent[r.dag_id] = round(concurrent.get(r.dag_id, 0) + busy, 1)
    slow = sorted(
        ((f"{r.dag_id}.{t.task_id}", t.duration) for r in runs for t in r.tasks if t.duration),
        key=lambda x: -x[1],
    )
    return {
        "platform_quiet_wait_s": waited,
        "landed": landed,
        "t0": datetime.fromtimestamp(t0, UTC).isoformat(),
        "total_s": round(total, 1),
        "total_over_target": round(total / TARGET_S, 2),
        "busy_s": round(split["busy"], 1),
        "overhead_s": round(overhead, 1),
        "overhead_share": round(overhead / total, 3) if total > 0 else None,
        "overhead_split_s": {k: round(v, 1) for k, v in split.items() if k != "busy"},
        "stages": stages,
        "outcome": out,
        "slowest_tasks": [(name, round(s, 1)) for name, s in slow[:8]],
        "concurrent_outside_chain_busy_s": concurrent,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "runs": [
            {
                "dag_id": r.dag_id,
                "run_id": r.run_id,
                "state": r.state,
                "queued_at_s": _rel(r.queued_at, t0),
                "start_s": _rel(r.start, t0),
                "end_s": _rel(r.end, t0),
                "tasks": [
                    {
                        "task_id": t.task_id,
                        "state": t.state,
                        "queued_s": _rel(t.queued, t0),
                        "start_s": _rel(t.start, t0),
                        "end_s": _rel(t.end, t0),
                        "duration_s": round(t.duration, 2),
                    }
                    for t in sorted(r.tasks, key=lambda t: t.start or float("inf"))
                ],
            }
            for r in runs + chain.others
        ],
    }


def _rel(value: float | None, t0: float) -> float | None:
    return None if value is None else round(value - t0, 2)


def report(res: dict[str, Any]) -> None:
    print(
        f"\n{'stage':<20} {'runs':>4} {'span s':>7} {'tasks s':>8} {'queue s':>8} "
        f"{'busy s':>7} {'span-tasks':>10} {'gap s':>6}   (gap: from the landing or upstream)"
    )
    for name, s in res["stages"].items():
        if "span_s" not in s:
            print(f"{name:<20} {s['runs']:>4}   no task ran {s['states']}")
            continue
        gap = "-" if s["gap_s"] is None else s["gap_s"]
        print(
            f"{name:<20} {s['runs']:>4} {s['span_s']:>7} {s['task_s']:>8} {s['queue_s']:>8} "
            f"{s['busy_s']:>7} {s['span_minus_task_s']:>10} {gap:>6}"
        )
    split = res["overhead_split_s"]
    out = res["outcome"]
    print(
        f"\ntotal, landed -> {'deployed' if out['result'] == 'promoted+deployed' else 'end'}: "
        f"{res['total_s']} s = {res['total_over_target']} of the {TARGET_S} s target\n"
        f"busy (a task of the chain running) {res['busy_s']} s; overhead {res['overhead_s']} s "
        f"= {res['overhead_share']:.0%} of the total (target <= {OVERHEAD_TARGET:.0%}):\n"
        f"   queued (a task waiting for a worker, none running)   {split['queued']} s\n"
        f"   scheduling (a run active, no task queued or running)  {split['scheduling']} s\n"
        f"   between runs (REST trigger, Asset hand-overs)         {split['between runs']} s\n"
        f"outcome: {out['result']}: {out['detail']}"
    )
    for t in out["training"]:
        print(f"   train {t['run_id']}: {t['result']}: {t['detail'][:300]}")
    for d in out["deploys"]:
        print(f"   deploy {d['run_id']}: {d['result']} {d.get('version') or ''} {d['detail']}")
    print("slowest tasks: " + ", ".join(f"{n} {s} s" for n, s in res["slowest_tasks"]))
    if res["concurrent_outside_chain_busy_s"]:
        print(f"also running meanwhile (busy s): {res['concurrent_outside_chain_busy_s']}")
    print(f"load average before / after: {res['loadavg_before']} / {res['loadavg_after']}")


def _own_env(data_root: Path) -> None:
    """This process reads the scratch platform's storage (landing, lake), nothing else."""
    for key in [k for k in os.environ if k.startswith(("MLOPS_", "AIRFLOW_HOME"))]:
        del os.environ[key]
    os.environ["MLOPS_DATA_ROOT"] = str(data_root)


def scaled_spec(rows: int, folder: Path) -> Path | None:
    """The use case's spec with the simulator's customers and merchants scaled with the day's
    rows (a business ten times as big has ten times the customers, not customers who each
    pay ten times a day); None when the spec has no simulator or ``rows`` is its own size."""
    import yaml

    from include.config import get_settings

    source = get_settings().usecase_spec
    raw = yaml.safe_load(source.read_text())
    sim = raw.get("simulator") or {}
    base = int(sim.get("rows_per_day") or 0)
    if not base or rows == base:
        return None
    factor = rows / base
    for key in ("customers", "merchants"):
        if sim.get(key):
            sim[key] = max(1, round(int(sim[key]) * factor))
    sim["rows_per_day"] = rows
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name  # same stem: same use case name, DAG ids and storage
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def keep_logs(data_root: Path, results: Path) -> str:
    """Copy the platform's component logs (deployment candidates included) and Airflow's
    task logs out of the scratch data root, which is deleted when the bench ends."""
    target = results / f"day_cycle-logs-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    for part in ("logs", "airflow/logs"):
        if (data_root / part).is_dir():
            shutil.copytree(data_root / part, target / part, dirs_exist_ok=True)
    return str(target)


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return out.stdout.decode().strip()


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.day_cycle", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--rows",
        type=int,
        default=None,
        help="transactions a day (default 100000; attached: the newest landed day's count)",
    )
    ap.add_argument("--days", type=int, default=8, help="bootstrap days (default 8)")
    ap.add_argument("--attach", type=Path, help="data root of a running `make run`")
    ap.add_argument("--port", type=int, help="its UI port (default: its status.json)")
    ap.add_argument("--boot-timeout", type=float, default=3600)
    ap.add_argument("--timeout", type=float, default=1800, help="for the day's chain")
    ap.add_argument("--quiet", type=float, default=60, help="s without a new run = the end")
    ap.add_argument(
        "--same-population",
        action="store_true",
        help="keep the spec's customers and merchants (default: scaled with --rows)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    meta: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    result: dict[str, Any] = {"meta": meta}
    code = 0
    t_start = time.monotonic()
    if args.attach:
        data_root = args.attach.resolve()
        os.environ["MLOPS_DATA_ROOT"] = str(data_root)
        status = json.loads((data_root / "run" / "status.json").read_text())
        port = (
            args.port
            or (status.get("ports") or {}).get("ui")
            or int(os.environ.get("MLOPS_UI_PORT", "8080"))
        )
        meta.update(mode="attach", data_root=str(data_root), port=port)
        result["day"] = measure(api_for(data_root, port), args.quiet, args.timeout, args.rows)
    else:
        from include.spec import load_spec

        rows = args.rows or 100_000
        expect = args.days > load_spec().labels.maturity_days
        meta.update(mode="own", days=args.days, rows=rows, champion_expected=expect)
        with tempfile.TemporaryDirectory(prefix="bench-day-", ignore_cleanup_errors=True) as tmp:
            scratch = Path(tmp)
            spec = None if args.same_population else scaled_spec(rows, scratch / "usecase")
            extra = {"MLOPS_USECASE_SPEC": str(spec)} if spec else {}
            run = EmbeddedRun(scratch / "data", days=args.days, rows=rows, extra_env=extra)
            _own_env(run.data_root)
            os.environ.update(extra)
            if spec:
                sim = load_spec(spec).simulator
                meta.update(spec=str(spec), customers=sim.customers, merchants=sim.merchants)
                print(
                    f"population scaled with the rows: {sim.customers:,} customers, "
                    f"{sim.merchants:,} merchants ({spec})"
                )
            try:
                print(f"make run: {args.days} days x {rows:,} transactions on {run.data_root}")
                result["boot"] = boot(run, scratch / "make-run.log", expect, args.boot_timeout)
                print(f"   ready after {result['boot']['ready_s']} s: {result['boot']}")
                api = api_for(run.data_root, run.ports["MLOPS_UI_PORT"], "mlops")
                result["day"] = measure(api, args.quiet, args.timeout, rows)
            except (TimeoutError, RuntimeError) as exc:
                result["error"] = str(exc)
                code = 1
            finally:
                failed = code or "fail" in str((result.get("day") or {}).get("outcome"))
                if failed:  # the scratch folder goes: what a person needs to see why stays
                    result["kept_logs"] = keep_logs(run.data_root, args.out.parent)
                pids = {k: v for k, v in (run.status().get("pids") or {}).items() if v}
                stop = result.setdefault("stop", {})
                stop["exit_code"] = run.ctrl_c() if run.proc and run.proc.poll() is None else None
                stop["left_processes"] = [k for k, v in pids.items() if pid_alive(v)]
                stop["held_ports"] = [k for k, v in run.ports.items() if port_open(v)]
                run.kill()
                result["log_tail"] = run.text()[-2000:]
    meta["wall_s"] = round(time.monotonic() - t_start, 1)
    if "day" in result:
        report(result["day"])
    if result.get("error"):
        print(f"ERROR {result['error'][:2000]}")
    if "stop" in result:
        print(f"stopped: {result['stop']}")
    if result.get("kept_logs"):
        print(f"the day failed somewhere: its logs are kept in {result['kept_logs']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"-> {args.out} ({meta['wall_s']} s in all)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
