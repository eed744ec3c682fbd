"""Cleaning posts before scoring, as the 2019 script meant to and a little better.

Retweet prefixes, @handles, links and HTML go; punctuation, emoticons and emoji stay, because
VADER reads them ("!!!", ":(", "💔" all move the score). Duplicates are found by a hash of the
cleaned text exactly as VADER will read it, and the language is recorded where it can be told
cheaply.
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
_WORD = re.compile(r"[^\W\d_][^\W\d_']+(?:'[^\W\d_]+)?")

# Function words common in English and rare as words of other languages in Latin script. When at
# least two of them make up an eighth of a text's words, the text is English without running the
# classifier; emoji and accents around them do not matter.
_ENGLISH_FUNCTION_WORDS = frozenset(
    "the and to of is are were we our you your they their this that with for not it its "
    "been have has would can could from at by us what when who there here just about if but "
    "or my don't we're it's i'm you're they're isn't aren't won't can't".split()
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
    if text.lstrip()[:2].upper() == "RT":
        text = _RETWEET.sub("", text, count=1)
    if "@" in text:
        text = _HANDLE.sub("", text)
    if "://" in text or "www." in text:
        text = _LINK.sub("", text)
    return " ".join(text.split())


def duplicate_key(cleaned: str) -> str:
    """Hash of the cleaned text exactly (its spacing already collapsed): equal keys are the same
    post. Nothing else is folded, since VADER scores "STUPID rain" and "stupid rain" apart,
    and posts that score apart are not one post."""
    return hashlib.blake2b(cleaned.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


LEGACY_KEY = "folded:"
"""The mark a store put on keys made before duplicate keys stopped folding case (schema 1), for
posts whose text was not kept and so could not be keyed again."""


def folded_key(cleaned: str) -> str:
    """The key schema-1 stores gave a post (text folded for case, width and spacing), marked:
    new posts are compared with such keys so that an old store's posts are not taken in twice."""
    folded = " ".join(unicodedata.normalize("NFKC", cleaned).casefold().split())
    return LEGACY_KEY + hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class LanguageGuesser:
    """English by a cheap word test when it can; py3langid (its shipped model) otherwise.

    ``among`` lists the languages a work's sources write in. It only settles posts the
    classifier is unsure of (a few words that several languages share): a post it finds
    confidently in another language keeps that language, so a work that skips unscored
    languages never reads it with a lexicon made for one of these."""

    CONFIDENT = 0.5
    """The classifier's probability above which its first guess stands, listed or not."""

    def __init__(self, among: list[str] | None = None) -> None:
        self.among = sorted(set(among)) if among else None
        self._classify = None

    def __call__(self, text: str) -> str | None:
        words = _WORD.findall(text.lower())
        if len(words) < 2:
            return None
        hits = sum(map(_ENGLISH_FUNCTION_WORDS.__contains__, words))
        if hits >= 2 and 8 * hits >= len(words):
            return "en"
        if self._classify is None:
            self._classify = _classifier(self.among, self.CONFIDENT)
        return self._classify(text)


def _classifier(among: list[str] | None, confident: float):
    import py3langid.langid as langid

    if among is None:
        return lambda text: langid.classify(text)[0]
    identifier = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE, norm_probs=True)
    listed = set(among)

    def classify(text: str) -> str:
        ranked = identifier.rank(text)
        first, probability = ranked[0]
        if first in listed or probability >= confident:
            return first
        return next((language for language, _ in ranked if language in listed), first)

    return classify


def clean(text: str, guess_language: LanguageGuesser, declared: str | None = None) -> Cleaned:
    """The cleaned text, its key, and its language: the one its author declared (already a code,
    see ``languages.language_code``) or else the guess."""
    cleaned = clean_text(text)
    if not cleaned:
        return Cleaned(cleaned, duplicate_key(cleaned), None)
    return Cleaned(cleaned, duplicate_key(cleaned), declared or guess_language(cleaned))
