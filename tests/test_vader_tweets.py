"""VADER's 4,200 human-rated tweets through a real ingest: only exact duplicates may vanish.

The data is ``tests/data/vader/tweets_GroundTruth.txt`` (MIT, from the vaderSentiment 3.3.2
distribution; see the README beside it): each line an id, the mean of 20 people's ratings and
the tweet. Hutto & Gilbert (ICWSM 2014) report r = 0.881 between VADER's compound and that mean,
but they measured the 2014 VADER: vaderSentiment 3.3.2, whose scores Sugarglass reproduces to the
last digit, gives r = 0.8722 on the same 4,200 tweets, so the package on the same tweets is the
fair yardstick, not the paper. When the duplicate key folded case, 61 tweets that VADER scores
apart ("STUPID rain" and "Stupid rain") were dropped as duplicates and r fell to 0.8669.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from support import REPO, consent
from sugarglass.affect import clean_text
from sugarglass.ingest import ingest_work
from sugarglass.store import Store
from sugarglass.work import load_work

GROUND_TRUTH = REPO / "tests" / "data" / "vader" / "tweets_GroundTruth.txt"


def ground_truth() -> list[tuple[str, float, str]]:
    rows = [line.rstrip("\r\n").split("\t") for line in GROUND_TRUTH.open(encoding="utf-8") if line.strip()]
    return [(tweet_id, float(mean), text) for tweet_id, mean, text in rows]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> tuple[list, dict[str, float]]:
    folder: Path = tmp_path_factory.mktemp("vader")
    rows = ground_truth()
    with (folder / "tweets.jsonl").open("w", encoding="utf-8") as handle:
        for tweet_id, _, text in rows:
            handle.write(json.dumps({"id": tweet_id, "text": text}, ensure_ascii=False) + "\n")
    record = consent(basis="licence", licence="MIT", evidence="tests/data/vader/README.md")
    path = folder / "vader.toml"
    path.write_text(
        'name = "vader"\n[[sources]]\nid = "tweets"\nkind = "jsonl"\npath = "tweets.jsonl"\n[sources.consent]\n'
        + "".join(f"{key} = {json.dumps(value) if isinstance(value, str) else value.isoformat()}\n" for key, value in record.items()),
        encoding="utf-8",
    )
    with Store(folder / "vader.sqlite") as store:
        results = ingest_work(load_work(path), store)
        compound = dict(store.db.execute("SELECT p.post_id, f.compound FROM posts p JOIN feelings f ON f.post = p.id"))
    return results, compound


def test_no_tweet_vanishes_as_a_duplicate_but_an_exact_one(ingested):
    [result], compound = ingested
    rows = ground_truth()
    assert (result.read, result.bad) == (4200, 0)
    cleaned = Counter(clean_text(text) for _, _, text in rows)
    exact = sum(n - 1 for n in cleaned.values())
    assert exact == 1  # "Yay!", twice
    assert result.left_out == {"duplicate text": exact} and result.added == len(compound) == 4200 - exact
    vanished = [(tweet_id, text) for tweet_id, _, text in rows if tweet_id not in compound]
    assert [cleaned[clean_text(text)] for _, text in vanished] == [2]


def test_compound_against_the_human_mean_is_as_good_as_the_package_on_the_same_tweets(ingested):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    _, compound = ingested
    rows = ground_truth()
    human = np.array([mean for _, mean, _ in rows])
    analyzer = SentimentIntensityAnalyzer()
    package = np.array([analyzer.polarity_scores(text)["compound"] for _, _, text in rows])
    reference = np.corrcoef(package, human)[0, 1]
    kept = [(compound[tweet_id], mean) for tweet_id, mean, _ in rows if tweet_id in compound]
    ours = np.corrcoef(*zip(*kept))[0, 1]
    assert 0.872 < reference < 0.8725  # vaderSentiment 3.3.2 on the raw tweets; the 2014 paper's 0.881 is another VADER
    # cleaning takes out @handles and decodes &amp; (r moves by under 1e-4); dropping case-folded
    # "duplicates" cost 0.0053
    assert ours >= reference - 0.001, f"r = {ours:.4f} against the package's {reference:.4f}"
