"""Consent records: who agreed to what, so that nothing enters without one.

A record travels with its source from the work file into the store and into every manifest.
Its ``scope`` is the one switch that decides whether text may ever touch the disk.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import ConsentError

Scope = Literal["score", "keep-text"]
Basis = Literal["authored", "explicit", "licence", "public-domain", "visitor"]


class Consent(BaseModel):
    """The consent a source was given under.

    ``basis`` says why use is allowed: ``authored`` (the artist or project wrote it),
    ``explicit`` (the authors agreed in words), ``licence`` (an open licence covers this use),
    ``public-domain``, or ``visitor`` (given in the gallery through the visitor form).
    ``scope`` is ``score`` (only feelings are kept) or ``keep-text`` (the text may be stored).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    granted_by: str = Field(min_length=1, description="who granted consent")
    basis: Basis
    scope: Scope
    licence: str = Field(min_length=1, description="SPDX id or the licence's words")
    granted_at: date
    evidence: str = Field(min_length=1, description="a URI or a note of where the consent is recorded")
    expires: date | None = None

    @field_validator("granted_by", "licence", "evidence")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if value.strip().upper().startswith("FILL IN"):  # the stub `sugarglass init` writes for the artist's own source
            raise ValueError(f"is still the placeholder {value.strip()!r}: write the real record before this source may be read")
        return value.strip()

    @property
    def keeps_text(self) -> bool:
        return self.scope == "keep-text"

    def check_in_force(self, source_id: str, today: date | None = None) -> None:
        """Refuse use of a source whose consent is not yet granted or has run out."""
        today = today or date.today()
        if self.granted_at > today:
            raise ConsentError(
                f"source {source_id!r}: consent is granted from {self.granted_at}, not yet in force"
            )
        if self.expires is not None and self.expires < today:
            raise ConsentError(f"source {source_id!r}: consent expired on {self.expires}")
