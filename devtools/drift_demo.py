"""Inject drift into the running ``make run`` platform (``make inject-drift``).

Re-lands the last ``--days`` days of both feeds from the simulator with drift from the
first of them (``--covariate``, ``--concept``), and asks Airflow to ingest each of them
again (``ingest_transactions`` / ``ingest_labels`` with ``batch_date``, through the REST
API with the platform's login). A re-delivered day replaces its partition; the rest follows
the Assets: features, scores, the scheduled retrain. Then trigger ``monitor_drift`` (by
hand or nightly) to see the report, the alert, the retrain and the redeployment.

    make inject-drift                      # covariate 0.8 + concept 0.9 over the last 10 days,
                                           # built up over their first 3
    make inject-drift DRIFT_ARGS="--days 6 --covariate 0.5 --concept 0"
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=10, help="days to re-land (default 10)")
    parser.add_argument("--covariate", type=float, default=0.8, help="0..1 (default 0.8)")
    parser.add_argument("--concept", type=float, default=0.9, help="0..1 (default 0.9)")
    parser.add_argument(
        "--ramp-days",
        type=int,
        default=3,
        help="days over which the drift builds up (default 3; 0 = a step, which the feed's "
        "history checks quarantine as a batch-level change)",
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="rows per day (default: MLOPS_BOOTSTRAP_ROWS)"
    )
    parser.add_argument("--no-trigger", action="store_true", help="land only; ingest yourself")
    args = parser.parse_args(argv)

    from devtools.simulator import Drift, land
    from include.config import get_settings
    from include.data import lake
    from include.spec import load_spec

    spec, settings = load_spec(), get_settings()
    published = lake.partitions(settings.lake_uri, spec.names.events_feed)
    if not published:
        print(
            "nothing ingested yet: start `make run` and wait for its first cycle", file=sys.stderr
        )
        return 2
    last = date.today() - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    rows = args.rows or int(os.environ.get("MLOPS_BOOTSTRAP_ROWS") or 0) or None
    drift = Drift(
        covariate=args.covariate, concept=args.concept, start=first, ramp_days=args.ramp_days
    )
    days = [first + timedelta(days=i) for i in range(args.days)]
    for day in days:
        for feed in ("transactions", "labels"):
            land(spec, feed, day, rows=rows, drift=drift, since=published[0])
    print(
        f"landed {args.days} day(s) {first}..{last} with covariate {args.covariate}, "
        f"concept {args.concept} (from {first}, built up over {args.ramp_days} day(s))"
    )
    if args.no_trigger:
        return 0
    api = _api()
    from include.config import current_usecase

    uc = current_usecase()  # with several use cases (MLOPS_USECASE picks one): its DAG ids
    for day in days:
        for dag_id in (uc.qualify("ingest_transactions"), uc.qualify("ingest_labels")):
            run = api.post(
                f"/api/v2/dags/{dag_id}/dagRuns",
                {
                    "dag_run_id": f"drift_demo__{day}__{int(time.time())}",
                    "logical_date": None,
                    "conf": {"batch_date": day.isoformat()},
                },
            )
            print(f"  {dag_id} {day}: {run.get('dag_run_id')} {run.get('state')}")
    print(
        "next: the ingest runs re-publish the days, features and scores follow (Assets);\n"
        f"then trigger {uc.qualify('monitor_drift')} with start={first} end={last} (or wait "
        "for the night),\n"
        "and watch: the report (lake/reports/drift/), the mail, train_model, deploy_model."
    )
    return 0


def _api():  # noqa: ANN202 (scripts' client, imported lazily)
    from scripts.embedded.airflow_api import AirflowApi

    home = Path(os.environ.get("AIRFLOW_HOME", "data/airflow"))
    user = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "mlops:admin").split(":")[0]
    port = os.environ.get("MLOPS_UI_PORT", "8080")
    return AirflowApi(
        f"http://127.0.0.1:{port}", user, home / "simple_auth_manager_passwords.json.generated"
    )


if __name__ == "__main__":
    sys.exit(main())
