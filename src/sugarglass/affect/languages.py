"""The work's analyzers by language, and the language a post is in.

A post is scored by the analyzer the work names for its language, and by no other: the English
VADER always, French or Portuguese where the work file's ``[analyzer.languages]`` asks for them.
A post's own declared language (Mastodon's ``language``, Bluesky's ``langs``) is believed first,
since its author chose it; the classifier guesses only for posts that declare none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..records import Scores
from .lexicons import LEXICONS, PackageAnalyzer, make_leia, make_vader_fr

_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]+)*$")
UNDETERMINED = {"und", "mul", "zxx", "mis"}
"""ISO 639 codes that say a language is unknown, several, none or uncoded."""

LANGUAGE_NAMES = {"en": "English", "fr": "French", "pt": "Portuguese"}


def language_code(tag: str | None) -> str | None:
    """The ISO 639 code of a BCP 47 tag as posts declare it (``pt-BR`` -> ``pt``, ``EN`` -> ``en``);
    None for a tag that names no single language or is not a tag at all."""
    if not tag or not isinstance(tag, str):
        return None
    match = _TAG.match(tag.strip().lower())
    if not match or match.group(1) in UNDETERMINED:
        return None
    return match.group(1)


def _english() -> PackageAnalyzer:
    from .vader import VaderAnalyzer

    return VaderAnalyzer()


_FACTORIES = {"vader": _english, "vader-fr": make_vader_fr, "leia": make_leia}


class Analyzers:
    """One analyzer per language the work scores; English VADER is always among them.

    ``name`` and ``version`` together say which analyzers scored an ingest, so that a store
    scored by English VADER alone is not read again when nothing changed, and is when the work
    adds a language."""

    def __init__(self, languages: Mapping[str, str] | None = None) -> None:
        chosen = {"en": "vader", **dict(languages or {})}
        for language, analyzer in chosen.items():
            if analyzer not in LEXICONS:
                raise ValueError(f"unknown analyzer {analyzer!r} (known: {', '.join(LEXICONS)})")
            if LEXICONS[analyzer].language != language:
                raise ValueError(f"{analyzer!r} scores {LEXICONS[analyzer].language!r}, not {language!r}")
        self.by_language = {language: _FACTORIES[analyzer]() for language, analyzer in sorted(chosen.items())}
        self.english = self.by_language["en"]
        others = [f"{lang}:{a.name}" for lang, a in self.by_language.items() if lang != "en"]
        self.name = "+".join([self.english.name, *others])
        self.version = "+".join(a.version for a in self.by_language.values())
        self.licence = "; ".join(f"{a.name}: {a.licence}" for a in self.by_language.values())

    @property
    def languages(self) -> list[str]:
        return list(self.by_language)

    def for_language(self, language: str | None):
        """The analyzer for a post in ``language``; None if the work scores none for it. A post
        whose language cannot be told (too short) is read as English, as in 2019."""
        return self.by_language.get(language or "en")

    def score(self, text: str, language: str | None = None) -> Scores:
        analyzer = self.for_language(language)
        if analyzer is None:
            raise ValueError(f"no analyzer for language {language!r} (this work scores {', '.join(self.languages)})")
        return analyzer.score(text)

    def record(self) -> list[dict]:
        """Each analyzer as a manifest names it: language, id, version, licence and lexicon."""
        return [{"language": lang, "name": a.name, "version": a.version, "licence": a.licence, "lexicon": a.lexicon}
                for lang, a in self.by_language.items()]

    def describe_languages(self) -> str:
        """"English, French and Portuguese": for a visitor told which languages the work reads."""
        names = [LANGUAGE_NAMES.get(lang, lang) for lang in self.by_language]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
