"""Seeded card-transaction simulator: daily batches, delayed labels, drift and faults on demand.

Inputs: the use-case spec (``simulator``: seed, population sizes, vocabularies, fraud rate;
``labels``: chargeback delay and maturity; ``feeds``: column order), a day, and optionally a
row count, a :class:`Drift` and a fault name from :data:`devtools.faults.FAULTS`.
Outputs: frames (:func:`simulate_day`, :func:`simulate_transactions`, :func:`simulate_labels`)
and CSV files under ``<landing>/<feed>/<YYYY-MM-DD>/<feed>-<YYYY-MM-DD>.csv`` (:func:`land`).

Every output is a pure function of (spec, day, rows, drift): random streams are seeded from
(spec seed, day ordinal, stream name). The population (customers with a home country,
currency, age band, spending level, channel mix, activity and travel habits; merchants with
a category, country and risk level) depends on the spec only, so it is the same every day.

Fraud comes from compromised cards: bursts of a few transactions on one customer, mostly
online, abroad, at night, at risky merchants, for several times the customer's usual amount.
Concept drift swaps that for small daytime in-person grocery/pharmacy purchases at home, and
makes genuine customers look like the old pattern; covariate drift raises amounts and moves
the channel and country mix. Labels arrive as chargebacks 1-5 days after a fraud, or as a
"genuine" confirmation after the maturity period. CLI: ``python -m devtools.simulator -h``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import re
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from devtools.faults import FAULTS
from include import storage
from include.spec import FeedSpec, UseCaseSpec, load_spec

FEEDS = ("transactions", "labels")
MAX_ROWS = 1 << 24  # transaction ids pack the row index into 24 bits
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
# Relative activity per UTC hour: quiet nights, a lunch bump and an evening peak.
# fmt: off
_HOUR_WEIGHTS = np.array([0.8, 0.5, 0.3, 0.25, 0.3, 0.6, 1.5, 3, 4.5, 5, 5.5, 6,
                          6.5, 6, 5.5, 5.5, 6, 6.5, 7, 6.5, 5.5, 4, 2.8, 1.6])
# fmt: on
_HOUR_P = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()
_NIGHT_HOURS = 6  # 00:00-05:59 UTC
_LATE_SHARE = 0.005  # natural late rows: last 6 h of the previous day, inside allowed lateness
_NATURAL_NULLS = 0.002
# Names the fraud pattern relies on; other vocabularies fall back to positions (see _Params).
_CURRENCY_OF = {"GB": "GBP", "US": "USD", "CH": "CHF", "PL": "PLN", "SE": "SEK", "JP": "JPY"}
_RISKY = ("electronics", "gaming", "travel", "fashion")
_SAFE = ("grocery", "pharmacy")
_PRICE = {
    "grocery": 0.8,
    "fuel": 1.1,
    "electronics": 3.0,
    "travel": 4.0,
    "restaurants": 0.9,
    "fashion": 1.6,
    "gaming": 0.7,
    "pharmacy": 0.5,
}
_CHANNEL_MIX = {"online": 0.35, "pos": 0.55, "atm": 0.10}
_OWN_FILE = re.compile(r"^(?P<feed>[A-Za-z0-9_]+)-\d{4}-\d{2}-\d{2}\.csv$")


@dataclass(frozen=True)
class Drift:
    """Drift strengths in 0..1, active on days >= ``start`` (every day when ``start`` is None).

    ``covariate``: amounts scale by ``1 + covariate``, the channel mix moves toward online and
    more purchases happen abroad. ``concept``: that share of fraud bursts follows the new
    pattern, and genuine look-alikes of the old pattern appear (``6 % x concept`` of rows).
    """

    covariate: float = 0.0
    concept: float = 0.0
    start: dt.date | None = None
    # Days over which the strengths build up linearly from ``start`` (0: a step). Real drift
    # builds up; a step of the whole batch overnight is what the feed's history checks
    # quarantine as a batch-level change.
    ramp_days: int = 0

    def __post_init__(self) -> None:
        for name in ("covariate", "concept"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Drift.{name} must be within 0..1, got {value}")
        if self.ramp_days < 0:
            raise ValueError(f"Drift.ramp_days must be >= 0, got {self.ramp_days}")

    def strengths(self, day: dt.date) -> tuple[float, float]:
        """(covariate, concept) in force on ``day``."""
        if self.start is not None and day < self.start:
            return 0.0, 0.0
        share = 1.0
        if self.ramp_days > 0 and self.start is not None:
            share = min(1.0, ((day - self.start).days + 1) / self.ramp_days)
        return self.covariate * share, self.concept * share


@dataclass(frozen=True)
class DayBatch:
    """One day's clean transactions and their hidden truth (``fraud[i]`` for row ``i``)."""

    day: dt.date
    transactions: pd.DataFrame
    fraud: np.ndarray


