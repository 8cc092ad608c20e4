"""The first cycle's milestones on the terminal, read from Airflow's REST API and MLflow.

Days ingested n/N per feed (and any quarantined), features materialized, training started,
and each training outcome: a new champion ``vN`` with its primary metric, a rejection and
its reason, or a skip (the labelled window is still too young); then each deployment (the
version the stable scoring address serves, or why a deployment failed). The first cycle
closes with one line when its champion serves: how long it took from ``make run``.
"""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.console import Console

# The feed roles, each with its ingest DAG ``ingest_<feed>`` (dags/ingest_*.py).
ROLES = ("events", "labels")


@dataclass
class Progress:
    api: AirflowApi
    console: Console
    first_day: date
    last_day: date
    tracking_uri: str
    model_name: str
    primary_metric: str
    # The spec's feed names by role (shown on the console): {"events": ..., "labels": ...}.
    feeds: dict[str, str] = field(default_factory=lambda: {r: r for r in ROLES})
    # With several use cases: this one's name (its DAG ids' prefix and its lines' label).
    usecase: str | None = None
    # Set when the platform stops: a poll still under way (its services going away) says
    # nothing more, so the terminal's last lines are the stop's own.
    silenced: bool = False
    ingest: dict[str, dict[str, int]] = field(default_factory=dict)
    materialized: int = 0
    train_runs: dict[str, str] = field(default_factory=dict)
    versions_seen: set[str] = field(default_factory=set)
    champion: dict[str, Any] | None = None
    first_champion_s: float | None = None
    serving_url: str = ""
    deploy_runs: dict[str, str] = field(default_factory=dict)
    deployed: str | None = None
    first_deployed_s: float | None = None
    _quarantine_checked: set[str] = field(default_factory=set)
    _quarantined: dict[str, int] = field(default_factory=dict)

    def dag(self, base: str) -> str:
        """This use case's DAG id of ``base`` (include.config.UseCase.qualify)."""
        return f"{self.usecase}.{base}" if self.usecase else base

    def _say(self, line: str) -> None:
        if self.silenced:
            return
        if self.usecase:  # "   days ingested" -> "   [flights] days ingested"
            body = line.lstrip(" ")
            marker = line[: len(line) - len(body)]
            if body.startswith(("== ", "!! ")):
                marker, body = body[:3], body[3:]
            line = f"{marker}[{self.usecase}] {body}"
        self.console.say(line)

    @property
    def expected_days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def resume_summary(self) -> None:
        """On a restart: what is already there, so the reader knows where it continues."""
        self.poll(quiet=True)
        parts = [
            f"{feed} {c.get('success', 0)}/{self.expected_days} days"
            for feed, c in self.ingest.items()
        ]
        self._say(f"   already ingested: {', '.join(parts) or 'nothing yet'}")
        if self.champion:
            self._say(f"   champion: {self._describe(self.champion)}")
        if self.deployed:
            where = f"{self.model_name} v{self.deployed} at {self.serving_url}"
            self._say(f"   serving: {where}")

    def poll(self, *, quiet: bool = False) -> None:
        try:
            self._poll_ingest(quiet)
            self._poll_materialize(quiet)
            self._poll_training(quiet)
            self._poll_deploy(quiet)
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            if not quiet:
                self._say(f"   (progress not readable right now: {exc})")

    # ---------------------------------------------------------------------------- ingest
    def _poll_ingest(self, quiet: bool) -> None:
        for role in ROLES:
            feed = self.feeds.get(role, role)
            dag_id = self.dag(f"ingest_{feed}")
            runs = [
                r
                for r in self.api.dag_runs(dag_id)
                if r.get("logical_date")
                and self.first_day <= date.fromisoformat(r["logical_date"][:10]) <= self.last_day
            ]
            success = sum(r["state"] == "success" for r in runs)
            failed_runs = [r for r in runs if r["state"] == "failed"]
            for r in failed_runs:
                if r["dag_run_id"] in self._quarantine_checked:
                    continue
                self._quarantine_checked.add(r["dag_run_id"])
                state = self.api.task_state(dag_id, r["dag_run_id"], "quarantine_batch")
                if state == "failed":
                    self._quarantined[feed] = self._quarantined.get(feed, 0) + 1
                if not quiet:
                    what = "quarantined (see the alert mail)" if state == "failed" else "failed"
                    self._say(f"!! {feed} {r['logical_date'][:10]} {what}")
            now = {"success": success, "failed": len(failed_runs), "runs": len(runs)}
            before = self.ingest.get(feed, {})
            changed = (success, len(failed_runs)) != (before.get("success"), before.get("failed"))
            if changed and not quiet and success:
                extra = ""
                if failed_runs:
                    quarantined = self._quarantined.get(feed, 0)
                    extra = f" ({quarantined} quarantined, {len(failed_runs)} failed)"
                self._say(f"   days ingested, {feed}: {success}/{self.expected_days}{extra}")
            self.ingest[feed] = now

    def all_ingested(self) -> bool:
        return all(
            c.get("success", 0) + c.get("failed", 0) >= self.expected_days
            for c in self.ingest.values()
        ) and len(self.ingest) == len(ROLES)

    # ----------------------------------------------------------------------- features
    def _poll_materialize(self, quiet: bool) -> None:
        runs = self.api.dag_runs(self.dag("materialize_features"))
        ok = sum(r["state"] == "success" for r in runs)
        if ok != self.materialized and not quiet:
            if self.materialized == 0:
                self._say("   features materialized (Feast offline tables + online store)")
            else:
                self._say(f"   features materialized again ({ok} runs)")
        self.materialized = ok

    # ----------------------------------------------------------------------- training
    def _poll_training(self, quiet: bool) -> None:
        for r in self.api.dag_runs(self.dag("train_model")):
            run_id, state = r["dag_run_id"], r["state"]
            before = self.train_runs.get(run_id)
            if before == state:
                continue
            self.train_runs[run_id] = state
            if quiet:
                continue
            if state == "running" and before is None:
                self._say(f"   training started ({run_id})")
            elif state in ("success", "failed"):
                if before is None:
                    self._say(f"   training started ({run_id})")
                self._report_outcome(run_id, state)
        self._poll_registry(quiet)

    def _report_outcome(self, run_id: str, state: str) -> None:
        if state == "failed":
            self._say(f"!! training {run_id} failed: see its log in the Airflow UI")
            return
        dag = self.dag("train_model")
        for task_id in ("build_training_set", "train_candidates"):
            if self.api.task_state(dag, run_id, task_id) == "skipped":
                self._say(f"   training skipped: {self._skip_reason(dag, run_id, task_id)}")
                return

    def _skip_reason(self, dag: str, run_id: str, task_id: str) -> str:
        """The skipped task's own reason (its ``skipped_because`` XCom)."""
        try:
            entry = self.api.get(
                f"/api/v2/dags/{dag}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
                f"{task_id}/xcomEntries/skipped_because"
            )
            return str(entry["value"])
        except Exception:  # noqa: BLE001 - progress lines must never stop make run
            return f"see {task_id}'s log in the Airflow UI"

    def _poll_registry(self, quiet: bool) -> None:
        versions = self._versions()
        for v in sorted(versions, key=lambda v: int(v["version"])):
            decided = v["tags"].get("gate.decision")
            if not decided or v["version"] in self.versions_seen:
                continue
            self.versions_seen.add(v["version"])
            if decided == "promoted":  # search results carry no aliases: the tag tells
                self.champion = v
            if quiet:
                continue
            if decided == "promoted":
                self._say(f"   champion registered: {self._describe(v)}")
                if self.first_champion_s is None:
                    self.first_champion_s = self.console.elapsed()
                    s = int(self.first_champion_s)
                    self._say(
                        f"== first champion after {s // 60} min {s % 60:02d} s: {self._describe(v)}"
                    )
            elif decided == "awaiting_approval":  # the gate passed; a person decides
                why = v["tags"].get("approval.required_because", "model.approval")
                self._say(
                    f"   {self.model_name} v{v['version']} awaits approval ({why}): "
                    "Airflow UI, Required actions"
                )
            else:
                reason = v["tags"].get("gate.reason", "no reason recorded")
                self._say(f"   {self.model_name} v{v['version']} {decided}: {reason}")
        champions = [v for v in versions if "champion" in v["aliases"]]
        if champions:
            self.champion = champions[0]

    # ----------------------------------------------------------------------- serving
    def _poll_deploy(self, quiet: bool) -> None:
        for r in self.api.dag_runs(self.dag("deploy_model")):
            run_id, state = r["dag_run_id"], r["state"]
            before = self.deploy_runs.get(run_id)
            if before == state:
                continue
            self.deploy_runs[run_id] = state
            if quiet:
                continue
            if state == "running" and before is None:
                self._say(f"   deployment started ({run_id}): Bento, checks, switch")
            elif state == "failed":
                self._say(
                    f"!! deployment {run_id} failed: the previous version keeps serving; "
                    "see the alert mail and the run's log"
                )
        version = self._serving_version()
        if version and version != self.deployed:
            self.deployed = version
            if quiet:
                return
            self._say(f"   {self.model_name} v{version} serves {self.serving_url}")
            if self.first_deployed_s is None:
                self.first_deployed_s = self.console.elapsed()
                s = int(self.first_deployed_s)
                self._say(
                    f"== first cycle complete after {s // 60} min {s % 60:02d} s: "
                    f"v{version} deployed at {self.serving_url} (see the README's curl line)"
                )

    def _serving_version(self) -> str | None:
        if not self.serving_url:
            return None
        import json
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.serving_url}/status", timeout=3) as resp:
                model = json.load(resp).get("model") or {}
        except (urllib.error.URLError, OSError, ValueError):
            return None
        version = model.get("version") if isinstance(model, dict) else None
        return None if version is None else str(version)

    def _describe(self, v: dict[str, Any]) -> str:
        metric = v["tags"].get(f"gate.{self.primary_metric}")
        value = f", {self.primary_metric} {float(metric):.3f}" if metric else ""
        return f"{self.model_name} v{v['version']}{value}"

    def _versions(self) -> list[dict[str, Any]]:
        if not self.train_runs:
            return []
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            found = MlflowClient(self.tracking_uri).search_model_versions(
                f"name = '{self.model_name}'"
            )
        except MlflowException:
            return []
        return [
            {"version": str(mv.version), "tags": dict(mv.tags), "aliases": list(mv.aliases)}
            for mv in found
        ]

    def snapshot(self) -> dict[str, Any]:
        return {
            "ingest": self.ingest,
            "expected_days": self.expected_days,
            "quarantined": self._quarantined,
            "materialized_runs": self.materialized,
            "train_runs": self.train_runs,
            "champion": self.champion and {"version": self.champion["version"]},
            # Versions the gate judged (promoted, rejected or awaiting approval).
            "versions_judged": len(self.versions_seen),
            "first_champion_s": self.first_champion_s,
            "deployed": self.deployed,
            "first_deployed_s": self.first_deployed_s,
        }


