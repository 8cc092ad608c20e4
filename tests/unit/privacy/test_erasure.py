"""Erasure of one data subject (include.privacy.erasure) on tiny files: which rows are the
subject's, each kind of file rewritten without them (and nothing else), the online stores,
the subject's events kept for later runs, and the record's account of what was not reached."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from include import layout
from include.privacy import erasure
from include.privacy.erasure import Erased, Matcher
from include.privacy.pseudonym import Pseudonymiser
from include.spec import ColumnSpec, FeedSpec
from serving.online import serialize_entity_key
from tests.redis_server import RedisServer, write_feast_rows

P = Pseudonymiser(bytes(range(32)))
ME, OTHER = "cus_000042", "cus_000007"
PSEUDO = P.value(ME)
EVENTS = FeedSpec(
    role="events",
    key="tx",
    timestamp="ts",
    name="events",
    columns={
        "tx": ColumnSpec(dtype="string"),
        "who": ColumnSpec(dtype="string", pii=True),
        "n": ColumnSpec(dtype="int"),
    },
)
OUTCOMES = FeedSpec(
    role="labels",
    key="tx",
    timestamp="ts",
    name="outcomes",
    columns={"tx": ColumnSpec(dtype="string"), "y": ColumnSpec(dtype="int")},
)


def matcher(*event_keys: str) -> Matcher:
    """The subject's matcher; ``event_keys``: raw keys of their events (hashed here)."""
    return Matcher(P, PSEUDO, ["who"], "tx", {P.value(k) for k in event_keys})


