"""Replay a recorded dataset as daily landed batches (a spec's ``source: {kind: replay}``).

A use case on real data has no simulator: its spec names an adapter (``module:function``)
that returns the feeds of one day of the recorded dataset as frames (columns as in the spec,
timestamps tz-aware). Day D of the dataset lands as the batch of day D + shift, every
timestamp moved by the same shift, a whole number of weeks, so that weekdays keep their
pattern (weekend traffic stays on weekends).

The shift is fixed by the first landing into a landing zone and kept there
(``<landing>/_replay/<use case>.json``): the first batch day lands the dataset's first day
that falls on the same weekday, and later days follow it, one dataset day per day, until the
dataset ends (then nothing more lands). Re-landing a day replaces its file. Ids are the
dataset's own.

CLI: ``python -m devtools.replay --start DATE --days N [--feed NAME] [--spec PATH]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from devtools.simulator import batch_file_name, to_csv_bytes
from include import storage
from include.spec import UseCaseSpec, load_spec

STATE_DIR = "_replay"


class ReplayError(ValueError):
    """The spec has no replay source, or its adapter is unusable."""


def adapter(spec: UseCaseSpec) -> Callable[[dt.date], dict[str, pd.DataFrame]]:
    """The spec's adapter function (``source.adapter``)."""
    source = spec.source
    if source is None or source.kind != "replay" or not source.adapter:
        raise ReplayError(f"{spec.path}: source.kind is not replay: nothing to replay")
    module, _, name = source.adapter.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ReplayError(f"{spec.path}: source.adapter {source.adapter!r}: {exc}") from None
    return function


def first_shift(spec: UseCaseSpec, first_batch_day: dt.date) -> int:
    """Days from the dataset to the calendar: a multiple of 7 that lands the dataset's first
    day of ``first_batch_day``'s weekday on it."""
    first = spec.source.first_day  # type: ignore[union-attr]
    start = first + dt.timedelta(days=(first_batch_day - first).days % 7)
    return (first_batch_day - start).days


def _state_uri(spec: UseCaseSpec, landing_uri: str) -> str:
    return storage.join(landing_uri, STATE_DIR, f"{spec.name}.json")


def shift_days(spec: UseCaseSpec, landing_uri: str, first_batch_day: dt.date) -> int:
    """The landing zone's shift; the first call fixes it from ``first_batch_day``."""
    uri = _state_uri(spec, landing_uri)
    if storage.exists(uri):
        return int(json.loads(storage.read_bytes(uri))["shift_days"])
    shift = first_shift(spec, first_batch_day)
    state = {"use_case": spec.name, "shift_days": shift, "first_batch_day": str(first_batch_day)}
    storage.write_bytes(uri, json.dumps(state, indent=2).encode())
    return shift


def shifted(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    """``frame`` with every tz-aware timestamp column moved by ``days``."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column] + pd.Timedelta(days=days)
    return out


def batches(spec: UseCaseSpec, batch_day: dt.date, shift: int) -> dict[str, pd.DataFrame]:
    """The feeds of ``batch_day`` (the dataset's day ``batch_day - shift``), in the spec's
    column order; an empty dict past the dataset's end."""
    source = spec.source
    day = batch_day - dt.timedelta(days=shift)
    if source is None or not (source.first_day <= day <= source.last_day):  # type: ignore[operator]
        return {}
    frames = adapter(spec)(day)
    out = {}
    for feed, frame in frames.items():
        columns = spec.feed(feed).column_names
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ReplayError(f"{spec.source.adapter} gave feeds.{feed} without {missing}")  # type: ignore[union-attr]
        out[feed] = shifted(frame[columns], shift)
    return out


def land(
    spec: UseCaseSpec,
    batch_day: dt.date,
    *,
    landing_uri: str | None = None,
    feeds: Sequence[str] | None = None,
    shift: int | None = None,
) -> list[tuple[str, int]]:
    """Land ``batch_day``'s feeds; returns (URI, rows) per written file (none past the end)."""
    if landing_uri is None:
        from include.config import get_settings

        landing_uri = get_settings().landing_uri
    if shift is None:
        shift = shift_days(spec, landing_uri, batch_day)
    written = []
    for feed, frame in batches(spec, batch_day, shift).items():
        if (feeds and feed not in feeds) or frame.empty:
            continue
        folder = storage.join(landing_uri, feed, batch_day.isoformat())
        uri = storage.join(folder, batch_file_name(feed, batch_day))
        storage.write_bytes(uri, to_csv_bytes(frame))
        written.append((uri, len(frame)))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.replay", description=__doc__)
    day = dt.date.fromisoformat
    parser.add_argument("--start", type=day, required=True, metavar="DATE", help="first day")
    parser.add_argument("--days", type=int, default=1, help="number of days (default 1)")
    parser.add_argument("--feed", action="append", help="only this feed (repeatable)")
    parser.add_argument("--landing", help="landing URI, local path or s3:// (default: settings)")
    parser.add_argument("--spec", help="use-case spec YAML (default: settings)")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        for i in range(args.days):
            the_day = args.start + dt.timedelta(days=i)
            written: list[tuple[str, Any]] = land(
                spec, the_day, landing_uri=args.landing, feeds=args.feed
            )
            if not written:
                print(f"{the_day} nothing to land (outside the dataset)")
            for uri, n in written:
                print(f"{the_day} {n} rows {uri}")
    except (ValueError, ReplayError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
