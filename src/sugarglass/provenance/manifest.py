"""Manifests: what went into an output, said exactly, and sealed so a change shows.

A run's manifest names the work, every source with its consent record, the hash of the content
it was read from and how many of its posts were used, the analyzer and its lexicon with their
licence, the society's preset and every resolved option, the couplings, the seed and the package
version. ``manifest.json`` beside the outputs adds the SHA-256 of every file; each output also
carries the manifest itself (see ``embed``), with the hash of its own content and a seal.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..files import shared_path, write_atomic

FORMAT = "sugarglass-manifest"
VERSION = 1

DIGITAL_SOURCE_TYPES = {
    "painting": "http://cv.iptc.org/newscodes/digitalsourcetype/dataDrivenMedia",
    "model": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "composite": "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
}
PLUS_DATA_MINING = "http://ns.useplus.org/ldf/vocab/"
DataMining = Literal[
    "DMI-UNSPECIFIED", "DMI-ALLOWED", "DMI-PROHIBITED-AIMLTRAINING", "DMI-PROHIBITED-GENAIMLTRAINING",
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", "DMI-PROHIBITED", "DMI-PROHIBITED-SEECONSTRAINT",
]


class C2paConfig(BaseModel):
    """The `[provenance.c2pa]` table of a work file. Relative paths are from the work file's folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate: Path  # PEM chain, the artist's own certificate first
    private_key: Path  # PEM, unencrypted
    algorithm: Literal["es256", "es384", "ps256", "ed25519"] = "es256"
    timestamp_url: str | None = None  # an RFC 3161 time-stamp authority; None signs offline


class ProvenanceConfig(BaseModel):
    """The ``[provenance]`` table: the artist's own word on data mining of the outputs, stated
    in every file as the PLUS vocabulary says it (``DMI-PROHIBITED-AIMLTRAINING`` and so on).
    Sugarglass does not choose for the artist: unless the work says, it writes UNSPECIFIED."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_mining: DataMining = "DMI-UNSPECIFIED"
    constraint: str = ""
    include_evidence: bool = Field(default=False, description="copy each consent's evidence (a URL, an address, a note) into the manifests")
    c2pa: C2paConfig | None = None

    def c2pa_training_mining(self) -> tuple[Literal["allowed", "notAllowed", "constrained"], str | None]:
        """The same choice in the words of the CAWG training-and-mining assertion: allowed,
        not allowed, or constrained with the PLUS term (and the artist's words) as the reason."""
        if self.data_mining == "DMI-ALLOWED":
            return "allowed", None
        if self.data_mining == "DMI-PROHIBITED":
            return "notAllowed", None
        words = "the artist has stated no choice" if self.data_mining == "DMI-UNSPECIFIED" else self.data_mining
        return "constrained", f"{words}: {self.constraint}" if self.constraint else words

    @property
    def data_mining_uri(self) -> str:
        return PLUS_DATA_MINING + self.data_mining


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(value: Any) -> bytes:
    """One byte string per JSON value (sorted keys, no spaces), so a seal can be recomputed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def seal(manifest: dict, content: dict) -> str:
    return hashlib.sha256(canonical({"manifest": manifest, "content": content})).hexdigest()


def build_manifest(*, work: Any, sources: list[dict], analyzer: dict, seed: int, steps: int,
                   sections: dict[str, Any], provenance: ProvenanceConfig, kind: str = "painting") -> dict:
    """The manifest of one run, without its file list; ``sections`` holds each stage's
    resolved settings."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generator": {"name": "sugarglass", "version": __version__},
        "work": {
            "name": work.name, "title": work.title, "artist": work.artist,
            "file": work.path.name, "sha256": sha256_file(work.path),
            "store": shared_path(work.store_path, work.base_dir),
        },
        "digital_source_type": DIGITAL_SOURCE_TYPES[kind],
        "data_mining": {"plus": provenance.data_mining_uri, "constraint": provenance.constraint},
        "seed": seed,
        "steps": steps,
        "sources": [shared_source(source, provenance.include_evidence) for source in sources],
        "analyzer": analyzer,
        **sections,
    }


def shared_source(source: dict, include_evidence: bool) -> dict:
    """A source's record as an output may show it. Consent evidence is often a private
    address, an email or a contract's file name: it stays in the store, and the manifest keeps
    the record's hash (which ``verify`` checks) unless the artist chose to publish it."""
    if include_evidence or "consent" not in source:
        return source
    consent = {key: value for key, value in source["consent"].items() if key != "evidence"}
    return {**source, "consent": consent}


def write_manifest(path: Path, manifest: dict, files: list[Path]) -> Path:
    """``manifest.json``: the manifest and the SHA-256 of every file, named relative to it."""
    listed = {str(f.relative_to(path.parent)): sha256_file(f) for f in sorted(files)}
    return write_atomic(path, (json.dumps({**manifest, "files": listed}, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
