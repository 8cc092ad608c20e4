"""airflow-mlops stage logic: plain, typed Python that knows nothing of Airflow.

One sub-package per lifecycle stage (data, quality, notify, …). The only Airflow-aware
code lives in ``include.orchestration`` (assets, alert callbacks, default args).
"""
