"""Which worker ran a task: Airflow's ``[core] hostname_callable`` of the production profile.

A task instance records the ``hostname`` of the process that ran it. Several Celery workers on
one machine (the production profile) share a host name, so each gets ``MLOPS_WORKER_NAME`` and
its tasks record ``<host>/<worker name>``; without it this is Airflow's default (the FQDN), as
in compose, where each worker is a container with a host name of its own.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    name = os.environ.get("MLOPS_WORKER_NAME", "").strip()
    host = socket.getfqdn()
    return f"{host}/{name}" if name else host
