"""C2PA Content Credentials: sign an output with the artist's certificate, and read them back.

The manifest written beside an output can be separated from it; a C2PA manifest travels inside the
file, is bound to its bytes by a hash, and is signed with a certificate that names the artist. It
says the file was made by Sugarglass from data (`c2pa.actions`), what the artist allows machine
learning to do with it (`cawg.training-mining`), and carries the run manifest itself
(`org.sugarglass.manifest`).

Everything that can be wrong with a certificate or key is found by `load_signer`, before a run
writes anything: an artist should not learn at the end of a night's run that the outputs could not
be signed. `c2pa` (c2pa-python, which brings `cryptography`) is an optional extra.
"""

from __future__ import annotations

import io
import itertools
import json
import mimetypes
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from .. import __version__
from ..errors import SugarglassError
from .manifest import C2paConfig

try:
    import c2pa
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
except ImportError:  # the optional `c2pa` extra is not installed
    c2pa = None

DataMining = Literal["allowed", "notAllowed", "constrained"]
TRAINING_MINING_ENTRIES = ("cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training", "cawg.data_mining")
_USES = ("allowed", "notAllowed", "constrained")
_IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# the extended key usages C2PA accepts for a claim signer (C2PA 2.x, "Certificate profile")
_SIGNING_EKUS = {
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.36": "documentSigning",
    "1.3.6.1.4.1.62558.2.1": "C2PA claim signing",
    "1.3.6.1.4.1.311.76.59.1.9": "Microsoft C2PA signing",
}


class SigningError(SugarglassError):
    """A certificate, key or file cannot be used for C2PA signing; the message names which."""


@dataclass(frozen=True, eq=False)
class C2paSigner:
    """Credentials that passed every check and have already signed a test image once; made only by
    `load_signer`, so holding one means signing will not fail on the credentials."""

    certificate: Path
    subject: str
    expires: datetime
    signer: Any = field(repr=False)


def load_signer(config: C2paConfig, base_dir: Path) -> C2paSigner:
    """Read and check the artist's certificate chain and key; raise `SigningError` naming the file
    and the problem, so a run can stop before it writes anything."""
    if c2pa is None:
        raise SigningError("C2PA signing needs the c2pa-python package: "
                           "install the c2pa extra (pip install 'sugarglass[c2pa]')")
    cert_path = config.certificate if config.certificate.is_absolute() else base_dir / config.certificate
    key_path = config.private_key if config.private_key.is_absolute() else base_dir / config.private_key
    chain = _read_chain(cert_path)
    key = _read_key(key_path)
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if chain[0].public_key().public_bytes(*public) != key.public_key().public_bytes(*public):
        raise SigningError(f"{key_path}: this private key does not belong to the first certificate in {cert_path} "
                           "(the chain must start with the artist's own certificate)")
    now = datetime.now(UTC)
    for index, cert in enumerate(chain, start=1):
        if cert.not_valid_after_utc < now:
            raise SigningError(f"{cert_path}: certificate {index} ({cert.subject.rfc4514_string()}) expired on "
                               f"{cert.not_valid_after_utc:%Y-%m-%d}")
        if cert.not_valid_before_utc > now:
            raise SigningError(f"{cert_path}: certificate {index} ({cert.subject.rfc4514_string()}) is not valid until "
                               f"{cert.not_valid_before_utc:%Y-%m-%d}")
    if not _fits(config.algorithm, key):
        raise SigningError(f"{key_path}: algorithm {config.algorithm!r} does not fit this {_describe(key)}; use es256 "
                           "with a P-256 key, es384 with P-384, ps256 with RSA (2048 bits or more), ed25519 with Ed25519")
    if problem := _profile_problem(chain[0]):
        raise SigningError(f"{cert_path}: {problem}")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    chain_pem = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain)
    try:
        info = c2pa.C2paSignerInfo(config.algorithm.encode(), chain_pem, key_pem, config.timestamp_url)
        signer = c2pa.Signer.from_info(info)
        # c2pa checks its certificate rules only while signing; one signature now turns a refusal at
        # the end of a run into one at the start
        image = io.BytesIO()
        Image.new("RGB", (1, 1)).save(image, format="PNG")
        image.seek(0)
        definition = _definition("credentials check", {}, f"{_IPTC}dataDrivenMedia", "notAllowed", None)
        with c2pa.Builder(definition) as builder:
            builder.sign(signer, "image/png", image, io.BytesIO())
    except c2pa.C2paError as error:
        raise SigningError(f"{cert_path}: c2pa refuses this certificate and key: {error}") from error
    return C2paSigner(cert_path, chain[0].subject.rfc4514_string(), chain[0].not_valid_after_utc, signer)


