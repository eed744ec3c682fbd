"""Manifests in every output, verify, PROV export, and erasure marks: on a real run's files."""

from __future__ import annotations

import json
import shutil
import struct
import tomllib
import zlib
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import pytest
import tomli_w
from prov.model import ProvDocument
from typer.testing import CliRunner

from support import DEMO_WORK, REPO
from sugarglass.cli import app
from sugarglass.erasure import notices, withdraw_source
from sugarglass.provenance import read_label
from sugarglass.provenance.embed import png_chunks
from sugarglass.provenance.verify import verify
from sugarglass.run import run_work
from sugarglass.store import Store
from sugarglass.work import load_work

SCHEMA = json.loads((REPO / "docs" / "manifest.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """One small run of the demo work, made once; tests copy its folder before changing it."""
    folder = tmp_path_factory.mktemp("run")
    shutil.copytree(DEMO_WORK.parent / "demo", folder / "demo")
    document = tomllib.loads(DEMO_WORK.read_text(encoding="utf-8"))
    document["society"]["steps"] = 12
    document["canvas"].update(width=48, height=64, frames_per_tick=1)
    document["provenance"] = {"data_mining": "DMI-PROHIBITED-AIMLTRAINING", "constraint": "ask the artist"}
    (folder / "demo.toml").write_text(tomli_w.dumps(document), encoding="utf-8")
    work = load_work(folder / "demo.toml")
    with Store(work.store_path) as store:
        run_work(work, store, out_dir=folder / "out")
    return folder


@pytest.fixture
def run_copy(made, tmp_path) -> tuple[Path, Path]:
    """(outputs folder, store file) of a private copy of the made run."""
    shutil.copytree(made / "out", tmp_path / "out")
    store = tmp_path / "demo.sqlite"
    shutil.copy(made / "demo.sqlite", store)
    return tmp_path / "out", store


def failures(verdict) -> str:
    return " | ".join(c.detail for c in verdict.checks if not c.ok)


def test_every_output_carries_a_valid_manifest(made):
    out = made / "out"
    listed = json.loads((out / "manifest.json").read_text())
    jsonschema.validate(listed, SCHEMA)
    for name in listed["files"]:
        if name.endswith(".manifest.json"):
            continue
        found = read_label(out / name)
        assert found.record is not None, name
        jsonschema.validate(found.record["manifest"], SCHEMA)
        content_schema = {**SCHEMA["$defs"]["record"]["properties"]["content"], "$defs": SCHEMA["$defs"]}
        jsonschema.validate(found.record["content"], content_schema)
        assert set(found.record) == {"manifest", "content", "seal"}
        assert found.record["manifest"]["data_mining"]["plus"].endswith("DMI-PROHIBITED-AIMLTRAINING")
        assert verify(out / name, made / "demo.sqlite").ok, name
    assert verify(out / "manifest.json", made / "demo.sqlite").ok


def test_outputs_name_no_local_folder(made):
    # outputs are for sharing: an absolute path names the machine's folders and often the user
    out = made / "out"
    for name in json.loads((out / "manifest.json").read_text())["files"]:
        assert str(made).encode() not in (out / name).read_bytes(), name
    work = json.loads((out / "manifest.json").read_text())["work"]
    assert (work["file"], work["store"]) == ("demo.toml", "demo.sqlite")  # relative to the work's folder
    assert "path" not in work


def test_consent_evidence_is_published_only_when_the_artist_says_so(made, tmp_path):
    # evidence is often a private address or a contract's name: kept in the store, not shared
    evidence = "CONSENT.md: written for Sugarglass"
    out = made / "out"
    assert evidence in (made / "demo.toml").read_text(encoding="utf-8")
    for name in json.loads((out / "manifest.json").read_text())["files"]:
        assert evidence.encode() not in (out / name).read_bytes(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"] and all("evidence" not in s["consent"] for s in manifest["sources"])
    assert all(len(s["consent"]["record_sha256"]) == 64 for s in manifest["sources"])
    assert verify(out / "manifest.json", made / "demo.sqlite").ok  # the hash still ties it to the record

    shutil.copytree(made / "demo", tmp_path / "demo")
    document = tomllib.loads((made / "demo.toml").read_text(encoding="utf-8"))
    document["provenance"]["include_evidence"] = True
    (tmp_path / "demo.toml").write_text(tomli_w.dumps(document), encoding="utf-8")
    work = load_work(tmp_path / "demo.toml")
    with Store(work.store_path) as store:
        run_work(work, store, out_dir=tmp_path / "out", steps=2)
    shared = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert all(evidence in s["consent"]["evidence"] for s in shared["sources"])
    embedded = read_label(tmp_path / "out" / "painting.png").record["manifest"]
    assert all(evidence in s["consent"]["evidence"] for s in embedded["sources"])


def test_png_carries_xmp_with_source_type_and_data_mining(made):
    chunks = png_chunks((made / "out" / "painting.png").read_bytes(), made / "out" / "painting.png")
    texts = [body for kind, body in chunks if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00")]
    assert len(texts) == 1
    xmp = texts[0].decode("utf-8")
    assert 'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/dataDrivenMedia"' in xmp
    assert 'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"' in xmp
    assert "ask the artist" in xmp


def _rewrite_record(path: Path, change) -> None:
    """Replace the PNG's manifest chunk by a changed one with a correct CRC: a careful forger."""
    data = path.read_bytes()
    out, at = bytearray(data[:8]), 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"iTXt" and body.startswith(b"sugarglass:manifest\x00"):
            head, packed = body[:len(b"sugarglass:manifest") + 5], body[len(b"sugarglass:manifest") + 5:]
            record = json.loads(zlib.decompress(packed))
            change(record)
            body = head + zlib.compress(json.dumps(record).encode())
        out += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        at += 12 + length
    path.write_bytes(bytes(out))


def test_one_changed_byte_is_caught_in_each_kind_of_file(run_copy):
    out, store = run_copy
    png = out / "painting.png"
    data = bytearray(png.read_bytes())
    data[data.index(b"IDAT") + 40] ^= 0x01
    png.write_bytes(bytes(data))
    assert "chunk IDAT" in failures(verify(png, store)) and "damaged" in failures(verify(png, store))

    video = out / "painting.mp4"
    data = bytearray(video.read_bytes())
    data[data.index(b"mdat") + 200] ^= 0x01
    video.write_bytes(bytes(data))
    assert "the content does not match its manifest" in failures(verify(video, store))

    csv = out / "metrics.csv"
    csv.write_bytes(csv.read_bytes().replace(b",", b";", 1))
    assert "the content does not match its manifest" in failures(verify(csv, store))
    assert "metrics.csv" in failures(verify(out / "manifest.json", store))


def test_an_altered_manifest_a_forged_hash_and_a_stripped_one(run_copy):
    out, store = run_copy
    png = out / "painting.png"
    _rewrite_record(png, lambda r: r["manifest"].update(seed=1))
    assert "the manifest was altered after it was made" in failures(verify(png, store))

    shutil.copy(out / "population.png", out / "forged.png")
    _rewrite_record(out / "forged.png", lambda r: r["content"].update(sha256="0" * 64))
    text = failures(verify(out / "forged.png", store))
    assert "the content does not match its manifest" in text and "hash forged" in text

    stripped = out / "overview.png"
    data = stripped.read_bytes()
    kept = b"".join(struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))
                    for k, b in png_chunks(data, stripped) if k != b"iTXt")
    stripped.write_bytes(data[:8] + kept)
    assert "no Sugarglass manifest in overview.png" in failures(verify(stripped, store))
    (out / "levels.jsonl.manifest.json").unlink()
    assert "no Sugarglass manifest" in failures(verify(out / "levels.jsonl", store))


