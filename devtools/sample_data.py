"""A labelled training frame from the simulator, for tests, benchmarks and local demos.

Not the production feature set (that comes from the Feast feature service): a handful of
per-row features plus two that look back at the same customer's earlier rows in the frame
(never later ones), enough for the candidates to learn the simulator's fraud pattern
(bursts, online, abroad, at night, at risky merchants, several times the usual amount). A
customer's first row has no history: those two features are NaN (missing), as they would
be for a new customer in production.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from include.spec import UseCaseSpec

FEATURES = (
    "log_amount",
    "amount_vs_customer",
    "log_seconds_since_prev",
    "is_online",
    "is_atm",
    "is_foreign",
    "hour",
    "is_night",
    "risky_category",
)
# A merchant country's currency, to tell purchases abroad from purchases at home.
_CURRENCY = {"GB": "GBP", "US": "USD"}
_RISKY = ("electronics", "gaming", "travel", "fashion")


def features_of(transactions: pd.DataFrame) -> pd.DataFrame:
    """:data:`FEATURES` (float64) for each row of a transactions frame (same index)."""
    tx = transactions
    hour = tx["event_timestamp"].dt.hour
    country_currency = tx["country"].map(lambda c: _CURRENCY.get(c, "EUR"), na_action="ignore")
    log_amount = np.log1p(tx["amount"].astype(float))
    # History features: rows in event order within each customer, shifted so a row only
    # sees the customer's earlier rows.
    order = tx.sort_values(["customer_id", "event_timestamp"], kind="stable").index
    by_customer = tx.loc[order, "customer_id"]
    seen = by_customer.groupby(by_customer).cumcount()
    prior_sum = log_amount.loc[order].groupby(by_customer).cumsum() - log_amount.loc[order]
    prior_mean = (prior_sum / seen).where(seen > 0)
    gap = tx.loc[order, "event_timestamp"].groupby(by_customer).diff().dt.total_seconds()
    out = pd.DataFrame(
        {
            "log_amount": log_amount,
            "amount_vs_customer": (log_amount.loc[order] - prior_mean).reindex(tx.index),
            "log_seconds_since_prev": np.log1p(gap.clip(lower=0)).reindex(tx.index),
            "is_online": tx["channel"].eq("online"),
            "is_atm": tx["channel"].eq("atm"),
            "is_foreign": country_currency.ne(tx["currency"]) & tx["country"].notna(),
            "hour": hour,
            "is_night": hour < 6,
            "risky_category": tx["merchant_category"].isin(_RISKY),
        }
    )
    return out.astype("float64")


def training_frame(
    spec: UseCaseSpec, start: dt.date, days: int, *, rows_per_day: int | None = None
) -> pd.DataFrame:
    """``days`` simulated days from ``start`` in the training-frame interface: key, UTC
    event time, :data:`FEATURES`, the target and the sensitive attribute."""
    from devtools.simulator import simulate_day

    batches = [
        simulate_day(spec, start + dt.timedelta(days=i), rows=rows_per_day) for i in range(days)
    ]
    tx = pd.concat([b.transactions for b in batches], ignore_index=True)
    fraud = np.concatenate([b.fraud for b in batches]).astype(np.int64)
    return pd.concat(
        [
            tx[["transaction_id", "event_timestamp"]],
            features_of(tx),
            pd.DataFrame({"is_fraud": fraud}),
            tx[["customer_age_band"]],
        ],
        axis=1,
    )
