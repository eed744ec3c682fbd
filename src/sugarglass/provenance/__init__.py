"""Provenance: manifests built, embedded in every output, verified, and exported as W3C PROV."""

from .embed import DamagedFile, label, read_label
from .manifest import (
    DIGITAL_SOURCE_TYPES,
    FORMAT,
    ProvenanceConfig,
    build_manifest,
    canonical,
    seal,
    sha256_file,
    write_atomic,
    write_manifest,
)

__all__ = [
    "DIGITAL_SOURCE_TYPES", "FORMAT", "DamagedFile", "ProvenanceConfig", "build_manifest", "canonical", "label",
    "read_label", "seal", "sha256_file", "write_atomic", "write_manifest",
]
