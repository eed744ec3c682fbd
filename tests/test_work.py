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
    assert "sources[a].txt_column: is not a known key (did you mean 'text_column'?)" in message
    assert "sources[b]: kind = 'cvs' is not a kind Sugarglass knows; kind must be one of: csv, tsv, jsonl," in message
    assert "(did you mean 'csv'?)" in message


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


def problems(make_work, *sources: dict, **top) -> list[str]:
    return pytest.raises(WorkFileError, load_work, make_work(*sources, **top)).value.problems


def with_consent(**changes) -> dict:
    return {"id": "a", "kind": "csv", "path": "a.csv", "consent": consent(**changes)}


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-13-01", "sources[a].consent.granted_at: granted_at = '2026-13-01' is not a day of the calendar "
                   "(month must be in 1..12): write it as YYYY-MM-DD without quotes, e.g. granted_at = 2026-09-01"),
    ("1 Sept 2026", "sources[a].consent.granted_at: granted_at = '1 Sept 2026' is not a date: write it as YYYY-MM-DD"),
    ("2026-9-1", "granted_at = '2026-9-1' is not a date: write it as YYYY-MM-DD"),
    (20260901, "granted_at = 20260901 is not a date: write it as YYYY-MM-DD"),
    (True, "granted_at = true is not a date"),
])
def test_a_bad_date_is_named_in_plain_words(make_work, value, expected):
    [problem] = problems(make_work, with_consent(granted_at=value))
    assert expected in problem and "invalid character" not in problem and "Input should" not in problem


def test_a_date_with_a_time_of_day_says_a_date_alone_is_wanted(make_work):
    from datetime import datetime

    [problem] = problems(make_work, with_consent(expires=datetime(2027, 9, 1, 18, 0)))
    assert problem == ("sources[a].consent.expires: expires = 2027-09-01T18:00:00 has a time of day; a date alone is "
                       "wanted: write it as YYYY-MM-DD, e.g. expires = 2026-09-01")


@pytest.mark.parametrize(("line", "expected"), [
    ("granted_at = 2026-13-01", "not valid TOML at line 12: granted_at = 2026-13-01 is not a day of the calendar "
                                "(month must be in 1..12): write it as YYYY-MM-DD, e.g. granted_at = 2026-09-01"),
    ("granted_at = 2026-02-30", "granted_at = 2026-02-30 is not a day of the calendar (day is out of range for month)"),
    ("granted_at = 2026/09/01", "not valid TOML at line 12: granted_at = 2026/09/01 is not a date: write it as YYYY-MM-DD"),
    ("granted_at = 1 Sept 2026", "granted_at = 1 Sept 2026 is not a date: write it as YYYY-MM-DD"),
    ('granted_at = 2026-09-01\nscope = keep-text', 'line 13: scope = keep-text: text must be in quotes, e.g. scope = "keep-text"'),
    ("granted_at = 2026-09-01 2026", "not valid TOML at line 12, column 25: expected newline or end of document after a "
                                     "statement: granted_at = 2026-09-01 2026"),
])
def test_toml_that_does_not_parse_says_what_to_write(tmp_path, line, expected):
    text = (f'name = "x"\n\n[[sources]]\nid = "a"\nkind = "csv"\npath = "a.csv"\n\n[sources.consent]\n'
            f'granted_by = "T"\nbasis = "explicit"\nlicence = "CC0-1.0"\n{line}\n')
    (tmp_path / "w.toml").write_text(text, encoding="utf-8")
    [problem] = pytest.raises(WorkFileError, load_work, tmp_path / "w.toml").value.problems
    assert expected in problem


@pytest.mark.parametrize(("change", "expected"), [
    ({"scope": "keep_text"}, "sources[a].consent.scope: scope = 'keep_text' is not one of: score, keep-text "
                             "(did you mean 'keep-text'?)"),
    ({"basis": "vibes"}, "sources[a].consent.basis: basis = 'vibes' is not one of: authored, explicit, licence, "
                         "public-domain, visitor"),
    ({"basis": "Explicit"}, "(did you mean 'explicit'?)"),
    ({"granted_by": ""}, "sources[a].consent.granted_by: granted_by = '' must not be empty"),
    ({"licence": 4}, "sources[a].consent.licence: licence = 4 is not text: put it in quotes"),
    ({"evidense": "x"}, "sources[a].consent.evidense: is not a known key (did you mean 'evidence'?)"),
])
def test_consent_values_are_named_in_plain_words(make_work, change, expected):
    assert any(expected in problem for problem in problems(make_work, with_consent(**change)))


