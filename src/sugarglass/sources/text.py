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


def check_encoding(path: Path, encoding: str) -> None:
    """Line-wise reading needs an encoding in which a newline is the byte 0x0A."""
    if "\n".encode(encoding) != b"\n" or "a".encode(encoding) != b"a":
        raise ReadError(path, f"encoding {encoding!r} is not ASCII-compatible; convert the file to UTF-8")


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
    if not raw.strip():
        raise ReadError(path, "file is empty")
    if b"\x00" in raw:
        raise ReadError(path, "binary data (a NUL byte): is this the right file?", raw[: raw.index(b"\x00")].count(b"\n") + 1)
    try:
        return raw.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ReadError(path, f"not valid {encoding} (byte 0x{raw[exc.start]:02x})", line) from None


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
