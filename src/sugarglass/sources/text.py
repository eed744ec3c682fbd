"""Shared parsing for readers: line-wise decoding that knows its line numbers, and times."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ReadError
from .report import ReadReport

MAX_RECORD_BYTES = 1 << 20
"""One post is never a megabyte; a longer line is junk or the wrong file."""


def too_long(text: str) -> str | None:
    """Why a post taken from inside a document is refused for its length, else None: the
    line-wise readers hold each line to ``MAX_RECORD_BYTES``, and documents hold each post to it."""
    if len(text) * 4 <= MAX_RECORD_BYTES:
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= MAX_RECORD_BYTES:
        return None
    return f"post is {size:,} bytes long, over the {MAX_RECORD_BYTES:,}-byte limit for one post"


def ascii_compatible(encoding: str) -> bool:
    """True if ASCII text is the same bytes in ``encoding`` (UTF-8, Latin-1; not UTF-16)."""
    return "\n".encode(encoding) == b"\n" and "a".encode(encoding) == b"a"


def check_encoding(path: Path, encoding: str) -> None:
    """Line-wise reading needs an encoding in which a newline is the byte 0x0A."""
    if not ascii_compatible(encoding):
        raise ReadError(path, f"encoding {encoding!r} is not ASCII-compatible; convert the file to UTF-8")


_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def wide_encoding(head: bytes) -> str | None:
    """The encoding ("UTF-16" or "UTF-32") whose text a file's first bytes are, by a byte-order
    mark or by ASCII with NULs between its bytes; else None. Such a file is full of NULs, and
    calling it binary data would send the artist looking for the wrong problem."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return name
    for name, width in (("UTF-32", 4), ("UTF-16", 2)):
        sample = head[: len(head) // width * width]
        units = [sample[i : i + width] for i in range(0, len(sample), width)]
        if len(units) >= 2 and all(unit.count(0) == width - 1 for unit in units):
            return name
    return None


def refuse_wide(path: Path, head: bytes, hint: str) -> None:
    """A ReadError if ``head`` is the start of a UTF-16 or UTF-32 file; ``hint`` says what to do."""
    name = wide_encoding(head)
    if name is not None:
        raise ReadError(path, f"this file is {name}; {hint.format(encoding=name.lower())}")


LINES_HINT = "save it as UTF-8 (CSV, TSV and JSON Lines are read line by line, which needs an ASCII-compatible encoding)"
DOCUMENT_HINT = 'save it as UTF-8 or set encoding = "{encoding}" in the source'


def decoded_lines(path: Path, encoding: str, report: ReadReport, start: int = 0, stop: int | None = None,
                  first_line: int = 1) -> Iterator[tuple[int, int, str]]:
    """(line number, offset just past the line, text) for each line from byte ``start`` (the
    start of line ``first_line``) up to ``stop``; a line that cannot be decoded is a bad record.

    Decoding line by line, rather than letting a text stream fail somewhere, is what lets an
    error name its line; byte ranges let a worker read its part of an archive the same way. A
    UTF-8 byte-order mark at the start of the file is dropped.
    """
    check_encoding(path, encoding)
    decode = codecs.getdecoder(encoding)
    utf8 = encoding.replace("_", "-").lower().startswith("utf-8")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        if start == 0:
            refuse_wide(path, handle.read(64), LINES_HINT)
        handle.seek(start)
        at = start
        for number, raw in enumerate(handle, start=first_line):
            if stop is not None and at >= stop:
                return
            at += len(raw)
            if number == 1 and utf8 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if len(raw) > MAX_RECORD_BYTES:
                report.bad_record(number, f"line is {len(raw):,} bytes long, over the {MAX_RECORD_BYTES:,}-byte limit for one post")
                continue
            if b"\x00" in raw:
                report.bad_record(number, "binary data (a NUL byte): is this the right file?")
                continue
            try:
                text, _ = decode(raw)
            except UnicodeDecodeError as exc:
                report.bad_record(
                    number,
                    f"not valid {encoding} (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "set the source's encoding if the file uses another",
                )
                continue
            yield number, at, text


def read_document(path: Path, encoding: str) -> str:
    """A whole JSON or JS document as text, with decode errors placed by line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from None
    return decode_document(raw, path, encoding)


def decode_document(raw: bytes, path: Path, encoding: str) -> str:
    """A document's bytes (a file, or a member of an export archive) as text; errors name
    ``path`` and the line."""
    if not raw.strip():
        raise ReadError(path, "file is empty")
    if ascii_compatible(encoding):
        refuse_wide(path, raw[:64], DOCUMENT_HINT)
        if b"\x00" in raw:
            raise ReadError(path, "binary data (a NUL byte): is this the right file?", raw[: raw.index(b"\x00")].count(b"\n") + 1)
    try:
        text = raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1 if ascii_compatible(encoding) else None
        raise ReadError(path, f"not valid {encoding} (byte 0x{raw[exc.start]:02x})", line) from None
    return text.removeprefix("\ufeff")


_TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"


def parse_time(value: object) -> datetime:
    """A post's time as aware UTC: ISO 8601, Unix seconds, or Twitter's format.

    Times without a zone are taken as UTC, since exports almost always are.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, _TWITTER_TIME)
        except ValueError:
            try:
                return datetime.fromtimestamp(float(text), tz=timezone.utc)
            except (ValueError, OverflowError):
                raise ValueError(f"{text!r} is not a time (use ISO 8601, e.g. 2023-02-18T12:33:11Z)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