def test_expired_and_withdrawn_consent_fail_verify_and_outputs_are_marked(run_copy, made):
    out, store = run_copy
    later = date.today() + timedelta(days=3650)
    assert verify(out / "painting.png", store, today=later).ok, "no expiry was set"
    manifest = json.loads((out / "manifest.json").read_text())
    with Store(store) as db:
        db.db.execute("UPDATE consents SET expires = ?", ((date.today() - timedelta(days=1)).isoformat(),))
    assert "consent of campaign-posts expired on" in failures(verify(out / "painting.png", store))
    with Store(store) as db:
        db.db.execute("UPDATE consents SET expires = NULL")
        db.db.execute("UPDATE outputs SET folder = ?", (str(out.resolve()),))
        done = withdraw_source(db, "campaign-posts", "asked by the authors")
    assert done.outputs_marked == [out.resolve()]
    assert notices(out)[0]["source"] == "campaign-posts"
    text = failures(verify(out / "painting.png", store))
    assert "made with data since withdrawn: campaign-posts was withdrawn on" in text
    assert manifest["sources"][0]["id"] == "campaign-posts"


def test_prov_export_and_the_commands(run_copy):
    out, store = run_copy
    runner = CliRunner()
    result = runner.invoke(app, ["provenance", str(out / "painting.png"), "--prov"])
    assert result.exit_code == 0, result.output
    document = ProvDocument.deserialize(content=result.output, format="json")
    text = document.get_provn()
    assert "sg:source-campaign-posts" in text and "wasGeneratedBy" in text and "wasAttributedTo" in text
    ok = runner.invoke(app, ["verify", str(out / "painting.png"), "--store", str(store)])
    assert ok.exit_code == 0 and "VERIFIED" in ok.output
    (out / "painting.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    bad = runner.invoke(app, ["verify", str(out / "painting.png"), "--store", str(store)])
    assert bad.exit_code == 1 and "FAILED" in bad.output


def _signed_work(tmp_path: Path, **c2pa) -> Path:
    shutil.copytree(DEMO_WORK.parent / "demo", tmp_path / "demo")
    document = tomllib.loads(DEMO_WORK.read_text(encoding="utf-8"))
    document["society"]["steps"] = 6
    document["canvas"].update(width=48, height=64, frames_per_tick=1)
    document["provenance"] = {"data_mining": "DMI-PROHIBITED", "c2pa": {"certificate": "keys/artist.pem",
                                                                       "private_key": "keys/artist.key", **c2pa}}
    path = tmp_path / "demo.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def test_a_run_signs_its_images_and_video_with_the_artists_certificate(tmp_path):
    from c2pa_certs import make_credentials

    from sugarglass.provenance.c2pa import read_c2pa

    make_credentials(tmp_path / "keys")
    work = load_work(_signed_work(tmp_path))
    with Store(work.store_path) as store:
        run_work(work, store, out_dir=tmp_path / "out")
    for name in ("painting.png", "painting.mp4", "gini.png"):
        report = read_c2pa(tmp_path / "out" / name)
        mining = report["assertions"]["cawg.training-mining"]["entries"]
        assert all(entry["use"] == "notAllowed" for entry in mining.values()), name
        assert json.loads(json.dumps(report["assertions"]["org.sugarglass.manifest"]))["work"]["name"] == "demo"
        assert verify(tmp_path / "out" / name, work.store_path).ok, "our own seal survives the C2PA signature"
    assert verify(tmp_path / "out" / "manifest.json", work.store_path).ok


def test_a_malformed_certificate_stops_the_run_before_any_output(tmp_path):
    from sugarglass.provenance.c2pa import SigningError

    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "artist.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    (tmp_path / "keys" / "artist.key").write_text("nothing")
    work = load_work(_signed_work(tmp_path))
    with Store(work.store_path) as store, pytest.raises(SigningError, match="artist.pem"):
        run_work(work, store, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_audit_passes_the_demo_and_fails_text_kept_beyond_its_scope(made, tmp_path):
    runner = CliRunner()
    shutil.copytree(made / "demo", tmp_path / "demo")
    shutil.copy(made / "demo.sqlite", tmp_path / "demo.sqlite")
    document = tomllib.loads((made / "demo.toml").read_text(encoding="utf-8"))
    work = tmp_path / "demo.toml"
    work.write_text(tomli_w.dumps(document), encoding="utf-8")
    result = runner.invoke(app, ["audit", str(work)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    for criterion in ("1. Every source is consented", "2. Models are local", "3. Visitors can take part", "4. Outputs are labelled"):
        assert criterion in flat
    document["sources"][0]["consent"]["scope"] = "score"
    work.write_text(tomli_w.dumps(document), encoding="utf-8")
    result = runner.invoke(app, ["audit", str(work)])
    assert result.exit_code == 1
    assert "336 texts stored although the scope is 'score'" in " ".join(result.output.split())
    document["sources"][0]["consent"]["scope"] = "keep-text"
    document["sources"][0]["consent"]["expires"] = date.today() - timedelta(days=1)
    work.write_text(tomli_w.dumps(document), encoding="utf-8")
    result = runner.invoke(app, ["audit", str(work)])
    assert result.exit_code == 1 and "consent expired on" in " ".join(result.output.split())


def test_provenance_command_on_files_without_a_manifest(tmp_path):
    runner = CliRunner()
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["provenance", str(plain)])
    assert result.exit_code == 2 and "no Sugarglass manifest" in " ".join(result.output.split())
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    result = runner.invoke(app, ["provenance", str(broken), "--prov"])
    assert result.exit_code == 2 and "broken.png" in result.output
    result = runner.invoke(app, ["provenance", str(tmp_path / "absent.png")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_an_atomically_written_output_is_readable_by_others(tmp_path):
    from sugarglass.files import write_atomic

    import os

    umask = os.umask(0)
    os.umask(umask)
    path = write_atomic(tmp_path / "shared.json", b"{}\n")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # 0644 under umask 022; mkstemp alone leaves 0600