def sign(signer: C2paSigner, path: Path, *, title: str, manifest: dict, digital_source_type: str,
         data_mining: DataMining, constraint: str | None = None) -> Path:
    """Embed a signed C2PA manifest in `path`, in place: the signed file is written beside it under a
    hidden name and renamed over it, so the output is never seen half-signed.

    `digital_source_type` is an IPTC digital source type URI; `data_mining` applies to all four
    CAWG training-and-data-mining entries, with `constraint` saying what the constraint is."""
    path = Path(path)
    if data_mining not in _USES:
        raise SigningError(f"{path}: data_mining must be one of {', '.join(_USES)}, not {data_mining!r}")
    if constraint is not None and data_mining != "constrained":
        raise SigningError(f"{path}: a constraint only goes with data_mining = 'constrained', not {data_mining!r}")
    if not path.is_file():
        raise SigningError(f"{path}: no such file to sign")
    mime = mimetypes.guess_type(path.name)[0]
    if mime is None or mime not in c2pa.Builder.get_supported_mime_types():
        raise SigningError(f"{path}: c2pa cannot embed a manifest in {path.suffix or 'extensionless'} files "
                           f"({mime or 'unknown format'}); sign the PNG or MP4 output instead")
    definition = _definition(title, manifest, digital_source_type, data_mining, constraint)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".signing", dir=path.parent)
    try:
        with os.fdopen(handle, "w+b") as dest, path.open("rb") as source:
            with c2pa.Builder(definition) as builder:
                builder.sign(signer.signer, mime, source, dest)
            dest.flush()
            os.fsync(dest.fileno())
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except c2pa.C2paError as error:
        raise SigningError(f"{path}: c2pa could not sign it: {error}") from error
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def read_c2pa(path: Path) -> dict:
    """The active C2PA manifest of `path`, with `assertions` as a dict by label, plus
    `validation_state` ("Valid", "Invalid" or "Trusted") and the `validation_status` list of problems
    (each a dict with `code`, e.g. "assertion.dataHash.mismatch", and `explanation`)."""
    if c2pa is None:
        raise SigningError("reading C2PA manifests needs the c2pa-python package: install the c2pa extra")
    path = Path(path)
    if not path.is_file():
        raise SigningError(f"{path}: no such file")
    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError as error:
        raise SigningError(f"{path}: cannot read C2PA data: {error}") from error
    if reader is None:
        raise SigningError(f"no C2PA manifest in {path}")
    with reader:
        store = json.loads(reader.json())
    active = dict(store["manifests"][store["active_manifest"]])
    active["assertions"] = {item["label"]: item["data"] for item in active.get("assertions", [])}
    active["validation_state"] = store.get("validation_state")
    active["validation_status"] = store.get("validation_status", [])
    return active


def _definition(title: str, manifest: dict, digital_source_type: str, data_mining: str, constraint: str | None) -> dict:
    entry = {"use": data_mining} | ({"constraint_info": constraint} if constraint is not None else {})
    return {
        "title": title,
        "claim_generator_info": [{"name": "Sugarglass", "version": __version__}],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": digital_source_type,
                "softwareAgent": f"Sugarglass {__version__}",
            }]}},
            {"label": "cawg.training-mining",
             "data": {"entries": {name: dict(entry) for name in TRAINING_MINING_ENTRIES}}},
            # stored as JSON, exactly as the manifest file beside the output reads
            {"label": "org.sugarglass.manifest", "kind": "Json",
             "data": json.loads(json.dumps(manifest, default=str))},
        ],
    }


def _read_chain(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningError(f"{path}: cannot read the certificate file: {error.strerror or error}") from error
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise SigningError(f"{path}: not a PEM certificate chain (expected '-----BEGIN CERTIFICATE-----' blocks, "
                           "the artist's certificate first)") from error
    for index, (cert, issuer) in enumerate(itertools.pairwise(chain), start=1):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as error:
            raise SigningError(f"{path}: certificate {index} is not issued by certificate {index + 1}; the chain must "
                               "run from the artist's certificate up towards the root") from error
    return chain


def _read_key(path: Path) -> PrivateKeyTypes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningError(f"{path}: cannot read the private key file: {error.strerror or error}") from error
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as error:  # cryptography's way of saying the key is encrypted
        raise SigningError(f"{path}: the private key is password-protected; c2pa needs it unencrypted "
                           "(keep the file on an encrypted disk instead)") from error
    except (ValueError, UnsupportedAlgorithm) as error:
        raise SigningError(f"{path}: not a PEM private key "
                           "(expected a '-----BEGIN ... PRIVATE KEY-----' block)") from error


def _fits(algorithm: str, key: PrivateKeyTypes) -> bool:
    if algorithm in ("es256", "es384"):
        curve = {"es256": "secp256r1", "es384": "secp384r1"}[algorithm]
        return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == curve
    if algorithm == "ps256":
        return isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048
    return isinstance(key, ed25519.Ed25519PrivateKey)


def _describe(key: PrivateKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"elliptic-curve key ({key.curve.name})"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA key ({key.key_size} bits)"
    return "Ed25519 key" if isinstance(key, ed25519.Ed25519PrivateKey) else type(key).__name__


def _profile_problem(cert: x509.Certificate) -> str | None:
    """The first rule of C2PA's signing-certificate profile that `cert` breaks, in words an artist
    can take to whoever issues certificates; None if it keeps the rules checked here."""
    extensions = {ext.oid: ext.value for ext in cert.extensions}
    if cert.issuer == cert.subject:
        return ("the certificate is self-signed, and C2PA refuses a self-signed signing certificate: make a small "
                "certificate authority of your own and issue the signing certificate from it (see docs/c2pa.md)")
    basic = extensions.get(x509.BasicConstraints.oid)
    if basic is not None and basic.ca:
        return "the first certificate is a CA certificate; sign with an end-entity certificate issued by it"
    usage = extensions.get(x509.KeyUsage.oid)
    if usage is None or not usage.digital_signature:
        return "the certificate's key usage must include digitalSignature"
    purposes = extensions.get(x509.ExtendedKeyUsage.oid)
    if purposes is None or not any(oid.dotted_string in _SIGNING_EKUS for oid in purposes):
        return f"the certificate's extended key usage must include one of {', '.join(_SIGNING_EKUS.values())}"
    if x509.AuthorityKeyIdentifier.oid not in extensions:
        return "the certificate has no authority key identifier, which C2PA requires"
    return None
