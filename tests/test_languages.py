"""Scoring beyond English: each language by an analyzer made for it, the declared language
before the guess, the analyzers on one scale (the project's parallel posts), and the store's
schema 3 naming the analyzer of every post."""

from __future__ import annotations

import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from support import REPO, consent

from sugarglass.affect import Analyzers, LanguageGuesser, language_code
from sugarglass.ingest import VisitorRefused, ingest_visitor, ingest_work
from sugarglass.records import Post
from sugarglass.sources.report import ReadReport
from sugarglass.store import Store
from sugarglass.work import load_work

sys.path.insert(0, str(REPO / "benchmarks"))
import languages as parallel  # noqa: E402


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return parallel.load_rows()


def test_each_language_agrees_with_english_vader_far_better_with_its_own_lexicon(rows):
    figures = parallel.correlations(rows)
    for language in ("fr", "pt"):
        own, borrowed = figures[language]["native"], figures[language]["english_vader_on_translation"]
        assert own["pearson"] >= 0.7, f"{language}: r = {own['pearson']:.3f} on {len(rows)} parallel posts"
        assert own["pearson"] - borrowed["pearson"] > 0.25 and borrowed["zero_share"] > 0.7


def test_the_language_of_short_campaign_posts_is_told_right(rows):
    figures = parallel.identification(rows)
    assert figures["all"]["accuracy"] >= 0.97 and figures["among"]["short_accuracy"] >= 0.95


@pytest.mark.parametrize(("tag", "code"), [("pt-BR", "pt"), ("EN", "en"), ("fr_CA", "fr"), ("und", None), ("", None), ("12", None)])
def test_declared_tags_become_language_codes(tag, code):
    assert language_code(tag) == code


def test_a_declared_language_is_believed_before_the_classifier(make_work, tmp_path):
    from sugarglass.ingest import prepare_post

    analyzers = Analyzers({"fr": "vader-fr"})
    report = ReadReport(tmp_path / "x", "skip")
    text = "Merci beaucoup, quelle belle journée de lutte ensemble !"
    declared = prepare_post(Post("1", text, None, "s", 1, "fr"), True, LanguageGuesser(), analyzers, set(), report, True)
    assert (declared.language, declared.analyzer) == ("fr", "vader-fr") and declared.scores[0] > 0.3
    mislabelled = prepare_post(Post("2", text, None, "s", 2, "pt"), True, LanguageGuesser(), analyzers, set(), report, True)
    assert mislabelled is None and report.left_out == {"no analyzer for its language": 1}, \
        "declared Portuguese, which this work does not score: never read with the French lexicon"


def test_flag_scores_an_unscored_language_with_english_vader_and_marks_it(tmp_path, make_work):
    (tmp_path / "a.csv").write_text('text\n"Wir streiken morgen vor dem Rathaus, kommt alle!"\n"We strike tomorrow, come along!"\n',
                                    encoding="utf-8")
    source = {"id": "a", "kind": "csv", "path": "a.csv", "consent": consent()}
    for setting, added in (("flag", 2), ("skip", 1)):
        work = load_work(make_work(source, name=f"w-{setting}", analyzer={"languages": {"fr": "vader-fr"}, "non_english": setting}))
        with Store(work.store_path) as store:
            assert ingest_work(work, store)[0].added == added
            rows = store.db.execute("SELECT language, analyzer, non_english FROM posts ORDER BY id").fetchall()
        assert rows[-1] == ("en", "vader", 0)
        if setting == "flag":
            assert rows[0] == ("de", "vader", 1)


def test_a_visitor_writing_french_is_scored_in_french_and_one_writing_german_is_told_which_languages(tmp_path):
    analyzers = Analyzers({"fr": "vader-fr", "pt": "leia"})
    now = datetime.now(timezone.utc)
    with Store(tmp_path / "s.sqlite") as store:
        ingest_visitor(store, analyzers, LanguageGuesser(), "Merci pour cette magnifique œuvre, quel bonheur !", "score", now, True)
        assert store.db.execute("SELECT language, analyzer FROM posts").fetchall() == [("fr", "vader-fr")]
        with pytest.raises(VisitorRefused, match="English, French and Portuguese only"):
            ingest_visitor(store, analyzers, LanguageGuesser(), "Vielen Dank für diese wunderbare Arbeit heute", "score", now, True)


def test_a_schema_2_store_gains_the_analyzer_column_and_keeps_every_post(make_work, tmp_path):
    (tmp_path / "a.csv").write_text("text\nhope on the river\nanger at the mill\n", encoding="utf-8")
    work = load_work(make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": consent()}))
    with Store(work.store_path) as store:
        ingest_work(work, store)
    _schema_2(work.store_path)
    with Store(work.store_path) as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
        assert store.db.execute("SELECT count(*), count(analyzer) FROM posts").fetchone() == (2, 0)
        assert store.languages(["a"]) == {"en": {"vader": 2}}, "an older post is named by its ingest's analyzer"
        assert store.account_signals("a") is None


def _schema_2(path: Path) -> None:
    """The store as schema 2 left it: posts without an analyzer, no account ledger."""
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE posts DROP COLUMN analyzer")
    db.execute("DROP TABLE account_signals")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    db.commit()
    db.close()


def test_guess_among_settles_short_posts_but_never_takes_a_confident_other_language(make_work, tmp_path):
    guesser = LanguageGuesser(["en", "fr", "pt"])
    assert guesser("Obrigado a todas") == "pt"
    assert guesser("Wir streiken morgen vor dem Rathaus") == "de"
    assert guesser("Vuelve la asesoría legal gratuita todos los martes") == "es"
    (tmp_path / "a.csv").write_text('text\n"Wir streiken morgen vor dem Rathaus, kommt alle!"\n', encoding="utf-8")
    work = load_work(make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": consent()},
                               analyzer={"languages": {"fr": "vader-fr", "pt": "leia"}, "non_english": "skip",
                                         "guess_among": ["en", "fr", "pt"]}))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
    assert result.added == 0 and result.left_out == {"no analyzer for its language": 1}


def test_a_guess_among_entry_that_is_not_a_language_code_is_refused_with_its_key(make_work, tmp_path):
    from sugarglass.errors import SugarglassError

    with pytest.raises(SugarglassError, match="guess_among.*'French' is not an ISO 639 language code"):
        load_work(make_work({"id": "a", "kind": "csv", "path": "a.csv", "consent": consent()},
                            analyzer={"guess_among": ["en", "French"]}))
