"""C2PA signing on real files, offline: a CA and an artist's certificate made in the test, a PNG
and an MP4 signed in place and read back, tampering seen, and bad credentials refused up front."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("c2pa")

from c2pa_certs import make_credentials, new_key
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from sugarglass import __version__
from sugarglass.provenance.c2pa import (
    TRAINING_MINING_ENTRIES,
    C2paConfig,
    SigningError,
    load_signer,
    read_c2pa,
    sign,
)
from sugarglass.canvas.media import VideoWriter, write_png
from sugarglass.errors import SugarglassError

DATA_DRIVEN = "http://cv.iptc.org/newscodes/digitalsourcetype/dataDrivenMedia"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MANIFEST = {"format": "sugarglass-manifest", "version": 1, "seed": 7,
            "sources": [{"name": "letters", "consent": "c-1"}], "couplings": {"regrowth": 0.25, "off": None},
            "files": {"painting.png": "ab" * 32}}
FRAMES = np.random.default_rng(3).integers(0, 256, size=(3, 32, 48, 3), dtype=np.uint8)


@pytest.fixture
def signer(tmp_path):
    make_credentials(tmp_path / "keys")
    config = C2paConfig(certificate=Path("keys/artist.pem"), private_key=Path("keys/artist.key"))
    return load_signer(config, tmp_path)


def _png(path: Path) -> Path:
    return write_png(path, FRAMES[0], {"title": "painting"})


def _video(path: Path, format: str) -> Path:
    with VideoWriter(path, 48, 32, 4, format) as writer:
        for frame in FRAMES:
            writer.write(frame)
    return path


def _codes(report: dict) -> list[str]:
    return [status["code"] for status in report["validation_status"]]


def _png_image_data(data: bytes) -> int:
    """Offset of the first IDAT chunk's data: the pixels, which C2PA's data hash covers."""
    at = 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            return at + 8
        at += 12 + length
    raise AssertionError("no IDAT chunk")


def _mp4_media_data(data: bytes) -> int:
    """Offset of the `mdat` box's payload: the coded frames, which C2PA's BMFF hash covers."""
    at = 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"mdat":
            return at + 8
        at += size
    raise AssertionError("no mdat box")


def test_png_is_signed_in_place_and_reads_back(signer, tmp_path):
    path = _png(tmp_path / "painting.png")
    assert sign(signer, path, title="Conversions", manifest=MANIFEST, digital_source_type=DATA_DRIVEN,
                data_mining="notAllowed") == path
    report = read_c2pa(path)
    assert report["title"] == "Conversions"
    assert report["signature_info"]["common_name"] == "Test Artist"
    actions = next(data for label, data in report["assertions"].items() if label.startswith("c2pa.actions"))["actions"]
    assert actions[0] == {"action": "c2pa.created", "digitalSourceType": DATA_DRIVEN,
                          "softwareAgent": f"Sugarglass {__version__}"}
    assert report["assertions"]["cawg.training-mining"] == {"entries": {name: {"use": "notAllowed"}
                                                                        for name in TRAINING_MINING_ENTRIES}}
    assert report["assertions"]["org.sugarglass.manifest"] == MANIFEST
    # the artist's own CA is on no trust list: the signature holds, the signer is simply not vouched for
    assert report["validation_state"] == "Valid"
    assert _codes(report) == ["signingCredential.untrusted"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "painting.png"]  # no temporary left behind


def test_mp4_is_signed_with_a_constraint(signer, tmp_path):
    path = _video(tmp_path / "growth.mp4", "mp4")
    mode = path.stat().st_mode
    sign(signer, path, title="Garden", manifest=MANIFEST, digital_source_type=TRAINED, data_mining="constrained",
         constraint="ask the artist: studio@example.org")
    report = read_c2pa(path)
    actions = next(data for label, data in report["assertions"].items() if label.startswith("c2pa.actions"))["actions"]
    assert actions[0]["digitalSourceType"] == TRAINED
    entries = report["assertions"]["cawg.training-mining"]["entries"]
    assert set(entries) == set(TRAINING_MINING_ENTRIES)
    assert all(entry == {"use": "constrained", "constraint_info": "ask the artist: studio@example.org"}
               for entry in entries.values())
    assert report["assertions"]["org.sugarglass.manifest"] == MANIFEST
    assert report["validation_state"] == "Valid"
    assert path.stat().st_mode == mode


@pytest.mark.parametrize("suffix, locate, code", [
    (".png", _png_image_data, "assertion.dataHash.mismatch"),
    (".mp4", _mp4_media_data, "assertion.bmffHash.mismatch"),
])
def test_one_changed_byte_is_reported_as_a_hash_mismatch(signer, tmp_path, suffix, locate, code):
    path = tmp_path / f"work{suffix}"
    _png(path) if suffix == ".png" else _video(path, "mp4")
    sign(signer, path, title="t", manifest=MANIFEST, digital_source_type=DATA_DRIVEN, data_mining="allowed")
    data = bytearray(path.read_bytes())
    data[locate(bytes(data)) + 4] ^= 0x01
    path.write_bytes(bytes(data))
    report = read_c2pa(path)
    assert report["validation_state"] == "Invalid"
    assert code in _codes(report)


@pytest.mark.parametrize("algorithm, key_kind", [("es384", "p384"), ("ps256", "rsa"), ("ed25519", "ed25519")])
def test_every_algorithm_signs_with_its_own_kind_of_key(tmp_path, algorithm, key_kind):
    cert, key = make_credentials(tmp_path / "keys", key_kind=key_kind)
    signer = load_signer(C2paConfig(certificate=cert, private_key=key, algorithm=algorithm), tmp_path)
    path = sign(signer, _png(tmp_path / "p.png"), title="t", manifest={}, digital_source_type=DATA_DRIVEN,
                data_mining="allowed")
    report = read_c2pa(path)
    assert report["validation_state"] == "Valid"
    assert report["signature_info"]["alg"].lower() == algorithm


def test_gif_is_signed_too(signer, tmp_path):
    path = _video(tmp_path / "loop.gif", "gif")
    sign(signer, path, title="Loop", manifest=MANIFEST, digital_source_type=DATA_DRIVEN, data_mining="allowed")
    report = read_c2pa(path)
    assert report["validation_state"] == "Valid"
    assert report["assertions"]["org.sugarglass.manifest"] == MANIFEST


def test_webm_is_refused_by_name_and_left_alone(signer, tmp_path):
    path = _video(tmp_path / "growth.webm", "webm")
    before = path.read_bytes()
    with pytest.raises(SigningError, match=r"growth\.webm.*\.webm.*video/webm"):
        sign(signer, path, title="t", manifest={}, digital_source_type=DATA_DRIVEN, data_mining="allowed")
    assert path.read_bytes() == before


def test_a_constraint_without_constrained_is_refused(signer, tmp_path):
    path = _png(tmp_path / "p.png")
    with pytest.raises(SigningError, match="only goes with data_mining = 'constrained'"):
        sign(signer, path, title="t", manifest={}, digital_source_type=DATA_DRIVEN, data_mining="allowed",
             constraint="non-commercial")


def test_a_file_without_a_manifest_is_named(tmp_path):
    path = _png(tmp_path / "plain.png")
    with pytest.raises(SigningError, match=r"no C2PA manifest in .*plain\.png"):
        read_c2pa(path)


def _write_key(folder: Path, encrypted: bool = False) -> None:
    encrypt = serialization.BestAvailableEncryption(b"pw") if encrypted else serialization.NoEncryption()
    (folder / "artist.key").write_bytes(new_key("p256").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encrypt))


def _reverse_chain(folder: Path) -> None:
    end = "-----END CERTIFICATE-----\n"
    artist, ca, _ = (folder / "artist.pem").read_text().split(end)
    (folder / "artist.pem").write_text(ca + end + artist + end)


SPOIL = {
    "missing certificate": lambda folder: (folder / "artist.pem").unlink(),
    "certificate not PEM": lambda folder: (folder / "artist.pem").write_text("this is not PEM\n"),
    "key not PEM": lambda folder: (folder / "artist.key").write_text("this is not PEM\n"),
    "encrypted key": lambda folder: _write_key(folder, encrypted=True),
    "another key": _write_key,
    "chain upside down": _reverse_chain,
}


@pytest.mark.parametrize("credentials, spoil, algorithm, file, problem", [
    ({}, "missing certificate", "es256", "artist.pem", "cannot read the certificate"),
    ({}, "certificate not PEM", "es256", "artist.pem", "not a PEM certificate chain"),
    ({}, "key not PEM", "es256", "artist.key", "not a PEM private key"),
    ({}, "encrypted key", "es256", "artist.key", "password-protected"),
    ({}, "another key", "es256", "artist.key", "does not belong to the first certificate"),
    ({}, "chain upside down", "es256", "artist.pem", "certificate 1 is not issued by certificate 2"),
    ({"expired": True}, None, "es256", "artist.pem", "expired on"),
    ({}, None, "es384", "artist.key", r"'es384' does not fit this elliptic-curve key \(secp256r1\)"),
    ({}, None, "ps256", "artist.key", "'ps256' does not fit"),
    ({"self_signed": True}, None, "es256", "artist.pem", "self-signed"),
    ({"email_eku": False}, None, "es256", "artist.pem", "extended key usage must include"),
    ({"authority_key_id": False}, None, "es256", "artist.pem", "no authority key identifier"),
])
def test_bad_credentials_are_refused_before_anything_is_written(tmp_path, credentials, spoil, algorithm, file, problem):
    folder = tmp_path / "keys"
    make_credentials(folder, **credentials)
    if spoil is not None:
        SPOIL[spoil](folder)
    target = _png(tmp_path / "painting.png")
    before = target.read_bytes()
    config = C2paConfig(certificate=Path("keys/artist.pem"), private_key=Path("keys/artist.key"), algorithm=algorithm)
    with pytest.raises(SugarglassError, match=problem) as caught:
        load_signer(config, tmp_path)
    assert str(folder / file) in str(caught.value)
    assert target.read_bytes() == before


def test_the_work_file_table_takes_no_unknown_keys():
    with pytest.raises(ValidationError):
        C2paConfig.model_validate({"certificate": "a.pem", "private_key": "a.key", "password": "x"})
    assert C2paConfig(certificate="a.pem", private_key="a.key").timestamp_url is None


def test_without_the_extra_the_error_says_what_to_install(tmp_path):
    # a fresh interpreter in which `import c2pa` fails, as it does where the extra is not installed
    script = (
        "import sys; sys.modules['c2pa'] = None\n"
        "from pathlib import Path\n"
        "from sugarglass.provenance.c2pa import C2paConfig, load_signer\n"
        "from sugarglass.errors import SugarglassError\n"
        "try:\n"
        "    load_signer(C2paConfig(certificate='a.pem', private_key='a.key'), Path('.'))\n"
        "except SugarglassError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "install the c2pa extra" in result.stdout, result.stderr
