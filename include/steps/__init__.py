"""The steps of each DAG, one module per DAG: what its tasks call.

``ingest`` (``ingest_transactions`` and ``ingest_labels``), ``materialize_features``,
``train_model``. A step takes references (dates, run ids, URIs), calls the stage packages
(data → quality → features → modeling → training → registry) and returns a small JSON-able
result. This is the only layer that crosses stages; the stage packages never import it or
each other upward.
"""
