"""Test credentials for C2PA signing: a small certificate authority and an artist's certificate
issued by it, made fresh in a test's folder so no key ever lives in the repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def new_key(kind: str = "p256"):
    return {
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
    }[kind]()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sugarglass test studio")])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_credentials(folder: Path, *, key_kind: str = "p256", expired: bool = False, email_eku: bool = True,
                     self_signed: bool = False, authority_key_id: bool = True) -> tuple[Path, Path]:
    """Write `artist.pem` (artist's certificate, then the CA's) and `artist.key` in `folder`.

    The artist's certificate keeps C2PA's profile: digitalSignature, emailProtection, an authority
    key identifier; `expired`, `email_eku=False`, `self_signed` and `authority_key_id=False` each break
    one rule."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = new_key("p256")
    ca = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=400)).not_valid_after(now + timedelta(days=400))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = new_key(key_kind)
    end = now - timedelta(days=1) if expired else now + timedelta(days=30)
    builder = (x509.CertificateBuilder().subject_name(_name("Test Artist"))
               .issuer_name(_name("Test Artist") if self_signed else ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=60)).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if email_eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    if self_signed:
        hash_ = None if key_kind == "ed25519" else hashes.SHA256()
        cert, chain = builder.sign(key, hash_), b""
    else:
        if authority_key_id:
            builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                            critical=False)
        cert, chain = builder.sign(ca_key, hashes.SHA256()), _pem(ca)
    cert_path, key_path = folder / "artist.pem", folder / "artist.key"
    cert_path.write_bytes(_pem(cert) + chain)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