class ProgressPoller:
    """:meth:`Progress.poll` every ``every_s`` on a thread of its own, so that the watchdog's
    loop never waits on it: a poll makes several calls (Airflow's API, MLflow with its
    retries, the service), each with a timeout of seconds to tens of seconds, and a watchdog
    pass that waited on them had delayed the restart of a dead component (fault B2)."""

    def __init__(self, progress: Progress | list[Progress], every_s: float = 5.0) -> None:
        import threading

        self.progresses = progress if isinstance(progress, list) else [progress]
        self.progress = self.progresses[0]
        self.every_s = every_s
        self._lock = threading.Lock()
        self._snapshot: dict[str, Any] | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def start(self) -> None:
        if self._thread.ident is None:  # once; later calls are no-ops
            self._thread.start()

    def stop(self) -> None:
        """No more polls, and none under way says anything (the platform is stopping)."""
        self._stopped.set()
        for progress in self.progresses:
            progress.silenced = True

    def snapshot(self) -> dict[str, Any] | None:
        with self._lock:
            return self._snapshot

    def _loop(self) -> None:
        while not self._stopped.is_set():  # a daemon thread: it ends with the supervisor
            try:
                for progress in self.progresses:
                    progress.poll()
                snap = self.progress.snapshot()
                if self.progress.usecase:  # listed use cases: each; the first's at the top
                    snap["usecases"] = {p.usecase: p.snapshot() for p in self.progresses}
            except Exception as exc:  # noqa: BLE001 - progress is a view; it never stops a run
                if not self._stopped.is_set():
                    self.progress.console.say(f"   (progress not readable right now: {exc!r})")
                snap = None
            if snap is not None:
                with self._lock:
                    self._snapshot = snap
            self._stopped.wait(self.every_s)
