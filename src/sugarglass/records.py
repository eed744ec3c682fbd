"""Small records passed between stages: a post as read, and its feeling as scored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Post:
    """One post as a reader yields it, before cleaning.

    ``line`` is where it starts in its file (1-based), so a later stage can still point at it.
    ``created_at`` is timezone-aware UTC, or None for sources that only have an order.
    ``language`` is the ISO 639 code the author declared (Mastodon's ``language``, Bluesky's
    ``langs``), None where the source declares none and the classifier must guess.
    """

    id: str
    text: str
    created_at: datetime | None
    source: str
    line: int
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    """The affect of one text. ``compnorm`` is compound rescaled to [0, 1], as in 2019."""

    compound: float
    pos: float
    neg: float
    neu: float

    @property
    def compnorm(self) -> float:
        return (self.compound + 1.0) / 2.0


@dataclass(frozen=True, slots=True)
class ScoredPost:
    """A post that arrives already scored (the 2019 ``feelings.db`` holds no text)."""

    id: str
    scores: Scores
    created_at: datetime | None
    source: str
    line: int
