"""Which days a ``score_transactions`` run scores: those with a validated transactions
partition, named by hand (``days``, or a ``start_date``/``end_date`` range), by the triggering
``features`` events, or the newest one. Lists the lake only; reads no file."""

from __future__ import annotations

from datetime import date

from include import layout
from include.config import Settings, get_settings
from include.data import lake
from include.scoring.errors import NothingToScore, PartitionNotScorable
from include.spec import load_spec


def days_to_score(
    event_partitions: list[str],
    days: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """The days a run scores, oldest first: those with a validated transactions partition.

    * ``days`` (by hand): exactly those; one without a partition is an error
      (:class:`PartitionNotScorable`), not quietly left out;
    * ``start_date``/``end_date`` (by hand): every day of the range that has a partition;
    * otherwise the days named by the triggering ``features`` events (a labels-only day is
      left out), or, for a manual run without parameters, the newest partition.

    Nothing left → :class:`NothingToScore` (the run is skipped).
    """
    settings = settings or get_settings()
    if days and (start_date or end_date):
        raise ValueError("give either days or a start_date/end_date range, not both")
    events = load_spec(settings.usecase_spec).names.events_feed
    published = set(lake.partitions(settings.lake_uri, events))
    if days:
        wanted = {date.fromisoformat(str(d)) for d in days}
        missing = sorted(d.isoformat() for d in wanted - published)
        if missing:
            raise PartitionNotScorable(
                f"no validated {events} partition for {missing} under "
                f"{layout.validated_dir(settings.lake_uri, events)}: ingest them "
                "first, or leave them out of days"
            )
        chosen, where = wanted, "named"
    elif start_date or end_date:
        first = date.fromisoformat(start_date or end_date or "")
        last = date.fromisoformat(end_date or start_date or "")
        chosen, where = {d for d in published if first <= d <= last}, f"in {first}..{last}"
    elif event_partitions:
        named = {date.fromisoformat(p) for p in event_partitions if p}
        chosen, where = named & published, f"among the events' {sorted(map(str, named))}"
    else:
        chosen, where = set(sorted(published)[-1:]), "in the lake"
    if not chosen:
        raise NothingToScore(f"no validated {events} partition {where}: nothing to score")
    return [d.isoformat() for d in sorted(chosen)]
