"""Monitoring of production against the champion's reference (the ``monitor_drift`` DAG).

    window.py     the current window: scored transactions, captured requests, matured labels
                  (and the newest window whose labels matured), days missing or quarantined
                  (input checks: a malformed window fails loudly)
    reference.py  the champion's reference: its training set and its holdout, scored by it
    warmup.py     warm-up per feature: the rows each feature's window has filled for
    reports.py    the Evidently 0.7 reports (data drift, prediction drift, skew, quality)
                  and the numbers read back from them
    policy.py     the spec's ``monitoring`` policy: verdicts, decision, dedup key (pure)
    state.py      what persists between runs: the last breach (cooldown), the history
    outputs.py    report files, summary JSON, history row, Evidently workspace snapshots
    alerts.py     the mails (drift/quality breach, skew, data quality, staleness)

Airflow-free; ``include.steps.monitor_drift`` strings it together for the DAG.
"""
