"""Affect: cleaning texts and scoring their feeling.

Analyzers share one small shape (``name``, ``version``, ``licence``, ``score(text) -> Scores``)
so that emotion lexicons can join VADER later without the store or signal changing.
"""

from __future__ import annotations

from typing import Protocol

from ..records import Scores
from .cleaning import Cleaned, LanguageGuesser, clean, clean_text, duplicate_key


class Analyzer(Protocol):
    name: str
    version: str
    licence: str

    def score(self, text: str) -> Scores: ...


def make_analyzer(name: str) -> Analyzer:
    if name == "vader":
        from .vader import VaderAnalyzer

        return VaderAnalyzer()
    raise ValueError(f"unknown analyzer {name!r} (known: vader)")


__all__ = ["Analyzer", "Cleaned", "LanguageGuesser", "clean", "clean_text", "duplicate_key", "make_analyzer"]
