"""Affect: cleaning texts and scoring their feeling.

Analyzers share one small shape (``name``, ``language``, ``version``, ``licence``, ``lexicon``,
``score(text) -> Scores``); ``Analyzers`` holds one per language the work scores, so languages
join without the store or signal changing.
"""

from __future__ import annotations

from typing import Protocol

from ..records import Scores
from .cleaning import Cleaned, LanguageGuesser, clean, clean_text, duplicate_key
from .languages import Analyzers, language_code


class Analyzer(Protocol):
    name: str
    language: str
    version: str
    licence: str
    lexicon: str

    def score(self, text: str) -> Scores: ...


def make_analyzers(config) -> Analyzers:
    """The analyzers a work's ``[analyzer]`` table names (an ``AnalyzerConfig``), by language."""
    return Analyzers(config.languages)


__all__ = ["Analyzer", "Analyzers", "Cleaned", "LanguageGuesser", "clean", "clean_text", "duplicate_key",
           "language_code", "make_analyzers"]
