"""Pseudonymised PII: the keyed hash, its key, and masking of what people read.

A spec marks personal columns ``pii: true``. Ingest replaces their values with
HMAC-SHA-256 pseudonyms (``include.privacy.pseudonym``) before anything reaches the lake;
joins, features, training, serving and monitoring only ever see pseudonyms, and the
scoring service hashes a request's ids with the same key. Raw values stay in the landing
zone and in quarantine evidence (admins only, deleted after ``privacy.retention_days``).
"""
