"""Feast definitions of the fraud use case: what training and serving may ask for.

Definitions only (``feast apply`` imports every ``.py`` here). Names, windows, the TTL and the
entity join keys come from the use-case spec (``features:``), column lists from
``include.features.schema`` — the same lists the feature computation writes, so table and
schema can not drift apart.
"""

from datetime import timedelta

import pandas as pd
from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    Project,
    RequestSource,
    ValueType,
)
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, UnixTimestamp

from include.config import get_settings
from include.features import schema
from include.spec import load_spec

_SPEC = schema.feature_spec(load_spec(get_settings().usecase_spec))
_DTYPES = {"int": Int64, "float": Float64, "timestamp": UnixTimestamp}
_TTL = timedelta(days=_SPEC.ttl_days)


def _fields(columns: dict[str, str]) -> list[Field]:
    return [Field(name=name, dtype=_DTYPES[kind]) for name, kind in columns.items()]


# Why a Project object: the registry may hold several projects; this names ours (spec).
project = Project(name=_SPEC.project, description="Card-transaction fraud detection features")

# Why customer: behaviour of the card holder (velocity, usual amounts) is the strongest
# fraud signal; INT64 keys match the validated join key column (features.entities).
customer = Entity(
    name=schema.CUSTOMER_ENTITY,
    join_keys=[_SPEC.customer_key],
    value_type=ValueType.INT64,
    description="Card holder",
)

# Why merchant: fraud concentrates at some merchants; their history is shared by customers.
merchant = Entity(
    name=schema.MERCHANT_ENTITY,
    join_keys=[_SPEC.merchant_key],
    value_type=ValueType.INT64,
    description="Merchant accepting the card",
)

# Why relative paths: they resolve against the store's repo_path (the data root), so the
# registry works for any data root, and retrieval can point them at a pruned set of
# partitions (include/features/store.py). Written by include/features/tables.py.
customer_source = FileSource(
    name="customer_transaction_stats_source",
    path=schema.source_path(schema.CUSTOMER_VIEW),
    timestamp_field=schema.TIMESTAMP,
    description="Per transaction t: customer history before t (stamped t) and up to t (t+1µs)",
)

# Why daily merchant rows: per-transaction rows make the file store's join explode (see
# include/features/compute.py); merchant rates change slowly and labels arrive daily anyway.
merchant_source = FileSource(
    name="merchant_daily_stats_source",
    path=schema.source_path(schema.MERCHANT_VIEW),
    timestamp_field=schema.TIMESTAMP,
    description="Per merchant: end-of-day rows plus a row at its first transaction of a day",
)

# Why these windows: short windows catch bursts on a compromised card, 30 days is "normal".
customer_transaction_stats = FeatureView(
    name=schema.CUSTOMER_VIEW,
    entities=[customer],
    ttl=_TTL,
    online=True,
    source=customer_source,
    schema=_fields(schema.customer_features(_SPEC)),
    description="Rolling customer behaviour over the spec's windows, strictly before each stamp",
)

# Why matured labels only: a fraud rate must use labels known at t (label_timestamp < t).
merchant_daily_stats = FeatureView(
    name=schema.MERCHANT_VIEW,
    entities=[merchant],
    ttl=_TTL,
    online=True,
    source=merchant_source,
    schema=_fields(schema.merchant_features(_SPEC)),
    description="Merchant volume and fraud rate from labels that had arrived by the stamp",
)

# Why a request source: the amount and time of the transaction being scored exist only in
# the request (in training: the entity dataframe's columns of the same names).
transaction_request = RequestSource(
    name="transaction_request",
    schema=[
        Field(name=schema.AMOUNT, dtype=Float64),
        Field(name=schema.TIMESTAMP, dtype=UnixTimestamp),
    ],
)


# Why on demand: "amount vs the customer's usual" and "hour of day" need the request, so they
# are computed at request time. Why delegate: the serving path computes them without Feast, so
# the one definition lives in include/features/request_time.py, used by both. Feast stores
# the function (dill) and its source and runs it elsewhere, so the body imports what it needs.
@on_demand_feature_view(
    sources=[customer_transaction_stats, transaction_request],
    schema=_fields(schema.request_features(_SPEC)),
    mode="pandas",
)
def transaction_request_stats(inputs: pd.DataFrame) -> pd.DataFrame:
    from include.features.request_time import request_stats_frame

    return request_stats_frame(inputs)


# Why versioned: training and serving both ask for this service by name; a changed feature
# set becomes fraud_detection_v2, so a model never meets features it was not trained on.
fraud_detection_v1 = FeatureService(
    name=_SPEC.feature_service,
    features=[customer_transaction_stats, merchant_daily_stats, transaction_request_stats],
    description="Every feature the fraud model uses, for training and online scoring",
)
