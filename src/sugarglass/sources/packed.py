"""Export archives read as downloaded: an X/Twitter ``.zip``, a Mastodon ``.zip`` or ``.tar.gz``.

Artists get these files from the services and should not have to unpack them (or know which
file inside matters). A file is taken for an archive by its first bytes, not its name. What is
read is bounded, since an archive can unpack to far more than it weighs: one member is read into
memory only if it unpacks to at most ``MAX_MEMBER_BYTES``, and a ``.tar.gz``, which must be
unpacked in order to be searched, is given up on past ``MAX_SCAN_BYTES`` of unpacked data.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import ReadError

MAX_MEMBER_BYTES = 1 << 30
"""One document of an export: X splits its tweets into parts of about 100 MB, and a Mastodon
outbox of a hundred thousand posts is a few hundred MB."""

MAX_SCAN_BYTES = 64 << 30
"""How much of a tar.gz may be unpacked while looking for the member: media come first in a
Mastodon export and can be many gigabytes, but not this many."""

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"


def packing(path: Path) -> str | None:
    """``"zip"``, ``"tar.gz"`` or None (a plain file), from the file's first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from None
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "tar.gz"
    return None


def members(path: Path, wanted: re.Pattern[str], looking_for: str, single: bool = False) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each member of the archive whose name ``wanted`` matches, or of the first
    (``single``); a ReadError naming the archive and ``looking_for`` if there is none. In a zip,
    only the shallowest matches are read (the export's own, not a copy in a subfolder), ordered
    by the pattern's group ``part`` (``tweets.js`` before ``tweets-part1.js``); a tar.gz is
    read in its own order, as it unpacks."""
    found = False
    reader = _zip_members if packing(path) == "zip" else _tar_members
    for name, data in reader(path, wanted):
        found = True
        yield name, data
        if single:
            return
    if not found:
        raise ReadError(path, f"no {looking_for} inside this archive: is it the right export?")


def _zip_members(path: Path, wanted: re.Pattern[str]) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(path, f"not a readable zip archive ({exc}); download the export again") from None
    with archive:
        chosen = [info for info in archive.infolist() if not info.is_dir() and wanted.search(info.filename)]
        shallowest = min((info.filename.count("/") for info in chosen), default=0)
        chosen = [info for info in chosen if info.filename.count("/") == shallowest]
        for info in sorted(chosen, key=lambda info: _order(wanted, info.filename)):
            yield info.filename, _zip_read(path, archive, info)


def _zip_read(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member, refused before unpacking if it says it is too large; zipfile stops at the
    size the member declares (a member that unpacks to more fails its CRC check)."""
    if info.file_size > MAX_MEMBER_BYTES:
        raise ReadError(path, f"{info.filename}: unpacks to {info.file_size:,} bytes, over the "
                              f"{MAX_MEMBER_BYTES:,}-byte limit for one document of an export")
    try:
        with archive.open(info) as handle:
            return handle.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ReadError(path, f"{info.filename}: cannot be unpacked ({exc}); download the export again") from None
    except NotImplementedError:
        raise ReadError(path, f"{info.filename}: packed with a compression method Python cannot unpack; "
                              "unpack the archive and point the source's path at the file") from None
    except RuntimeError as exc:  # an encrypted member
        raise ReadError(path, f"{info.filename}: cannot be unpacked ({exc})") from None


def _tar_members(path: Path, wanted: re.Pattern[str]) -> Iterator[tuple[str, bytes]]:
    """The wanted members of a gzipped tar, in the archive's order, read as it is unpacked."""
    try:
        archive = tarfile.open(path, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ReadError(path, f"gzip-compressed but not a readable tar archive ({exc}); "
                              "a Mastodon export is a .zip or a .tar.gz as downloaded") from None
    with archive:
        try:
            for member in archive:
                if member.offset_data + max(member.size, 0) > MAX_SCAN_BYTES:
                    raise ReadError(path, f"unpacks to more than {MAX_SCAN_BYTES:,} bytes before the posts are found; "
                                          "unpack it and point the source's path at the file")
                if not wanted.search(member.name):
                    continue
                if not member.isfile():
                    raise ReadError(path, f"{member.name}: is a link or a folder, not a file")
                if member.size > MAX_MEMBER_BYTES:
                    raise ReadError(path, f"{member.name}: unpacks to {member.size:,} bytes, over the "
                                          f"{MAX_MEMBER_BYTES:,}-byte limit for one document of an export")
                handle = archive.extractfile(member)
                data = handle.read(member.size) if handle else b""
                if len(data) != member.size:
                    raise ReadError(path, f"{member.name}: the archive ends inside it; download the export again")
                yield member.name, data
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ReadError(path, f"the archive is damaged or cut short ({exc}); download the export again") from None


def _order(wanted: re.Pattern[str], name: str) -> tuple[int, str]:
    """By part number (none: part 0), then by name."""
    match = wanted.search(name)
    part = match.groupdict().get("part") if match else None
    return int(part or 0), name
