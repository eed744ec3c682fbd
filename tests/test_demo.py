"""The bundled demo corpus: big enough, spread in time, and scored exactly as VADER scores."""

from __future__ import annotations

import csv
from datetime import datetime

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from support import DEMO_WORK
from sugarglass.ingest import ingest_work
from sugarglass.store import Store
from sugarglass.work import load_work


def test_demo_corpus_shape():
    with (DEMO_WORK.parent / "demo" / "campaign-posts.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 300
    times = [datetime.fromisoformat(r["created_at"]) for r in rows]
    assert (max(times) - min(times)).days >= 30
    assert len({r["id"] for r in rows}) == len(rows)


def test_demo_scores_equal_the_vader_package_exactly(tmp_path):
    work = load_work(DEMO_WORK)
    with Store(tmp_path / "demo.sqlite") as store:
        [result] = ingest_work(work, store)
        stored = store.db.execute(
            "SELECT p.text, p.non_english, f.compound, f.pos, f.neg, f.neu, f.compnorm FROM posts p JOIN feelings f ON f.post = p.id"
        ).fetchall()
    assert result.added == len(stored) >= 300
    vader = SentimentIntensityAnalyzer()
    for text, _, compound, pos, neg, neu, compnorm in stored:
        expected = vader.polarity_scores(text)
        assert (compound, pos, neg, neu) == (expected["compound"], expected["pos"], expected["neg"], expected["neu"]), text
        assert compnorm == (expected["compound"] + 1) / 2
    assert sum(row[1] for row in stored) >= 10, "the demo has posts in other languages, flagged"
    assert min(row[2] for row in stored) < -0.5 < 0.5 < max(row[2] for row in stored)
