"""Large JSON documents read an item at a time, and hostile JSON told apart from broken JSON.

Python's decoder fails in three ways a reader must name differently: a syntax error, a file that
stops before its data closes (a copy or export cut short), and nesting so deep that the decoder
runs out of stack (``RecursionError``, which names nothing). The last two are found by a plain
bracket scan, run only after the decoder has failed, so good files cost nothing extra.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ReadError

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"\s*")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(")?|[\[\]{}]', re.DOTALL)
_CLOSER = {"[": "]", "{": "}"}
TRUNCATED = "the file ends before its JSON {what} closes: it may be truncated; copy or export it again"


@dataclass(frozen=True, slots=True)
class Nesting:
    """What a bracket scan from an opening bracket found. ``end`` is the offset just past its
    closing bracket; None if the text ends first (``mismatched``: a wrong closer came first)."""

    end: int | None
    depth: int
    deepest_at: int
    mismatched: bool = False


def scan(text: str, start: int) -> Nesting:
    """Follow brackets from ``text[start]`` without recursion, strings skipped."""
    stack: list[str] = []
    depth, deepest_at = 0, start
    for token in _TOKEN.finditer(text, start):
        mark = token.group()
        if mark in _CLOSER:
            stack.append(_CLOSER[mark])
            if len(stack) > depth:
                depth, deepest_at = len(stack), token.start()
        elif mark in ("]", "}"):
            if not stack or stack.pop() != mark:
                return Nesting(None, depth, deepest_at, mismatched=True)
            if not stack:
                return Nesting(token.end(), depth, deepest_at)
        elif token.group(1) is None:
            break  # a string that never closes
        elif not stack:
            return Nesting(token.end(), depth, deepest_at)
    return Nesting(None, depth, deepest_at)


@dataclass(frozen=True, slots=True)
class TooDeep:
    """An array item nested too deeply to decode, in place of the item; ``reason`` says so."""

    depth: int

    @property
    def reason(self) -> str:
        return too_deep(self.depth)


def too_deep(depth: int) -> str:
    return f"JSON nested {depth:,} levels deep, deeper than the decoder can follow (no real export nests like this)"


class Located:
    """Turns character offsets into 1-based line numbers, cheaply, as offsets only grow."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def line_at(self, offset: int) -> int:
        if offset < self.offset:
            return self.text.count("\n", 0, offset) + 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line

    def last_line(self) -> int:
        """The line the text stops on (a final newline does not start another)."""
        return self.line_at(len(self.text.rstrip("\r\n")))


def json_array_items(text: str, start: int, path: Path, end: list[int] | None = None) -> Iterator[tuple[int, object]]:
    """(line, item) for each item of the JSON array that opens at ``text[start]``; an item
    nested too deeply comes as a ``TooDeep``, so a reader can skip it. The offset just past
    the array is appended to ``end``."""
    where = Located(text)
    if start >= len(text) or text[start] != "[":
        raise ReadError(path, "expected a JSON array", where.line_at(start))
    position = _WHITESPACE.match(text, start + 1).end()
    while not text.startswith("]", position):
        line = where.line_at(position)
        item, position = _item(text, position, path, where)
        yield line, item
        position = _WHITESPACE.match(text, position).end()
        if text.startswith(",", position):
            position = _WHITESPACE.match(text, position + 1).end()
            if text.startswith("]", position):
                raise ReadError(path, "not valid JSON: a ',' before the ']' that closes the array", where.line_at(position))
        elif not text.startswith("]", position):
            if position >= len(text):
                raise ReadError(path, TRUNCATED.format(what="array"), where.last_line())
            raise ReadError(path, "expected ',' or ']' between items", where.line_at(position))
    if end is not None:
        end.append(position + 1)


def _item(text: str, position: int, path: Path, where: Located) -> tuple[object, int]:
    """The item at ``position`` and the offset after it; a too-deep item is skipped whole."""
    try:
        return _DECODER.raw_decode(text, position)
    except json.JSONDecodeError as exc:
        nesting = scan(text, position)
        if nesting.end is None and not nesting.mismatched:
            raise ReadError(path, TRUNCATED.format(what="array"), where.last_line()) from None
        raise ReadError(path, f"not valid JSON: {exc.msg}", where.line_at(exc.pos)) from None
    except RecursionError:
        nesting = scan(text, position)
        if nesting.end is None:
            raise ReadError(path, too_deep(nesting.depth), where.line_at(position)) from None
        return TooDeep(nesting.depth), nesting.end


def loads(text: str, path: Path) -> object:
    """``json.loads`` whose failures are ReadErrors naming the line: the file cut short, nesting
    too deep (at the line of its deepest point), or the syntax error."""
    where = Located(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        nesting = scan(text, _WHITESPACE.match(text).end())
        if nesting.end is None and not nesting.mismatched:
            raise ReadError(path, TRUNCATED.format(what="data"), where.last_line()) from None
        raise ReadError(path, f"not valid JSON: {exc.msg}", where.line_at(exc.pos)) from None
    except RecursionError:
        nesting = scan(text, _WHITESPACE.match(text).end())
        raise ReadError(path, too_deep(nesting.depth), where.line_at(nesting.deepest_at)) from None
