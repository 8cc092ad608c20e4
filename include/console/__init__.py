"""The operator console: Airflow-authenticated pages over the platform's evidence (reports,
quarantine, deployment records, inventory, lineage). Registered by plugins/mlops_console.py."""