def _parquet(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def _events(*who: str, first: int = 0) -> pd.DataFrame:
    """Events ``t<first>``, ``t<first + 1>``... of these people, as the lake holds them."""
    keys = range(first, first + len(who))
    frame = pd.DataFrame({"tx": [f"t{i}" for i in keys], "who": list(who)})
    frame["n"] = pd.array(keys, dtype="Int64")
    return P.frame(frame, ["who"])


# ----------------------------------------------------------------------- who is erased
def test_E10_the_subject_is_looked_up_by_every_pii_column_or_the_one_named() -> None:
    assert erasure.subject_columns(EVENTS) == ("who",)
    assert erasure.subject_columns(EVENTS, "who") == ("who",)
    with pytest.raises(erasure.SubjectNotErasable, match="not a pii column"):
        erasure.subject_columns(EVENTS, "n")
    with pytest.raises(erasure.SubjectNotErasable, match="no pii column"):
        erasure.subject_columns(OUTCOMES)


def test_E10_the_raw_id_is_replaced_in_every_text_a_person_typed() -> None:
    conf = {"reason": f"erase {ME} now", "column": "", "more": [ME, 3]}
    assert erasure.redact(conf, ME) == {
        "reason": "erase <subject> now",
        "column": "",
        "more": ["<subject>", 3],
    }


def test_E10_rows_are_the_subjects_by_pseudonym_or_by_the_key_of_one_of_their_events() -> None:
    frame = pd.DataFrame(
        {"who": pd.array([PSEUDO, P.value(OTHER), None], dtype="string"), "tx": ["a", "b", "c"]}
    )
    assert matcher().rows(frame).tolist() == [True, False, False]
    assert matcher("c").rows(frame).tolist() == [True, False, True]
    # an integer key matches its text, as ingest pseudonymised it
    keyed = pd.DataFrame({"tx": pd.array([1, 2, None], dtype="Int64")})
    assert matcher("2").rows(keyed).tolist() == [False, True, False]
    assert matcher().event_keys_of(frame) == {P.value("a")}


def test_E10_a_captured_request_is_matched_by_its_key_field_never_by_its_other_fields() -> None:
    m = Matcher(P, PSEUDO, ["who"], "tx", {P.value(1)})
    record = {"request_id": "r", "transaction_id": 1, "model_version": "9", "score": 0.2}
    assert m.record(record)
    # a model version "1" is not the subject's event 1
    assert not m.record({**record, "transaction_id": 5, "model_version": "1"})


# ------------------------------------------------------------------------- the files
def test_E10_a_parquet_file_loses_exactly_the_subjects_rows_and_a_rerun_changes_nothing(
    tmp_path: Path,
) -> None:
    lake = str(tmp_path / "lake")

    def partition(feed: str, day: int, frame: pd.DataFrame) -> Path:
        return _parquet(Path(layout.partition_uri(lake, feed, date(2026, 11, day))), frame)

    mixed = partition("events", 20, _events(ME, OTHER, ME))  # t0, t1, t2
    only_me = partition("events", 21, _events(ME, first=3))
    others = partition("events", 22, _events(OTHER, first=4))
    labels = partition("outcomes", 22, pd.DataFrame({"tx": ["t0", "t1", "t2", "t3"], "y": 1}))
    untouched = (others.read_bytes(), others.stat().st_mtime_ns)
    mine = matcher("t0", "t2", "t3")  # the subject's events, as find_event_keys found them

    erased = erasure.erase_lake(lake, [EVENTS, OUTCOMES], mine)

    assert erased.rows == {
        "lake/validated/events": 3,
        "lake/staging/events": 0,
        "lake/validated/outcomes": 3,
        "lake/staging/outcomes": 0,
    }
    kept = pd.read_parquet(mixed)
    assert kept["who"].tolist() == [P.value(OTHER)] and kept["n"].tolist() == [1]
    assert str(kept["n"].dtype) == "Int64" and str(kept["who"].dtype) == "string"
    assert not only_me.exists()  # no row left: no file
    assert pd.read_parquet(labels)["tx"].tolist() == ["t1"]
    assert (others.read_bytes(), others.stat().st_mtime_ns) == untouched
    assert sorted(erased.changed) == sorted(map(str, (mixed, only_me, labels)))
    again = erasure.erase_lake(lake, [EVENTS, OUTCOMES], mine)
    assert sum(again.rows.values()) == 0 and again.changed == []


def _csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


def test_E10_a_raw_file_keeps_its_header_its_other_rows_their_bytes_and_when_it_landed(
    tmp_path: Path,
) -> None:
    landing, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    text = (
        "tx,who,n\r\n"
        f"t0,{ME},1\r\n"
        f't1,{OTHER},"2"\r\n'  # quoted as its writer quoted it: stays
        f"t2, {ME},3\r\n"  # not the subject's value (ingest would hash " cus_...")
        f"t3,{ME},4"  # a cut file (no final newline) stays cut
    )
    raw = _csv(tmp_path / "landing" / "events" / "2026-11-20" / "b.csv", text)
    os.utime(raw, ns=(1, 10**18))
    quarantined = _csv(
        Path(layout.quarantine_dir(lake, "outcomes", date(2026, 11, 20), "r1"))
        / layout.RAW_FILES
        / "b.csv",
        "tx,y\nt0,1\nt1,0\nt3,1\n",
    )
    garbled = _csv(tmp_path / "landing" / "events" / "2026-11-21" / "c.csv", "")
    garbled.write_bytes(b"tx,who\n\xff\xfe,1\n")

    erased = erasure.erase_raw_files(lake, landing, [EVENTS, OUTCOMES], matcher("t0", "t3"))

    assert raw.read_bytes().decode() == f'tx,who,n\r\nt1,{OTHER},"2"\r\nt2, {ME},3\r\n'
    assert raw.stat().st_mtime_ns == 10**18
    assert quarantined.read_text() == "tx,y\nt1,0\n"
    assert erased.rows == {
        "landing/events": 2,
        "quarantine/events": 0,
        "landing/outcomes": 0,
        "quarantine/outcomes": 2,
    }
    assert erased.unreadable == [str(garbled)]


def test_E10_captured_requests_of_the_subjects_events_go_and_a_part_left_empty_is_deleted(
    tmp_path: Path,
) -> None:
    lake = str(tmp_path / "lake")
    folder = Path(layout.capture_dir(lake, date(2026, 11, 20)))
    folder.mkdir(parents=True)
    lines = [json.dumps({"request_id": f"r{i}", "tx": f"t{i}", "score": 0.5}) for i in range(3)]
    mixed = folder / "part-1.jsonl"
    mixed.write_text("\n".join([*lines, "not json"]) + "\n")
    mine = folder / "part-2.jsonl"
    mine.write_text(lines[0] + "\n")

    erased = erasure.erase_outputs(lake, matcher("t0"))

    assert mixed.read_text().splitlines() == [lines[1], lines[2], "not json"]
    assert not mine.exists()
    assert erased.rows == {"predictions": 0, "capture": 2}


def test_E10_training_sets_that_held_the_rows_are_named(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    held = _parquet(Path(layout.training_set_uri(lake, "run_a")), _events(ME, OTHER))
    clean = _parquet(Path(layout.training_set_uri(lake, "run_b")), _events(OTHER))
    erased = erasure.erase_training_sets(lake, matcher())
    assert erased.changed == [str(held)] and erased.rows == {"training_sets": 1}
    assert sorted(erasure.training_sets(lake)) == sorted([str(held), str(clean)])


def test_E10_the_subjects_events_are_found_everywhere_and_kept_as_keyed_hashes(
    tmp_path: Path,
) -> None:
    landing, lake = str(tmp_path / "landing"), str(tmp_path / "lake")
    _parquet(
        Path(layout.partition_uri(lake, "events", date(2026, 11, 20))),
        _events(ME, OTHER),
    )  # t0 is mine
    _csv(Path(landing) / "events" / "2026-11-21" / "b.csv", f"tx,who,n\nt9,{ME},1\nt8,x,2\n")
    found, unreadable = erasure.find_event_keys(lake, landing, EVENTS, matcher())
    assert found == {P.value("t0"), P.value("t9")} and unreadable == []
    # kept as a union with what earlier runs kept, never as the keys themselves
    uri, _ = erasure.save_event_keys(lake, PSEUDO, {P.value("t5")})
    assert erasure.save_event_keys(lake, PSEUDO, found) == (uri, 3)
    assert erasure.load_event_keys(lake, PSEUDO) == found | {P.value("t5")}
    assert "t0" not in Path(uri).read_text()  # hex digits have no "t"


# -------------------------------------------------------------------- the online stores
def _feast_sqlite(path: Path, project: str, rows: dict[str, list[bytes]]) -> None:
    """Feast's SQLite layout: one table per view, a row per (entity key, feature)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")  # as the platform's store runs
        for view, keys in rows.items():
            conn.execute(
                f"CREATE TABLE {project}_{view} (entity_key BLOB, feature_name TEXT, value BLOB,"
                " value_text TEXT, event_ts timestamp, created_ts timestamp,"
                " PRIMARY KEY (entity_key, feature_name))"
            )
            conn.executemany(
                f"INSERT INTO {project}_{view} VALUES (?, ?, ?, NULL, 0, 0)",
                [(k, f, b"\x29" + bytes(8)) for k in keys for f in ("f1", "f2")],
            )


def test_E10_the_entity_leaves_every_view_of_the_sqlite_store_and_no_byte_of_it_stays(
    tmp_path: Path,
) -> None:
    mine = serialize_entity_key({"who": PSEUDO})
    other = serialize_entity_key({"who": P.value(OTHER)})
    db = tmp_path / "online.db"
    _feast_sqlite(db, "proj", {"a_stats": [mine, other], "b_stats": [mine]})

    erased = erasure.erase_online_sqlite(str(db), "proj", ["a_stats", "b_stats"], [mine])

    assert erased.rows == {"online_store/a_stats": 1, "online_store/b_stats": 1}
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT entity_key FROM proj_a_stats").fetchall()
        assert {k for (k,) in left} == {other}
        assert conn.execute("SELECT COUNT(*) FROM proj_b_stats").fetchone() == (0,)
    # freed pages are overwritten: the pseudonym is left in neither the file nor its log
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("online.db*"))
    assert PSEUDO.encode() not in stored and P.value(OTHER).encode() in stored
    again = erasure.erase_online_sqlite(str(db), "proj", ["a_stats", "b_stats"], [mine])
    assert again.rows == {"online_store/a_stats": 0, "online_store/b_stats": 0}


def test_E10_only_the_views_tables_of_the_project_are_touched(tmp_path: Path) -> None:
    mine = serialize_entity_key({"who": PSEUDO})
    db = tmp_path / "online.db"
    # another project whose name extends ours, a view keyed otherwise, a versioned view
    _feast_sqlite(db, "proj", {"a_stats": [mine], "a_stats_v2": [mine], "m_stats": [mine]})
    _feast_sqlite(db, "proj_x", {"a_stats": [mine]})
    erased = erasure.erase_online_sqlite(str(db), "proj", ["a_stats"], [mine])
    assert erased.rows == {"online_store/a_stats": 2}
    with sqlite3.connect(db) as conn:
        for table, left in (("proj_a_stats", 0), ("proj_a_stats_v2", 0), ("proj_m_stats", 2),
                            ("proj_x_a_stats", 2)):  # fmt: skip
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (left,), table


def test_E10_the_entity_hash_leaves_redis_and_nobody_elses(redis_server: RedisServer) -> None:
    import redis

    mine = serialize_entity_key({"who": PSEUDO})
    other = serialize_entity_key({"who": P.value(OTHER)})
    stamp = pd.Timestamp("2026-11-20", tz="UTC").to_pydatetime()
    rows = [("a_stats", k, stamp, {"f1": b"\x29" + bytes(8)}) for k in (mine, other)]
    write_feast_rows(redis_server.url, "proj", rows)

    erased = erasure.erase_online_redis(redis_server.url, [mine + b"proj"])

    assert erased.rows == {"online_store/redis": 1}
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.exists(mine + b"proj") == 0 and client.exists(other + b"proj") == 1
    finally:
        client.close()


# ---------------------------------------------------------------------------- the record
def test_E10_models_trained_on_the_rows_are_told_by_their_training_set() -> None:
    sets = ["/lake/training_sets/a.parquet", "/lake/training_sets/b.parquet"]
    versions = [
        ("1", "/old/place/lake/training_sets/a.parquet"),  # the lake moved since: by name
        ("2", sets[1]),
        ("3", None),  # trained before lineage tags
        ("4", "/lake/training_sets/gone.parquet"),
    ]
    trained, unknown = erasure.models_trained_on(versions, held=[sets[0]], existing=sets)
    assert (trained, unknown) == (["1"], ["3", "4"])
    # a re-run finds nothing in the sets any more: the earlier record still says so
    again = erasure.models_trained_on(versions, held=[], existing=sets, earlier=["1"])
    assert again == (["1"], ["3", "4"])


FACTS = {
    "recorded_at": "2026-12-01T00:00:00+00:00",
    "dag_id": "erase_subject",
    "run_id": "manual__1",
    "retention_days": 30,
    "label_delay_days": 7,
    "event_keys_uri": "/lake/privacy/erasures/x/event_keys.json",
    "drift_reports": "/lake/reports/drift",
    "evidently_workspace": "/data/evidently",
    "online_store": "sqlite",
}


def test_E10_the_record_says_in_words_what_it_could_not_reach() -> None:
    erased = Erased(
        rows={"lake/validated/events": 2},
        changed=["/lake/validated/events/date=2026-11-20/data.parquet",
                 "/lake/quarantine/events/2026-11-21/r1/raw/b.csv"],
        unreadable=["/landing/events/2026-11-22/c.csv"],
    )  # fmt: skip
    models = erasure.Models("m", trained_on=["2"], undetermined=["1"], aliases={"champion": "2"})
    gaps = erasure.not_reached(
        models=models,
        erased=erased,
        other_views=["merchant_stats"],
        mentioned=["/lake/reports/validation/x.json"],
        facts=FACTS,
    )
    said = {g["what"]: g["detail"] for g in gaps}
    assert "m v2 (champion)" in said["trained models and their MLflow runs"]
    assert "v1: no training set left to check" in said["trained models and their MLflow runs"]
    assert "2026-11-20..2026-11-20" in said["features of other entities"]
    assert "/lake/quarantine/events/2026-11-21/r1" in said["quarantine evidence"]
    assert "/landing/events/2026-11-22/c.csv" in said["files that could not be read"]
    assert "/lake/reports/validation/x.json" in said["files that still name the pseudonym"]
    assert "manual__1" in said["this run in Airflow"]
    for what in ("monitoring reports and Evidently snapshots", "backups and copies",
                 "labels and events that arrive later"):  # fmt: skip
        assert what in said
    # a registry that could not be read: every version before the erasure is suspect
    down = erasure.not_reached(
        models=erasure.Models("m", error="MlflowException: down"),
        erased=Erased(),
        other_views=[],
        mentioned=[],
        facts=FACTS,
    )
    assert "every version of m registered before 2026-12-01" in down[0]["detail"]


def test_E10_the_record_is_written_once_per_run_under_the_pseudonym(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    uri = erasure.record_uri(lake, PSEUDO, "2026-12-01T10:00:00.123456+00:00")
    assert uri == f"{lake}/privacy/erasures/{PSEUDO}/20261201T100000123456Z.json"
    with pytest.raises(erasure.SubjectNotErasable):
        erasure.erasures_dir(lake, ME)  # a raw id never names a folder
    Path(uri).parent.mkdir(parents=True)
    Path(uri).write_text(json.dumps({"models": {"trained_on": ["1"]}}))
    assert erasure.earlier_records(lake, PSEUDO) == [{"models": {"trained_on": ["1"]}}]


def test_E10_text_files_still_naming_the_pseudonym_are_listed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "reports").mkdir(parents=True)
    (lake / "reports" / "r.json").write_text(f'{{"sample": ["{PSEUDO}"]}}')
    (lake / "reports" / "s.json").write_text('{"sample": []}')
    own = Path(erasure.erasures_dir(str(lake), PSEUDO))
    own.mkdir(parents=True)
    (own / "event_keys.json").write_text(PSEUDO)
    skip = erasure.erasures_dir(str(lake), PSEUDO)
    assert erasure.mentions(str(lake), PSEUDO, skip=skip) == [str(lake / "reports" / "r.json")]
