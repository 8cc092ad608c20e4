"""The only Airflow-aware part of ``include``: Assets, alert callbacks, DAG building blocks.

Kept light: importing it must not pull pandas, GX or any ML library, because DAG files
import it and DAG files are parsed constantly.
"""
