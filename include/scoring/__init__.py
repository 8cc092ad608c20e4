"""Batch scoring: each day's validated transactions scored by the champion's exact version.

* :mod:`include.scoring.days` — the days a run scores (events, a range, named days);
* :mod:`include.scoring.model` — the version it scores with (exact, with its threshold);
* :mod:`include.scoring.decision` — the rules on frames (feature coverage, decisions);
* :mod:`include.scoring.batch` — one partition: lake → point-in-time features → pyfunc →
  ``<lake>/predictions/date=<D>/data.parquet``, replaced whole;
* :mod:`include.scoring.errors` — the named failures.

Nothing is imported here: ``from include.scoring import batch`` costs what ``batch`` costs.
"""
