"""Putting a manifest into each output, and reading it back.

PNG: an iTXt chunk ``sugarglass:manifest`` (the sealed record) and an XMP packet with the IPTC
Digital Source Type and the PLUS data-mining statement, inserted before the image data; the
content hash covers the IDAT chunks, so adding the manifest does not change what it describes.
MP4 and WebM: the record in the container's metadata, written by remuxing the stream packets
unchanged; the content hash covers those packets. Anything else (CSV, JSON Lines, Parquet, GIF):
a sidecar ``<name>.manifest.json``, whose content hash is the whole file's.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from ..errors import SugarglassError
from .manifest import canonical, seal, sha256_file, write_atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RECORD_KEY = "sugarglass:manifest"
XMP_KEY = "XML:com.adobe.xmp"
VIDEO_KEY = "sugarglass_manifest"
VIDEO_FORMATS = {".mp4": "mp4", ".webm": "webm"}


class DamagedFile(SugarglassError):
    """The file cannot be read as what it claims to be (a chunk fails its CRC, a stream breaks)."""


@dataclass(frozen=True)
class Found:
    """A record read from a file, and the hash of the file's content as it is now."""

    record: dict | None
    content_sha256: str
    method: str
    where: str


# -- PNG ---------------------------------------------------------------------------------------


