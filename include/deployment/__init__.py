"""Deployment: take a registered model version to the stable serving address, checked.

The stages of ``dags/deploy_model.py``, Airflow-free:

* :mod:`.package` — the version from the registry into BentoML's model store, and its
  Bento (``serving.bento``): one per version, tagged with it, pinned dependencies;
* :mod:`.candidate` — the built Bento served on a private port, with capture off and a
  throw-away token: what the checks talk to before any client traffic reaches the version;
* :mod:`.checks` — golden requests (expected scores from Feast + the registry's model,
  the reference path), the bad-input catalogue (faults D1–D5, E4) and the latency budget;
* :mod:`.switch` — the deployment pointer, the stable service loading the version beside
  the old one and swapping atomically (no restart, no lost request), the watch of its own
  metrics and the automatic rollback;
* :mod:`.history` — every deployment recorded: the registry's ``production`` alias and
  ``deploy.*`` tags, one JSON record per deployment in the lake;
* :mod:`.alerts` — the one mail of a failed deployment: what failed, what serves, how to
  retry or roll back.

Why one process that swaps versions rather than two servers behind a proxy: the stable
address never changes and never closes a connection (keep-alive clients included), the
old version keeps answering until the new one is loaded and self-checked, and a rollback
is the same swap; the embedded setup needs no proxy process. What a swap can not change is
the service *code*: a new ``serving/`` needs a restart of the serving process (or, where
there is an orchestrator, a rolling update of the per-version Bento image).
"""
