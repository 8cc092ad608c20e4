"""Pseudonymised PII at ingest (E7): what reaches the lake, the reports and the mails.

The ingest steps on real components (GX, the lake, the key file): a clean day and a day
whose personal ids break the spec's pattern. The raw ids may stay in the landing zone and
in the quarantine evidence only; the search reads every other file under the data root,
Parquet decoded.
"""

from __future__ import annotations

import stat
from datetime import date

import pytest

from devtools import simulator
from include import layout
from include.config import get_settings
from include.data import lake
from include.notify.templates import TaskContext
from include.privacy.keys import load_key
from include.privacy.pseudonym import Pseudonymiser, is_pseudonym
from include.quality.alerts import batch_quarantined
from include.quality.errors import BatchValidationFailed
from include.spec import load_spec
from include.steps import ingest
from tests.pii_search import find_raw_ids, searched_files

CLEAN, BROKEN = date(2026, 11, 2), date(2026, 11, 3)
BAD_IDS = ["cus_X01", "cus_X02", "cus_X03"]  # not the spec's pattern: quarantined


def _land(frame, day: date) -> None:
    folder = layout.landing_dir(get_settings().landing_uri, "transactions", day)
    from include import storage

    storage.write_bytes(storage.join(folder, "part-0.csv"), simulator.to_csv_bytes(frame))


def test_E7_raw_ids_stay_in_landing_and_quarantine_and_mails_show_pseudonyms(data_root) -> None:
    spec = load_spec()
    (pii,) = spec.feed("transactions").pii_columns
    clean = simulator.simulate_transactions(spec, CLEAN, rows=300)
    broken = simulator.simulate_transactions(spec, BROKEN, rows=300)
    broken.loc[: len(BAD_IDS) - 1, pii] = BAD_IDS
    _land(clean, CLEAN)
    _land(broken, BROKEN)

    # when the clean day is validated and published and the broken one quarantined
    published = ingest.validate("transactions", CLEAN.isoformat(), "run_clean")
    assert published["success"], published["failed_checks"]
    ingest.publish(published)
    failed = ingest.validate("transactions", BROKEN.isoformat(), "run_broken")
    assert failed["failed_checks"] == [f"expect_column_values_to_match_regex({pii})"]
    with pytest.raises(BatchValidationFailed) as caught:
        ingest.quarantine(failed)
    ctx = TaskContext("ingest_transactions", "quarantine_batch", "run_broken", "", 1, "", "")
    mail = batch_quarantined(ctx, caught.value.summary)

    # then the key was generated once, owner-only, and the lake holds its pseudonyms
    settings = get_settings()
    key_file = data_root / "secrets" / "pii.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pseudo = Pseudonymiser(load_key(create=False))
    part = lake.read_partition(settings.lake_uri, "transactions", CLEAN)
    assert part[pii].map(is_pseudonym).all()
    assert list(part[pii]) == [pseudo.value(v) for v in clean[pii]]
    # and no raw id is anywhere but landing and quarantine: lake, reports, GX, profiles
    raw = set(clean[pii]) | set(broken[pii])
    quarantine = data_root / "lake" / "quarantine"
    skip = [data_root / "landing", quarantine]
    assert searched_files([data_root], skip) >= 10
    assert find_raw_ids([data_root], raw, skip) == {}
    # nor in the mail or the summary the exception carries (task logs print it)
    said = mail.subject + mail.text + mail.html + str(caught.value.summary) + str(caught.value)
    assert not [i for i in raw if i in said]
    assert pseudo.value("cus_X01") in mail.text  # the operator can find the rows by it
    assert "sample values, pseudonymised (pii" in mail.text  # and is told they are pseudonyms
    # while the quarantine evidence (admins only) keeps the raw values that failed
    evidence = find_raw_ids([quarantine], BAD_IDS)
    assert any(p.endswith("validation_result.json") for p in evidence), evidence
    assert any("raw" in p for p in evidence), evidence