@dataclass(frozen=True)
class _Params:
    seed: int
    rows_per_day: int
    customers: int
    merchants: int
    fraud_rate: float
    currencies: tuple[str, ...]
    channels: tuple[str, ...]
    categories: tuple[str, ...]
    countries: tuple[str, ...]
    age_bands: tuple[str, ...]

    @classmethod
    def of(cls, spec: UseCaseSpec) -> _Params:
        """The spec's ``simulator`` section (checked when the spec was loaded)."""
        sim = spec.simulator
        if sim is None:
            raise ValueError(f"{spec.path}: no simulator section: this spec cannot be simulated")
        return cls(
            seed=sim.seed,
            rows_per_day=sim.rows_per_day,
            customers=sim.customers,
            merchants=sim.merchants,
            fraud_rate=sim.fraud_rate,
            currencies=sim.currencies,
            channels=sim.channels,
            categories=sim.merchant_categories,
            countries=sim.countries,
            age_bands=sim.age_bands,
        )

    def channel(self, name: str, fallback: int) -> int:
        return self.channels.index(name) if name in self.channels else fallback


def _rng(seed: int, day: dt.date | None, stream: str) -> np.random.Generator:
    """Independent stream per (seed, day, purpose): adding a draw to one never shifts another."""
    ordinal = day.toordinal() if day is not None else 0
    return np.random.default_rng(
        np.random.SeedSequence([seed, ordinal, zlib.crc32(stream.encode())])
    )


@dataclass(frozen=True, eq=False)
class Population:
    """Customers and merchants (ids are ``index + 1``); arrays hold vocabulary indices."""

    params: _Params
    customer_country: np.ndarray
    customer_currency: np.ndarray  # str, tied to the home country
    customer_age_band: np.ndarray
    customer_log_mu: np.ndarray  # log of the customer's typical amount
    customer_log_sigma: np.ndarray
    customer_channel_p: np.ndarray  # (customers, channels)
    customer_activity_p: np.ndarray
    customer_travel_p: np.ndarray
    merchant_category: np.ndarray
    merchant_country: np.ndarray
    merchant_risk: np.ndarray  # 0 low, 1 medium, 2 high
    merchant_weights: dict[str, np.ndarray]  # popularity per use: genuine, old_fraud, new_fraud

    def pick_merchants(self, country: np.ndarray, u: np.ndarray, use: str) -> np.ndarray:
        """Merchant per row in ``country``, drawn by ``use`` weights from uniforms ``u``."""
        order, lo, hi, cum = self._tables[use]
        start = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
        target = start[country] + u * (cum[hi - 1] - start)[country]
        pos = np.searchsorted(cum, target, side="right")
        return order[np.clip(pos, lo[country], hi[country] - 1)]

    @functools.cached_property
    def _tables(self) -> dict[str, tuple[np.ndarray, ...]]:
        # Merchants sorted by country; one cumulative weight per use, so a row's merchant is a
        # single searchsorted inside its country's slice (vectorized over all rows).
        order = np.argsort(self.merchant_country, kind="stable")
        k = len(self.params.countries)
        counts = np.bincount(self.merchant_country, minlength=k)
        hi = np.cumsum(counts)
        lo = hi - counts
        return {
            use: (order, lo, hi, np.cumsum(w[order])) for use, w in self.merchant_weights.items()
        }


