"""The work file: validation names the key and the file; consent is required up front."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from support import DEMO_WORK, consent, source
from sugarglass.errors import ConsentError, WorkFileError
from sugarglass.ingest import check_consents
from sugarglass.store import Store
from sugarglass.work import load_work, parse_duration


def test_demo_work_loads_with_consent_for_every_source():
    work = load_work(DEMO_WORK)
    assert work.name == "demo"
    assert work.sources and all(s.consent.scope in ("score", "keep-text") for s in work.sources)
    assert all(work.resolve(s.path).is_file() for s in work.sources)


def test_source_without_consent_is_refused_naming_it(make_work):
    bare = {"id": "press", "kind": "csv", "path": "p.csv"}
    path = make_work(bare)
    with pytest.raises(WorkFileError) as caught:
        load_work(path)
    message = str(caught.value)
    assert str(path) in message
    assert "sources[press].consent: is missing (nothing enters without a consent record)" in message


def test_incomplete_consent_lists_every_missing_field(make_work):
    record = consent()
    del record["licence"], record["evidence"]
    path = make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": record})
    message = str(pytest.raises(WorkFileError, load_work, path).value)
    assert "sources[a].consent.licence: is missing" in message
    assert "sources[a].consent.evidence: is missing" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"scope": "everything"}, "sources[a].consent.scope"),
        ({"basis": "vibes"}, "sources[a].consent.basis"),
        ({"evidence": "   "}, "sources[a].consent.evidence: must not be blank"),
        ({"granted_at": "last tuesday"}, "sources[a].consent.granted_at"),
    ],
)
def test_bad_consent_values_name_the_key(make_work, change, expected):
    path = make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": consent(**change)})
    assert expected in str(pytest.raises(WorkFileError, load_work, path).value)


def test_typos_unknown_kinds_and_duplicate_ids_are_reported_together(make_work):
    path = make_work(
        source("a", "csv", "a.csv", txt_column="body"),
        source("b", "cvs", "b.csv"),
        source("a", "jsonl", "c.jsonl"),
    )
    message = str(pytest.raises(WorkFileError, load_work, path).value)
    assert "sources[a].txt_column: is not a known key" in message
    assert "sources[b]: kind must be one of" in message and "'cvs'" in message


def test_duplicate_source_ids_are_refused(make_work):
    path = make_work(source("a", "csv", "a.csv"), source("a", "jsonl", "c.jsonl"))
    assert "two sources are named 'a'" in str(pytest.raises(WorkFileError, load_work, path).value)


def test_signal_options_are_checked(make_work):
    path = make_work(source("a", "csv", "a.csv"), signal={"window": "6 fortnights"})
    assert "signal.window" in str(pytest.raises(WorkFileError, load_work, path).value)
    path = make_work(source("a", "csv", "a.csv"), signal={"window": "1d", "posts_per_tick": 3})
    assert "either window or posts_per_tick" in str(pytest.raises(WorkFileError, load_work, path).value)
    path = make_work(source("a", "csv", "a.csv"), signal={"sources": ["nope"]})
    assert "'nope'" in str(pytest.raises(WorkFileError, load_work, path).value)


def test_malformed_toml_and_missing_file_name_the_file(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\n[[sources]\n', encoding="utf-8")
    message = str(pytest.raises(WorkFileError, load_work, broken).value)
    assert str(broken) in message and "line 2" in message
    assert "no such file" in str(pytest.raises(WorkFileError, load_work, tmp_path / "absent.toml").value)
    junk = tmp_path / "junk.toml"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in str(pytest.raises(WorkFileError, load_work, junk).value)


def test_expired_or_future_consent_is_refused_before_reading(make_work, tmp_path):
    (tmp_path / "a.csv").write_bytes(b"\x00\x01 not a csv at all")
    expired = consent(expires=date.today() - timedelta(days=1))
    path = make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": expired})
    work = load_work(path)
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(ConsentError, match="expired"):
        check_consents(work, store)
    future = consent(granted_at=date.today() + timedelta(days=3))
    work = load_work(make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": future}))
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(ConsentError, match="not yet in force"):
        check_consents(work, store)


def test_durations():
    assert parse_duration("90s").total_seconds() == 90
    assert parse_duration("1.5h").total_seconds() == 5400
    assert parse_duration("2w").days == 14
    for bad in ("", "0h", "h", "3 years"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_every_key_of_the_live_table_is_documented_with_its_default():
    import tomllib
    from pathlib import Path

    from sugarglass.live.settings import LiveSettings

    docs = (Path(__file__).resolve().parents[1] / "docs" / "live.md").read_text(encoding="utf-8")
    section = docs[docs.index("## The `[live]` table"):]
    example = section[section.index("```toml") + 7 : section.index("```", section.index("```toml") + 7)]
    table = tomllib.loads(example)["live"]
    assert set(table) == set(LiveSettings.model_fields), "a key of [live] is missing from docs/live.md"
    assert LiveSettings(**table) == LiveSettings(), "the documented values are the defaults"