def test_a_missing_field_says_what_it_needs(make_work):
    record = consent()
    del record["granted_at"], record["granted_by"]
    found = problems(make_work, {"id": "a", "kind": "csv", "path": "a.csv", "consent": record})
    assert "sources[a].consent.granted_at: is missing: granted_at needs a date, e.g. granted_at = 2026-09-01" in found
    assert 'sources[a].consent.granted_by: is missing: granted_by needs text in quotes, e.g. granted_by = "..."' in found
    [path] = problems(make_work, {"id": "a", "kind": "csv", "consent": consent()})
    assert path == 'sources[a].path: is missing: path needs a path in quotes, relative to the work file, e.g. path = "data/posts.csv"'


@pytest.mark.parametrize(("top", "expected"), [
    ({"signal": {"posts_per_tick": 0}}, "signal.posts_per_tick: posts_per_tick = 0 is too small: it must be at least 1"),
    ({"seed": -3}, "seed: seed = -3 is too small: it must be at least 0"),
    ({"seed": 1.5}, "seed: seed = 1.5 is not a whole number"),
    ({"seed": "seven"}, "seed: seed = 'seven' is not a whole number"),
    ({"scale": {"connect_timeout": 900}}, "scale.connect_timeout: connect_timeout = 900 is too large: it must be at most 300"),
    ({"signal": {"fill": "zero"}}, "signal.fill: fill = 'zero' is not one of: hold, neutral"),
    ({"signal": {"windw": "1d"}}, "signal.windw: is not a known key (did you mean 'window'?)"),
    ({"signal": "1d"}, "signal: signal = '1d' is not a table: write it as a [signal] table with its keys below it"),
    ({"name": "My Work"}, "name: name = 'My Work' is not a usable name: use lowercase letters, digits, '-' and '_', "
                          "starting with a letter or digit, e.g. name = 'my-work'"),
    ({"provenance": {"include_evidence": "perhaps"}}, "provenance.include_evidence: include_evidence = 'perhaps' is not "
                                                      "true or false: write include_evidence = true or include_evidence = false"),
])
def test_numbers_enums_tables_and_names_are_named_in_plain_words(make_work, top, expected):
    [problem] = problems(make_work, source("a", "csv", "a.csv"), **top)
    assert expected in problem and "Input should" not in problem


@pytest.mark.parametrize(("top", "expected"), [
    ({"couplings": {"set": {"growback": 3}}}, ["couplings.set.growback: growback = 3 is neither a table nor text in quotes"]),
    ({"couplings": {"set": {"growback": {"exp": "0.5"}}}}, [
        "couplings.set.growback.exp: is not a known key (did you mean 'expr'?)",
        'couplings.set.growback.expr: is missing: expr needs text in quotes, e.g. expr = "..."']),
    ({"outputs": [{"host": "127.0.0.1"}]}, ["outputs[0]: needs a 'kind': kind = one of levels, osc, serial, sacn"]),
])
def test_a_union_answers_once_about_the_key_the_artist_wrote(make_work, top, expected):
    assert sorted(problems(make_work, source("a", "csv", "a.csv"), **top)) == sorted(expected)


def test_a_work_with_no_sources_says_so(make_work):
    assert problems(make_work) == ["sources: needs at least 1 entry, has 0"]


def test_the_provenance_table_holds_include_evidence_off_by_default(make_work):
    assert load_work(make_work(source("a", "csv", "a.csv"))).provenance.include_evidence is False
    work = load_work(make_work(source("a", "csv", "a.csv"), provenance={"include_evidence": True, "data_mining": "DMI-PROHIBITED"}))
    assert work.provenance.include_evidence is True and work.provenance.data_mining == "DMI-PROHIBITED"
    assert problems(make_work, source("a", "csv", "a.csv"), provenance={"include_evidense": True}) == [
        "provenance.include_evidense: is not a known key (did you mean 'include_evidence'?)"]


def test_on_repeated_id_is_skip_by_default_and_checked(make_work):
    assert load_work(make_work(source("a", "csv", "a.csv"))).sources[0].on_repeated_id == "skip"
    assert load_work(make_work(source("a", "csv", "a.csv", on_repeated_id="fail"))).sources[0].on_repeated_id == "fail"
    assert problems(make_work, source("a", "csv", "a.csv", on_repeated_id="error")) == [
        "sources[a].on_repeated_id: on_repeated_id = 'error' is not one of: fail, skip"]


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