def population(spec: UseCaseSpec) -> Population:
    """The spec's customers and merchants; identical for every day (cached per spec values)."""
    return _population(_Params.of(spec))


@functools.lru_cache(maxsize=8)
def _population(p: _Params) -> Population:
    rng = _rng(p.seed, None, "population")
    n, m, k = p.customers, p.merchants, len(p.countries)
    # Zipf-like country sizes: a few big home markets, a tail of small ones.
    country_p = 1.0 / np.sqrt(np.arange(1, k + 1))
    country_p /= country_p.sum()
    home = rng.choice(k, size=n, p=country_p)
    fallback = "EUR" if "EUR" in p.currencies else p.currencies[0]
    currency_of = np.array(
        [
            _CURRENCY_OF.get(c, fallback) if _CURRENCY_OF.get(c) in p.currencies else fallback
            for c in p.countries
        ],
        dtype=object,
    )
    bands = len(p.age_bands)
    # Middle age bands are the largest, the youngest and oldest the smallest.
    age = rng.choice(bands, size=n, p=_normalise(1.0 + 2.0 * np.hanning(bands + 2)[1:-1]))
    # Younger customers buy online more: channel preference shifts with the age band.
    base = np.array([_CHANNEL_MIX.get(c, 0.1) for c in p.channels])
    online = p.channel("online", 0)
    youth = 1.0 - age / max(bands - 1, 1)  # 1 for the youngest band, 0 for the oldest
    alpha = np.tile(base * 20.0, (n, 1))
    alpha[:, online] *= 0.6 + 0.8 * youth
    channel_p = _dirichlet(rng, alpha)

    cats = len(p.categories)
    category = rng.choice(cats, size=m, p=rng.dirichlet(np.full(cats, 5.0)))
    merchant_country = np.concatenate([np.arange(k), rng.choice(k, size=m - k, p=country_p)])
    risky = (
        np.isin(np.array(p.categories), _RISKY)
        if set(_RISKY) & set(p.categories)
        else (np.arange(cats) >= cats // 2)
    )
    safe = (
        np.isin(np.array(p.categories), _SAFE)
        if set(_SAFE) & set(p.categories)
        else (np.arange(cats) < max(1, cats // 4))
    )
    risk_u = rng.random(m)
    risk = np.where(
        risky[category], np.digitize(risk_u, [0.3, 0.7]), np.digitize(risk_u, [0.7, 0.95])
    )
    popularity = rng.lognormal(0.0, 0.8, size=m)
    weights = {
        "genuine": popularity,
        "old_fraud": popularity
        * np.array([1.0, 4.0, 16.0])[risk]
        * np.where(risky[category], 3, 1),
        "new_fraud": popularity
        * np.where(safe[category], 20.0, 0.05)
        * np.where(risk == 0, 1, 0.5),
    }
    pop = Population(
        params=p,
        customer_country=home,
        customer_currency=currency_of[home],
        customer_age_band=age,
        customer_log_mu=rng.normal(np.log(35.0), 0.5, size=n),
        customer_log_sigma=rng.uniform(0.35, 0.8, size=n),
        customer_channel_p=channel_p,
        customer_activity_p=_normalise(rng.gamma(2.0, 1.0, size=n)),
        customer_travel_p=rng.beta(1.0, 30.0, size=n),
        merchant_category=category,
        merchant_country=merchant_country,
        merchant_risk=risk,
        merchant_weights=weights,
    )
    # The population is cached and shared by every call: freeze it against accidental edits.
    for value in [*vars(pop).values(), *weights.values()]:
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return pop


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


def _dirichlet(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """Row-wise Dirichlet draws (gamma trick), vectorized over customers."""
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)


def _abroad(home: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A country other than ``home`` (uniformly), or home itself in a one-country world."""
    if k == 1:
        return home.copy()
    return (home + 1 + rng.integers(0, k - 1, size=len(home))) % k


def _categorical(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of the row-stochastic matrix ``p``."""
    return (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)


def _genuine(pop: Population, n: int, rng: np.random.Generator, cov: float, con: float) -> dict:
    p = pop.params
    k = len(p.countries)
    online = p.channel("online", 0)
    cust = rng.choice(p.customers, size=n, p=pop.customer_activity_p)
    chan_p = pop.customer_channel_p[cust] * (1.0 - 0.5 * cov)
    chan_p[:, online] += 0.5 * cov
    channel = _categorical(chan_p, rng)
    home = pop.customer_country[cust]
    away = rng.random(n) < np.minimum(pop.customer_travel_p[cust] + 0.2 * cov, 1.0)
    country = np.where(away, _abroad(home, k, rng), home)
    merchant = pop.pick_merchants(country, rng.random(n), "genuine")
    ms = rng.choice(24, size=n, p=_HOUR_P) * _HOUR_MS + rng.integers(0, _HOUR_MS, size=n)
    late = rng.random(n) < _LATE_SHARE
    ms[late] = -rng.integers(1, 6 * _HOUR_MS, size=int(late.sum()))
    price = np.array([_PRICE.get(c, 1.0) for c in p.categories])[pop.merchant_category[merchant]]
    amount = np.exp(rng.normal(pop.customer_log_mu[cust], pop.customer_log_sigma[cust])) * price
    # Concept drift: genuine purchases that look like the old fraud (a travel season, say),
    # so a model trained on the old pattern loses precision.
    decoy = np.flatnonzero(rng.random(n) < 0.06 * con)
    if len(decoy):
        channel[decoy] = online
        country[decoy] = _abroad(home[decoy], k, rng)
        merchant[decoy] = pop.pick_merchants(country[decoy], rng.random(len(decoy)), "old_fraud")
        ms[decoy] = rng.integers(0, _NIGHT_HOURS * _HOUR_MS, size=len(decoy))
        amount[decoy] = np.exp(
            pop.customer_log_mu[cust[decoy]] + rng.normal(np.log(4), 0.5, len(decoy))
        )
    return {"cust": cust, "merchant": merchant, "channel": channel, "ms": ms, "amount": amount}


def _fraud(pop: Population, n: int, rng: np.random.Generator, con: float) -> dict:
    p = pop.params
    k = len(p.countries)
    online = p.channel("online", 0)
    pos = p.channel("pos", (online + 1) % len(p.channels))
    sizes = 1 + rng.poisson(1.5, size=max(n, 1))  # a compromised card is used a few times
    ends = np.cumsum(sizes)
    bursts = int(np.searchsorted(ends, n)) + 1 if n else 0
    sizes = sizes[:bursts]
    if bursts:
        sizes[-1] -= ends[bursts - 1] - n
    burst = np.repeat(np.arange(bursts), sizes)
    # Older customers are targeted a bit more often (a fairness slice worth watching).
    victim_w = _normalise(1.0 + 0.5 * (pop.customer_age_band == len(p.age_bands) - 1))
    victims = rng.choice(p.customers, size=bursts, replace=bursts > p.customers, p=victim_w)
    cust = victims[burst]
    home = pop.customer_country[cust]
    new = (rng.random(bursts) < con)[burst]

    # Old pattern: online, abroad, night, risky merchant, ~4x the usual amount, minutes apart.
    old_channel = np.where(rng.random(n) < 0.8, online, pos)
    old_country = np.where(rng.random(n) < 0.6, _abroad(home, k, rng), home)
    night = rng.random(bursts) < 0.6
    start = np.where(
        night,
        rng.integers(0, _NIGHT_HOURS * _HOUR_MS, bursts),
        rng.choice(24, size=bursts, p=_HOUR_P) * _HOUR_MS,
    )
    old_gap = rng.exponential(4 * 60_000, size=n)
    old_amount = np.exp(pop.customer_log_mu[cust] + rng.normal(np.log(4.0), 0.5, size=n))
    # New pattern: small in-person grocery/pharmacy buys at home, daytime, spread out.
    new_start = rng.integers(9 * _HOUR_MS, 12 * _HOUR_MS, bursts)
    new_gap = rng.exponential(90 * 60_000, size=n)
    new_amount = np.exp(pop.customer_log_mu[cust] + rng.normal(np.log(0.6), 0.3, size=n))

    gap = np.where(new, new_gap, old_gap)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if bursts else np.zeros(0, int)
    offset = np.cumsum(gap) - np.cumsum(gap)[first][burst] if n else gap
    ms = np.where(new, new_start[burst], start[burst]) + offset
    country = np.where(new, home, old_country)
    u = rng.random(n)
    merchant = np.where(
        new,
        pop.pick_merchants(country, u, "new_fraud"),
        pop.pick_merchants(country, u, "old_fraud"),
    )
    return {
        "cust": cust,
        "merchant": merchant,
        "channel": np.where(new, pos, old_channel),
        "ms": np.minimum(ms.astype(np.int64), _DAY_MS - 1),
        "amount": np.where(new, new_amount, old_amount),
    }


def _transaction_ids(seed: int, day: dt.date, n: int) -> np.ndarray:
    """``tx_`` + 16 hex: a keyed bijective 64-bit mix of (day, row), so ids never collide."""
    key = np.uint64(zlib.crc32(f"tx{seed}".encode()) * 0x9E3779B97F4A7C15 % (1 << 64))
    x = (np.uint64(day.toordinal()) << np.uint64(24)) | np.arange(n, dtype=np.uint64)
    x ^= key
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):  # splitmix64
        x ^= x >> np.uint64(shift)
        x *= np.uint64(mult)
    x ^= x >> np.uint64(31)
    text = x.astype(">u8").tobytes().hex()
    return np.array(["tx_" + text[i : i + 16] for i in range(0, 16 * n, 16)], dtype=object)


def simulate_day(
    spec: UseCaseSpec, day: dt.date, *, rows: int | None = None, drift: Drift | None = None
) -> DayBatch:
    """The clean transactions of ``day`` (spec column order, sorted by event time) + truth."""
    p = _Params.of(spec)
    n = p.rows_per_day if rows is None else int(rows)
    if not 0 <= n <= MAX_ROWS:
        raise ValueError(f"rows must be within 0..{MAX_ROWS}, got {n}")
    pop = _population(p)
    cov, con = (drift or Drift()).strengths(day)
    rng_f = _rng(p.seed, day, "fraud")
    n_fraud = int(rng_f.binomial(n, p.fraud_rate))
    g = _genuine(pop, n - n_fraud, _rng(p.seed, day, "genuine"), cov, con)
    f = _fraud(pop, n_fraud, rng_f, con)
    parts = {name: np.concatenate([g[name], f[name]]) for name in g}
    is_fraud = np.arange(n) >= n - n_fraud
    order = np.argsort(parts["ms"], kind="stable")
    cust, merchant, channel = parts["cust"], parts["merchant"], parts["channel"]
    amount = parts["amount"] * (1.0 + cov)
    atm = channel == p.channel("atm", -1)
    amount[atm] = np.maximum(np.round(amount[atm] / 10.0) * 10.0, 10.0)  # cash comes in tens
    feed = spec.feed("transactions")
    spec_amount = feed.column("amount") if "amount" in feed.column_names else None
    low = spec_amount.min if spec_amount and spec_amount.min is not None else 0.01
    high = spec_amount.max if spec_amount and spec_amount.max is not None else np.inf
    stamps = np.datetime64(day.isoformat(), "ms") + parts["ms"].astype("timedelta64[ms]")
    values = {
        "transaction_id": _transaction_ids(p.seed, day, n),
        "event_timestamp": pd.Series(stamps.astype("datetime64[ns]")).dt.tz_localize("UTC"),
        "customer_id": _customer_ids(feed, cust),
        "merchant_id": merchant.astype(np.int64) + 1,
        "amount": np.clip(np.round(amount, 2), low, high),
        "currency": pop.customer_currency[cust],
        "channel": np.array(p.channels, dtype=object)[channel],
        "merchant_category": np.array(p.categories, dtype=object)[pop.merchant_category[merchant]],
        "country": np.array(p.countries, dtype=object)[pop.merchant_country[merchant]],
        "customer_age_band": np.array(p.age_bands, dtype=object)[pop.customer_age_band[cust]],
    }
    frame = _frame(spec, "transactions", values, order)
    nulls = _rng(p.seed, day, "nulls")
    for col in feed.column_specs:
        if col.nullable:
            share = min(_NATURAL_NULLS, col.max_null_fraction / 10)
            frame.loc[nulls.random(n) < share, col.name] = None
    return DayBatch(day=day, transactions=frame, fraud=is_fraud[order])


def customer_id(index: int) -> str:
    """The card holder's id as the bank's systems write it (a personal identifier: the
    fraud spec marks it pii, so it never reaches the lake raw)."""
    return f"cus_{index + 1:06d}"


def _customer_ids(feed: FeedSpec, cust: np.ndarray) -> np.ndarray:
    """Text ids (``cus_000042``) when the spec says string, else the integers 1..N."""
    if "customer_id" in feed.columns and feed.column("customer_id").dtype == "string":
        return np.array([customer_id(int(c)) for c in cust], dtype=object)
    return cust.astype(np.int64) + 1


def _frame(spec: UseCaseSpec, feed: str, values: dict, order: np.ndarray) -> pd.DataFrame:
    unknown = [c for c in spec.feed(feed).column_names if c not in values]
    if unknown:
        raise ValueError(f"{spec.path}: the simulator cannot generate feeds.{feed} {unknown}")
    columns = {}
    for name in spec.feed(feed).column_names:
        v = values[name]  # a Series keeps its tz-aware dtype, an array is plain
        columns[name] = (
            v.iloc[order].reset_index(drop=True) if isinstance(v, pd.Series) else v[order]
        )
    return pd.DataFrame(columns)


def simulate_transactions(
    spec: UseCaseSpec, day: dt.date, *, rows: int | None = None, drift: Drift | None = None
) -> pd.DataFrame:
    """The transactions feed of ``day`` without the hidden label (see :func:`simulate_day`)."""
    return simulate_day(spec, day, rows=rows, drift=drift).transactions


def label_delays(spec: UseCaseSpec) -> tuple[float, float, float]:
    """(chargeback min days, chargeback max days, maturity days) from ``spec.labels``
    (checked when the spec was loaded: 0 <= min <= max, maturity >= 0)."""
    labels = spec.labels
    return (labels.delay_days.min, labels.delay_days.max, float(labels.maturity_days))


def simulate_labels(
    spec: UseCaseSpec,
    day: dt.date,
    *,
    rows: int | None = None,
    drift: Drift | None = None,
    since: dt.date | None = None,
) -> pd.DataFrame:
    """Labels whose ``label_timestamp`` falls on ``day``, sorted by it.

    A fraud's chargeback arrives uniformly ``min..max`` days after the transaction; a genuine
    transaction is confirmed exactly ``maturity_days`` after it. The source days' transactions
    are regenerated with the same ``rows`` and ``drift`` as they were landed with; ``since``
    skips transactions of batch days before it (e.g. days never landed).
    """
    seed = _Params.of(spec).seed
    cb_min, cb_max, maturity = label_delays(spec)
    first = day - dt.timedelta(days=math.ceil(max(cb_max, maturity)) + 1)
    last = day - dt.timedelta(days=math.floor(min(cb_min, maturity)) - 1)
    parts = []
    d = max(first, since) if since else first
    while d <= last:
        batch = simulate_day(spec, d, rows=rows, drift=drift)
        tx = batch.transactions
        delay_days = _rng(seed, d, "labels").uniform(cb_min, cb_max, size=len(tx))
        delay_ms = np.where(batch.fraud, np.round(delay_days * _DAY_MS), maturity * _DAY_MS)
        labelled = tx["event_timestamp"] + pd.to_timedelta(delay_ms.astype(np.int64), unit="ms")
        keep = (labelled.dt.date == day).to_numpy()
        values = {
            "transaction_id": tx["transaction_id"].to_numpy()[keep],
            "event_timestamp": tx["event_timestamp"][keep].reset_index(drop=True),
            "label_timestamp": labelled[keep].reset_index(drop=True),
            "is_fraud": batch.fraud[keep].astype(np.int64),
        }
        parts.append(_frame(spec, "labels", values, np.arange(int(keep.sum()))))
        d += dt.timedelta(days=1)
    if not parts:
        return _frame(spec, "labels", _empty_labels(), np.arange(0))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("label_timestamp", kind="stable", ignore_index=True)


def _empty_labels() -> dict:
    empty = pd.Series([], dtype="datetime64[ns, UTC]")
    return {
        "transaction_id": np.array([], dtype=object),
        "event_timestamp": empty,
        "label_timestamp": empty,
        "is_fraud": np.array([], dtype=np.int64),
    }


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a header; tz-aware timestamps as ``2026-11-20T13:45:07.123000+00:00``."""
    out = frame.copy(deep=False)
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            naive = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
            text = pd.Series(np.datetime_as_string(naive, unit="us"), index=col.index) + "+00:00"
            out[name] = text.where(col.notna(), None)
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


def batch_file_name(feed: str, day: dt.date) -> str:
    """The simulator's file name for ``feed`` on ``day``: ``<feed>-<YYYY-MM-DD>.csv``."""
    return f"{feed}-{day.isoformat()}.csv"


def clean_frame(
    spec: UseCaseSpec,
    feed: str,
    day: dt.date,
    *,
    rows: int | None = None,
    drift: Drift | None = None,
    since: dt.date | None = None,
) -> pd.DataFrame:
    """The fault-free batch of ``feed`` for ``day``."""
    if feed == "transactions":
        return simulate_transactions(spec, day, rows=rows, drift=drift)
    if feed == "labels":
        return simulate_labels(spec, day, rows=rows, drift=drift, since=since)
    raise ValueError(f"unknown feed {feed!r}; the simulator writes {', '.join(FEEDS)}")


def land(
    spec: UseCaseSpec,
    feed: str,
    day: dt.date,
    *,
    landing_uri: str | None = None,
    rows: int | None = None,
    drift: Drift | None = None,
    fault: str | None = None,
    since: dt.date | None = None,
) -> list[str]:
    """Write ``feed``'s batch for ``day`` to the landing zone; returns the written URIs.

    Re-landing replaces the file and deletes other ``<feed>-<date>.csv`` files the simulator
    left in that day folder (an earlier duplicate delivery), so the folder ends up exactly as
    this call describes. A clean batch with no rows (labels before ``since``) writes nothing.
    """
    return [uri for uri, _ in _land(spec, feed, day, landing_uri, rows, drift, fault, since)]


def _land(
    spec: UseCaseSpec,
    feed: str,
    day: dt.date,
    landing_uri: str | None,
    rows: int | None,
    drift: Drift | None,
    fault: str | None,
    since: dt.date | None,
) -> list[tuple[str, int]]:
    """:func:`land`, returning (URI, data rows) per written file."""
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    feed_spec = spec.feed(feed)
    if landing_uri is None:
        from include.config import get_settings

        landing_uri = get_settings().landing_uri
    clean = clean_frame(spec, feed, day, rows=rows, drift=drift, since=since)
    files: list[tuple[str, bytes, int]] = []  # everything is built before anything is written
    if fault is not None:
        rng = _rng(_Params.of(spec).seed, day, f"fault:{feed}:{fault}")
        result = FAULTS[fault].apply(clean, feed_spec, rng)
        data = result if isinstance(result, bytes) else to_csv_bytes(result)
        files.append(
            (batch_file_name(feed, day), data, 0 if isinstance(result, bytes) else len(result))
        )
        if FAULTS[fault].redelivers_previous_day:
            prev_day = day - dt.timedelta(days=1)
            prev = clean_frame(spec, feed, prev_day, rows=rows, drift=drift, since=since)
            if prev.empty:
                raise ValueError(f"duplicate_delivery: no {feed} rows on {prev_day} to redeliver")
            files.append((batch_file_name(feed, prev_day), to_csv_bytes(prev), len(prev)))
    elif len(clean):
        files.append((batch_file_name(feed, day), to_csv_bytes(clean), len(clean)))
    folder = storage.join(landing_uri, feed, day.isoformat())
    written = []
    for name, data, n in files:
        uri = storage.join(folder, name)
        storage.write_bytes(uri, data)
        written.append((uri, n))
    keep = {name for name, _, _ in files}
    for obj in storage.list_objects(folder):
        own = _OWN_FILE.fullmatch(obj.name)
        direct = obj.uri.rstrip("/").split("/")[-2:-1] == [day.isoformat()]
        if own and own["feed"] == feed and direct and obj.name not in keep:
            storage.delete(obj.uri)
    return written


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    faults = "\n".join(
        f"  {f.name:<22} {f.description}; caught by: {f.caught_by}" for f in FAULTS.values()
    )
    parser = argparse.ArgumentParser(
        prog="python -m devtools.simulator",
        description="Land simulated card transactions and/or delayed fraud labels as CSV under "
        "<landing>/<feed>/<YYYY-MM-DD>/<feed>-<YYYY-MM-DD>.csv (re-running replaces them).",
        epilog=f"faults (--fault NAME):\n{faults}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    day = dt.date.fromisoformat
    parser.add_argument("--start", type=day, required=True, metavar="DATE", help="first day")
    parser.add_argument("--days", type=int, default=1, help="number of days (default 1)")
    parser.add_argument("--feed", choices=[*FEEDS, "both"], default="both", help="default both")
    parser.add_argument("--rows", type=int, help="transactions per day (default: spec)")
    parser.add_argument(
        "--fault",
        choices=list(FAULTS),
        metavar="NAME",
        help="inject a fault on every landed day (names below)",
    )
    parser.add_argument(
        "--covariate-drift", type=float, default=0.0, metavar="X", help="0..1 (default 0)"
    )
    parser.add_argument(
        "--concept-drift", type=float, default=0.0, metavar="X", help="0..1 (default 0)"
    )
    parser.add_argument(
        "--drift-start", type=day, metavar="DATE", help="drift only from this day on"
    )
    parser.add_argument(
        "--labels-since",
        type=day,
        metavar="DATE",
        help="label only transactions of batch days >= this day",
    )
    parser.add_argument("--landing", help="landing URI, local path or s3:// (default: settings)")
    parser.add_argument("--spec", help="use-case spec YAML (default: settings)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints ``<feed> <day> <rows> rows <uri>`` per written file."""
    args = _parse_args(argv)
    try:
        spec = load_spec(args.spec)
        drift = Drift(args.covariate_drift, args.concept_drift, args.drift_start)
        since = args.labels_since
        feeds = FEEDS if args.feed == "both" else (args.feed,)
        for i in range(args.days):
            the_day = args.start + dt.timedelta(days=i)
            for feed in feeds:
                written = _land(
                    spec, feed, the_day, args.landing, args.rows, drift, args.fault, since
                )
                if not written:
                    print(f"{feed} {the_day} no rows, nothing written")
                for uri, n in written:
                    print(f"{feed} {the_day} {n} rows {uri}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
