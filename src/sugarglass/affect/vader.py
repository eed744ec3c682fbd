"""VADER through the ``vaderSentiment`` package itself, so scores equal the reference exactly."""

from __future__ import annotations

from importlib.metadata import version

from ..records import Scores


class VaderAnalyzer:
    """One ``polarity_scores`` call per text; the lexicon loads once per analyzer."""

    name = "vader"
    licence = "MIT (VADER lexicon and rules, C.J. Hutto, vaderSentiment package)"
    lexicon = "vader_lexicon.txt and emoji_utf8_lexicon.txt, as the vaderSentiment package ships them"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._polarity_scores = SentimentIntensityAnalyzer().polarity_scores
        self.version = version("vaderSentiment")

    def score(self, text: str) -> Scores:
        result = self._polarity_scores(text)
        return Scores(result["compound"], result["pos"], result["neg"], result["neu"])
