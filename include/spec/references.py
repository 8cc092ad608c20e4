"""Checks that need two sections of a spec: a name used in one is defined in another.

They read the raw mapping (what ``yaml.safe_load`` gave), not the typed sections, so that a
file with a type error in one section still gets its references checked in the same run:
:func:`include.spec.load_spec` reports both kinds at once. A reference whose own section is
malformed is skipped here (the structure's problem is reported instead).
"""

from __future__ import annotations

import math
from typing import Any

from include.spec.problems import Problem, _did_you_mean
from include.spec.sections import (
    EVENTS,
    LABELS,
    NUMERIC_TYPES,
    REQUEST_TRANSFORMS,
    WINDOW,
)


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _unknown(kind: str, name: Any, known: list[str]) -> str:
    return f"{name!r} is not {kind}{_did_you_mean(str(name), known)}; known: {', '.join(known)}"


def check(raw: Any) -> list[Problem]:
    """Every broken reference of the spec mapping ``raw``."""
    raw = _map(raw)
    out: list[Problem] = []
    feeds = _map(raw.get("feeds"))
    columns = {name: _map(_map(f).get("columns")) for name, f in feeds.items()}

    for name, feed in feeds.items():
        feed, cols = _map(feed), list(columns[name])
        for key in ("key", "timestamp"):
            value = feed.get(key)
            if isinstance(value, str) and cols and value not in cols:
                out.append(Problem(f"feeds.{name}.{key}", _unknown("a column here", value, cols)))
        ts = feed.get("timestamp")
        if isinstance(ts, str) and _map(columns[name].get(ts)).get("dtype") not in (
            None,
            "timestamp",
        ):
            out.append(Problem(f"feeds.{name}.timestamp", f"{ts!r} must be a timestamp column"))
        for i, attr in enumerate(_list(feed.get("sensitive_attributes"))):
            if isinstance(attr, str) and cols and attr not in cols:
                out.append(
                    Problem(
                        f"feeds.{name}.sensitive_attributes[{i}]",
                        _unknown("a column here", attr, cols),
                    )
                )
        for i, col in enumerate(_list(_map(feed.get("history")).get("ignore"))):
            if isinstance(col, str) and cols and col not in cols:
                where = f"feeds.{name}.history.ignore[{i}]"
                out.append(Problem(where, _unknown("a column here", col, cols)))
    out += _pii(feeds, columns)
    if not feeds:
        return out  # the structure says so; nothing below can be checked

    roles: dict[str, list[str]] = {EVENTS: [], LABELS: []}
    for name, feed in feeds.items():
        if _map(feed).get("role") in roles:
            roles[_map(feed)["role"]].append(name)
    for role, named in roles.items():
        if len(named) > 1:
            out.append(Problem("feeds", f"feeds {named} all have role {role}: one feed may"))
    declared = all(isinstance(_map(f).get("role"), str) for f in feeds.values())
    for role, what in ((EVENTS, "the events to score"), (LABELS, "their outcomes")):
        if declared and not roles[role]:
            out.append(
                Problem(
                    "feeds",
                    f"no feed has role {role}: a use case has one feed of {what} "
                    f"(role: {EVENTS}) and one of their outcomes (role: {LABELS})",
                )
            )
    events_name = roles[EVENTS][0] if len(roles[EVENTS]) == 1 else None
    labels_name = roles[LABELS][0] if len(roles[LABELS]) == 1 else None
    events = columns.get(events_name, {}) if events_name else {}
    labels = columns.get(labels_name, {}) if labels_name else {}
    events_key = _map(feeds.get(events_name)).get("key") if events_name else None
    labels_key = _map(feeds.get(labels_name)).get("key") if labels_name else None
    if isinstance(events_key, str) and isinstance(labels_key, str) and events_key != labels_key:
        out.append(
            Problem(
                f"feeds.{labels_name}.key",
                f"must be feeds.{events_name}.key ({events_key!r}): a label joins its "
                f"event on it, got {labels_key!r}",
            )
        )

    delay = _map(_map(raw.get("labels")).get("delay_days"))
    maturity = _number(_map(raw.get("labels")).get("maturity_days"))
    label_delay = max(
        (v for v in (_number(delay.get("max")), maturity) if v is not None), default=None
    )

    model = _map(raw.get("model"))
    target = model.get("target")
    values = _map(labels.get(target)).get("values") if isinstance(target, str) else None
    positive = model.get("positive", 1)
    if isinstance(values, list) and positive not in values:
        out.append(
            Problem(
                "model.positive",
                f"{positive!r} is not a value of {target!r} (feeds.{labels_name}): one of {values}",
            )
        )
    if isinstance(target, str) and labels and target not in labels:
        out.append(
            Problem(
                "model.target", _unknown(f"a column of feeds.{labels_name}", target, list(labels))
            )
        )
    sensitive = {
        a
        for f in feeds.values()
        for a in _list(_map(f).get("sensitive_attributes"))
        if isinstance(a, str)
    }
    for entity, spec in _map(_map(raw.get("features")).get("entities")).items():
        key = _map(spec).get("join_key")
        if key in sensitive:
            out.append(
                Problem(
                    f"features.entities.{entity}.join_key",
                    f"{key!r} is a sensitive attribute (judged as a slice, never a feature): "
                    "features kept per it would let the model use it",
                )
            )
    out += _features(
        _map(raw.get("features")), (events_name, events), (labels_name, labels), label_delay
    )
    pii = {c for c, col in events.items() if _map(col).get("pii") is True}
    for i, t in enumerate(_list(_map(_map(raw.get("features")).get("request")).get("transforms"))):
        for name in _list(_map(t).get("inputs")):
            if name in pii:
                out.append(
                    Problem(
                        f"features.request.transforms[{i}].inputs",
                        f"{name!r} is pii: only its pseudonym exists past ingest, so a "
                        "request-time feature can not be computed from its value",
                    )
                )
    return out