def png_chunks(data: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, each checked against its CRC."""
    if not data.startswith(PNG_SIGNATURE):
        raise DamagedFile(f"{path}: not a PNG file (its signature is wrong)")
    chunks, at = [], len(PNG_SIGNATURE)
    while at < len(data):
        if at + 8 > len(data):
            raise DamagedFile(f"{path}: the file ends inside a chunk header at byte {at}")
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if len(body) != length or at + 12 + length > len(data):
            raise DamagedFile(f"{path}: chunk {kind!r} at byte {at} runs past the end of the file")
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise DamagedFile(f"{path}: chunk {kind.decode('latin-1')} at byte {at} is damaged (its CRC does not match)")
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _itxt(keyword: str, text: str, compress: bool) -> bytes:
    payload = zlib.compress(text.encode("utf-8"), 9) if compress else text.encode("utf-8")
    return _chunk(b"iTXt", keyword.encode("latin-1") + b"\x00" + bytes([int(compress), 0]) + b"\x00\x00" + payload)


def _read_itxt(body: bytes) -> tuple[str, str]:
    keyword, rest = body.split(b"\x00", 1)
    compressed = rest[0] == 1
    _, _, text = rest[2:].split(b"\x00", 2)
    return keyword.decode("latin-1"), (zlib.decompress(text) if compressed else text).decode("utf-8")


def xmp_packet(manifest: dict) -> str:
    """XMP with the IPTC Digital Source Type, PLUS data mining, title, creator and tool."""
    work = manifest["work"]
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'    Iptc4xmpExt:DigitalSourceType="{escape(manifest["digital_source_type"])}"\n'
        f'    plus:DataMining="{escape(manifest["data_mining"]["plus"])}"\n'
        f'    xmp:CreatorTool="Sugarglass {escape(manifest["generator"]["version"])}">\n'
        f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(work["title"] or work["name"])}</rdf:li></rdf:Alt></dc:title>\n'
        f'   <dc:creator><rdf:Seq><rdf:li>{escape(work["artist"] or "unnamed artist")}</rdf:li></rdf:Seq></dc:creator>\n'
        + (f'   <plus:OtherConstraints><rdf:Alt><rdf:li xml:lang="x-default">{escape(manifest["data_mining"]["constraint"])}</rdf:li></rdf:Alt></plus:OtherConstraints>\n'
           if manifest["data_mining"]["constraint"] else "")
        + '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="r"?>'
    )


def png_content_sha256(chunks: list[tuple[bytes, bytes]]) -> str:
    digest = hashlib.sha256()
    for kind, body in chunks:
        if kind == b"IDAT":
            digest.update(body)
    return digest.hexdigest()


def _embed_png(path: Path, manifest: dict) -> None:
    chunks = png_chunks(path.read_bytes(), path)
    content = {"file": path.name, "media_type": "image/png", "method": "sha256 of the IDAT chunks",
               "sha256": png_content_sha256(chunks)}
    record = {"manifest": manifest, "content": content, "seal": seal(manifest, content)}
    ours = {RECORD_KEY, XMP_KEY}
    kept = [(k, b) for k, b in chunks if not (k == b"iTXt" and _read_itxt(b)[0] in ours)]
    first_data = next(i for i, (k, _) in enumerate(kept) if k == b"IDAT")
    added = _itxt(RECORD_KEY, canonical(record).decode("utf-8"), compress=True) + _itxt(XMP_KEY, xmp_packet(manifest), compress=False)
    out = PNG_SIGNATURE + b"".join(_chunk(k, b) for k, b in kept[:first_data]) + added + b"".join(_chunk(k, b) for k, b in kept[first_data:])
    write_atomic(path, out)


def _read_png(path: Path) -> Found:
    chunks = png_chunks(path.read_bytes(), path)
    record = None
    for kind, body in chunks:
        if kind == b"iTXt":
            key, text = _read_itxt(body)
            if key == RECORD_KEY:
                record = _parse(text, path)
    return Found(record, png_content_sha256(chunks), "sha256 of the IDAT chunks", "PNG iTXt chunk")


# -- video -------------------------------------------------------------------------------------


def video_content_sha256(path: Path) -> str:
    import av

    digest = hashlib.sha256()
    try:
        with av.open(str(path)) as container:
            for packet in container.demux():
                if packet.size:
                    digest.update(bytes(packet))
    except (av.error.FFmpegError, OSError) as exc:
        raise DamagedFile(f"{path}: the video cannot be read ({exc})") from None
    return digest.hexdigest()


def _embed_video(path: Path, manifest: dict) -> None:
    import av

    content = {"file": path.name, "media_type": f"video/{VIDEO_FORMATS[path.suffix]}",
               "method": "sha256 of the stream packets", "sha256": video_content_sha256(path)}
    record = {"manifest": manifest, "content": content, "seal": seal(manifest, content)}
    fmt = VIDEO_FORMATS[path.suffix]
    partial = path.with_name(f".{path.name}.labelled")
    options = {"fflags": "+bitexact", **({"movflags": "+use_metadata_tags"} if fmt == "mp4" else {})}
    try:
        with av.open(str(path)) as source, av.open(str(partial), "w", format=fmt, options=options) as target:
            target.metadata.update({k: v for k, v in source.metadata.items() if k.lower() not in (VIDEO_KEY, "encoder")})
            target.metadata[VIDEO_KEY] = canonical(record).decode("utf-8")
            target.metadata["comment"] = "Made with Sugarglass; its manifest is in the sugarglass_manifest tag"
            streams = {s.index: target.add_stream_from_template(s) for s in source.streams}
            for packet in source.demux():
                if packet.dts is None:
                    continue
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _read_video(path: Path) -> Found:
    import av

    content = video_content_sha256(path)
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    record = _parse(tags[VIDEO_KEY], path) if VIDEO_KEY in tags else None
    return Found(record, content, "sha256 of the stream packets", "container metadata")


# -- sidecars ----------------------------------------------------------------------------------


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def _write_sidecar(path: Path, manifest: dict) -> Path:
    content = {"file": path.name, "media_type": _media_type(path), "method": "sha256 of the whole file",
               "sha256": sha256_file(path)}
    record = {"manifest": manifest, "content": content, "seal": seal(manifest, content)}
    return write_atomic(sidecar_path(path), (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def label_growing(path: Path, manifest: dict, length: int, sha256: str) -> Path:
    """The sidecar of a file that is still being appended to (a live run's levels): it vouches
    for the first ``length`` bytes, whose hash the caller keeps up as the file grows, so that
    what the file held when the sidecar was written stays checkable however long it grows."""
    content = {"file": path.name, "media_type": _media_type(path), "method": f"sha256 of the first {length} bytes",
               "bytes": length, "sha256": sha256}
    record = {"manifest": manifest, "content": content, "seal": seal(manifest, content)}
    return write_atomic(sidecar_path(path), (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _read_sidecar(path: Path) -> Found:
    side = sidecar_path(path)
    record = _parse(side.read_text(encoding="utf-8"), side) if side.is_file() else None
    length = record["content"].get("bytes") if record is not None and isinstance(record.get("content"), dict) else None
    if isinstance(length, int):
        return Found(record, _sha256_prefix(path, length), f"sha256 of the first {length} bytes", f"sidecar {side.name}")
    return Found(record, sha256_file(path), "sha256 of the whole file", f"sidecar {side.name}")


def _sha256_prefix(path: Path, length: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while length > 0 and (chunk := handle.read(min(length, 1 << 20))):
            digest.update(chunk)
            length -= len(chunk)
    return digest.hexdigest()


def _media_type(path: Path) -> str:
    return {".csv": "text/csv", ".jsonl": "application/jsonl", ".parquet": "application/vnd.apache.parquet",
            ".gif": "image/gif", ".txt": "text/plain", ".json": "application/json"}.get(path.suffix, "application/octet-stream")


def _parse(text: str, path: Path) -> dict:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DamagedFile(f"{path}: its manifest is not valid JSON ({exc.msg}); it was damaged or altered") from None
    if not isinstance(record, dict) or not {"manifest", "content", "seal"} <= set(record):
        raise DamagedFile(f"{path}: its manifest lacks manifest, content or seal")
    return record


# -- the two entry points ------------------------------------------------------------------------


def label(path: Path, manifest: dict) -> Path | None:
    """Give one output its manifest; returns the sidecar written, if one was."""
    if path.suffix == ".png":
        _embed_png(path, manifest)
        return None
    if path.suffix in VIDEO_FORMATS:
        _embed_video(path, manifest)
        return None
    return _write_sidecar(path, manifest)


def read_label(path: Path) -> Found:
    """The record an output carries (None when it has none) and its content hash now."""
    if not path.is_file():
        raise SugarglassError(f"{path}: no such file")
    if path.suffix == ".png":
        return _read_png(path)
    if path.suffix in VIDEO_FORMATS:
        return _read_video(path)
    return _read_sidecar(path)
