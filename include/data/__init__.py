"""Data stage: reading landed batches, and the lake's partitions (atomic, idempotent writes)."""
