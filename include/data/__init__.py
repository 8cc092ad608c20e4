"""Data stage: the transaction simulator, landed-batch reading and the lake layout."""
