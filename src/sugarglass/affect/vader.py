"""VADER through the ``vaderSentiment`` package itself, so scores equal the reference exactly,
with the package's three quadratic steps made linear.

``polarity_scores`` in vaderSentiment 3.3.2 lowercases the whole text's word list again for
every sentiment word it meets (``_negation_check`` three times, ``_special_idioms_check`` once)
and, when the text holds "but", finds each score by ``list.index``. A post's time therefore
grows with the square of its words: 8,000 emoji, each described in lexicon words, take tens of
seconds. (The emoji replacement loop, blamed in cjhutto/vaderSentiment#110, is linear here:
CPython extends the string in place.) Both checks only look three words back and two ahead, so
they are given those words alone; ``_but_check`` keeps its exact arithmetic, including its
quirk of scaling the first score equal to each one, with a heap of positions per score.
Everything else is the package's own code.
"""

from __future__ import annotations

import heapq
from importlib.metadata import version

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from ..records import Scores
from .lexicons import LEXICONS

_REACH = 3
"""How many words before a sentiment word the package's checks read (and two after)."""


class LinearVader(SentimentIntensityAnalyzer):
    """``SentimentIntensityAnalyzer`` with linear-time checks and identical scores."""

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        if i < _REACH:
            return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons, start_i, i)
        window = words_and_emoticons[i - _REACH : i + 1]
        return SentimentIntensityAnalyzer._negation_check(valence, window, start_i, _REACH)

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        if i < _REACH:
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons, i)
        window = words_and_emoticons[i - _REACH : i + _REACH]
        return SentimentIntensityAnalyzer._special_idioms_check(valence, window, _REACH)

    @staticmethod
    def _but_check(words_and_emoticons, sentiments):
        """The package's loop: for each position k, the first position holding a score equal to
        the one at k is halved before the first "but" and raised by half after it."""
        lowered = [str(w).lower() for w in words_and_emoticons]
        if "but" not in lowered:
            return sentiments
        but = lowered.index("but")
        holding: dict[float, list[int]] = {}
        for position, score in enumerate(sentiments):
            holding.setdefault(score, []).append(position)  # ascending, so already a heap
        for k in range(len(sentiments)):
            score = sentiments[k]
            heap = holding[score]
            while sentiments[heap[0]] != score:  # positions whose score has changed since
                heapq.heappop(heap)
            first = heap[0]
            if first == but:
                continue
            changed = score * 0.5 if first < but else score * 1.5
            sentiments[first] = changed
            heapq.heappush(holding.setdefault(changed, []), first)
        return sentiments


class VaderAnalyzer:
    """One ``polarity_scores`` call per text; the lexicon loads once per analyzer."""

    name = "vader"
    language = "en"
    licence = LEXICONS["vader"].licence
    lexicon = LEXICONS["vader"].lexicon

    def __init__(self) -> None:
        self._polarity_scores = LinearVader().polarity_scores
        self.version = version("vaderSentiment")

    def score(self, text: str) -> Scores:
        result = self._polarity_scores(text)
        return Scores(result["compound"], result["pos"], result["neg"], result["neu"])
