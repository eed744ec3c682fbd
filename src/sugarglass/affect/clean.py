"""Cleaning posts before scoring, as the 2019 script meant to and a little better.

Retweet prefixes, @handles, links and HTML go; punctuation, emoticons and emoji stay, because
VADER reads them ("!!!", ":(", "💔" all move the score). Duplicates are found by a hash of the
normalised text, and the language is recorded where it can be told cheaply.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_BLOCK_END = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_RETWEET = re.compile(r"^\s*RT\s+@[\w.]+(?:@[\w.-]+)?\s*:?\s*", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]+(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?")
_LINK = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]{2,}")

# Function words common in English and rare in other languages written in Latin script; two or
# more of them in plain ASCII text settle the language without running the classifier.
_ENGLISH_FUNCTION_WORDS = frozenset(
    "the and to of is are was were we our you your they their this that with for not it its "
    "be been have has will would can could from at by us all what when who there here just "
    "about so if but or my me do don't we're it's i'm".split()
)


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A cleaned text with its duplicate key and language (None when it cannot be told)."""

    text: str
    key: str
    language: str | None

    @property
    def is_english(self) -> bool:
        return self.language in (None, "en")


def strip_markup(text: str) -> str:
    """HTML tags out and entities decoded; block ends become spaces so words do not join."""
    if "<" in text:
        text = _TAG.sub("", _BLOCK_END.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return text


def clean_text(text: str) -> str:
    """The text VADER will read: no markup, retweet prefix, handles or links."""
    text = strip_markup(text)
    text = _RETWEET.sub("", text, count=1)
    if "@" in text:
        text = _HANDLE.sub("", text)
    if "://" in text or "www." in text:
        text = _LINK.sub("", text)
    return _SPACE.sub(" ", text).strip()


def duplicate_key(cleaned: str) -> str:
    """Hash of the text folded for case, width and spacing: equal keys are the same post."""
    folded = unicodedata.normalize("NFKC", cleaned).casefold()
    folded = _SPACE.sub(" ", folded).strip()
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=16).hexdigest()


class LanguageGuesser:
    """English by a cheap word test when it can; py3langid (shipped model) otherwise."""

    def __init__(self) -> None:
        self._classify = None

    def __call__(self, text: str) -> str | None:
        words = _WORD.findall(text)
        if len(words) < 2:
            return None
        if text.isascii():
            hits = sum(1 for word in words if word.lower() in _ENGLISH_FUNCTION_WORDS)
            if hits >= 2:
                return "en"
        if self._classify is None:
            import py3langid

            self._classify = py3langid.classify
        return self._classify(text)[0]


def clean(text: str, guess_language: LanguageGuesser) -> Cleaned:
    cleaned = clean_text(text)
    return Cleaned(cleaned, duplicate_key(cleaned), guess_language(cleaned) if cleaned else None)
