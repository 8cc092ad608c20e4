"""Benchmark harness: measures the project's costs next to their floors, in one run.

``python -m bench`` (or ``make bench``) prints every figure with its target from
``performance-anchors.md`` and writes the summary to ``bench/results/latest.json``.
It measures and reports; it never decides pass or fail. See ``bench/README.md``.
"""