def _pii(feeds: dict[str, Any], columns: dict[str, dict[str, Any]]) -> list[Problem]:
    """A pii column is never the event time, and a column shared by two feeds is pii in
    both or in neither (joins compare pseudonyms with pseudonyms)."""
    out: list[Problem] = []
    marked: dict[str, dict[str, bool]] = {}
    for name, feed in feeds.items():
        for col, spec in columns[name].items():
            marked.setdefault(col, {})[name] = _map(spec).get("pii") is True
        ts = _map(feed).get("timestamp")
        if isinstance(ts, str) and _map(columns[name].get(ts)).get("pii") is True:
            out.append(
                Problem(f"feeds.{name}.columns.{ts}.pii", "the feed's timestamp can not be pii")
            )
    for col, by_feed in marked.items():
        if len(set(by_feed.values())) > 1:
            yes = sorted(f for f, v in by_feed.items() if v)
            no = sorted(f for f, v in by_feed.items() if not v)
            out.append(
                Problem(
                    f"feeds.{no[0]}.columns.{col}.pii",
                    f"{col!r} is pii in feeds {yes} but not in {no}: mark it in every feed, "
                    "or the pseudonyms of one will never join the raw values of the other",
                )
            )
    return out


def _features(
    features: dict[str, Any],
    events_feed: tuple[str | None, dict[str, Any]],
    labels_feed: tuple[str | None, dict[str, Any]],
    label_delay: float | None,
) -> list[Problem]:
    (events_name, events), (labels_name, labels) = events_feed, labels_feed
    out: list[Problem] = []
    names: dict[str, str] = {}  # feature -> where it is defined

    def define(feature: str, where: str) -> None:
        if feature in names:
            out.append(
                Problem(where, f"feature {feature!r} is already defined at {names[feature]}")
            )
        names[feature] = where

    longest = 0
    for entity, spec in _map(features.get("entities")).items():
        spec, at = _map(spec), f"features.entities.{entity}"
        key = spec.get("join_key")
        if isinstance(key, str) and events and key not in events:
            out.append(
                Problem(
                    f"{at}.join_key",
                    _unknown(f"a column of feeds.{events_name}", key, list(events))
                    + " (entities join on the scored events' columns)",
                )
            )
        for i, agg in enumerate(_list(spec.get("aggregations"))):
            agg, where = _map(agg), f"{at}.aggregations[{i}]"
            source = agg.get("source", "events")
            feed = labels if source == "labels" else events
            feed_name = labels_name if source == "labels" else events_name
            column = agg.get("column")
            if isinstance(column, str) and feed and column not in feed:
                out.append(
                    Problem(
                        f"{where}.column",
                        _unknown(f"a column of feeds.{feed_name}", column, list(feed)),
                    )
                )
            elif isinstance(column, str) and agg.get("function") in (
                "sum",
                "mean",
                "std",
                "min",
                "max",
            ):
                dtype = _map(feed.get(column)).get("dtype")
                if dtype is not None and dtype not in NUMERIC_TYPES:
                    out.append(
                        Problem(
                            f"{where}.column",
                            f"{agg['function']} needs a numeric column; {column!r} is {dtype}",
                        )
                    )
            windows = [
                w
                for w in _list(agg.get("windows"))
                if isinstance(w, int) and not isinstance(w, bool)
            ]
            longest = max([longest, *windows])
            if source == "labels" and label_delay is not None:
                short = [w for w in windows if w < label_delay]
                if short:
                    out.append(
                        Problem(
                            f"{where}.windows",
                            f"{short} day(s) is shorter than the label delay ({label_delay:g} "
                            "days, labels.delay_days.max or labels.maturity_days): such a "
                            "window would hold only the fastest labels, a biased rate",
                        )
                    )
            name = agg.get("name")
            if isinstance(name, str):
                for w in windows or [0]:
                    define(name.replace(WINDOW, str(w)), where)

    ttl = _number(features.get("ttl_days"))
    if ttl is not None and longest and ttl < longest:
        out.append(
            Problem(
                "features.ttl_days",
                f"must be >= the longest window ({longest} days): Feast drops a stored value "
                "older than the TTL",
            )
        )

    request = _map(features.get("request"))
    usable = sorted({*events, *names})
    for i, transform in enumerate(_list(request.get("transforms"))):
        transform, where = _map(transform), f"features.request.transforms[{i}]"
        timed = transform.get("function") in ("hour_of_day", "day_of_week")
        for j, name in enumerate(_list(transform.get("inputs"))):
            if isinstance(name, str) and name not in usable:
                out.append(
                    Problem(
                        f"{where}.inputs[{j}]",
                        _unknown(
                            "a request field (an events column) or a stored feature", name, usable
                        ),
                    )
                )
                continue
            dtype = _map(events.get(name)).get("dtype") if name not in names else "float"
            known = transform.get("function") in REQUEST_TRANSFORMS  # else: the structure's
            if known and dtype is not None and (dtype == "timestamp") != timed:
                wanted = (
                    "a timestamp column"
                    if timed
                    else "a number (int or float column, or a feature)"
                )
                out.append(
                    Problem(
                        f"{where}.inputs[{j}]",
                        f"{transform['function']} needs {wanted}; {name!r} is {dtype}",
                    )
                )
        if isinstance(transform.get("name"), str):
            define(transform["name"], where)
    return out
