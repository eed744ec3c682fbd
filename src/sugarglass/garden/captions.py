"""The artist's words about their images: a caption per image, labels, and the vocabulary the
text-conditioned model learns from them alone.

A caption comes from a sidecar text file beside its image (``rose.png`` and ``rose.txt``) or a
row of ``captions.csv`` (columns ``file`` and ``caption``). Any other column of that file is a
label of the image: ``species`` is the one the evaluation recognises plants by, the rest are
attributes (flower colour, height...) that text-conditioned plants are checked against. An image
without a caption still trains the model, unconditioned, and is counted. ``probes.csv`` may list
descriptions of plants the folder lacks, with the labels a plant grown from each should show;
it is read only by the evaluation, never by training.

No word list, embedding or tokeniser from anywhere else: a word is a run of letters or digits,
case folded, and the vocabulary is exactly the words of the training captions.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import ReadError, SugarglassError

CAPTIONS_FILE = "captions.csv"
PROBES_FILE = "probes.csv"
SPECIES = "species"
MAX_WORDS = 64
PAD, NULL, FIRST_WORD = 0, 1, 2  # token ids: padding, "no caption", then the vocabulary
WORD = re.compile(r"[^\W_]+")


class DescriptionError(SugarglassError):
    """A description the model cannot read: empty, too long, or with words it never learned."""


def words(text: str) -> list[str]:
    """The words of ``text``: runs of letters or digits, case folded ("Five-petalled" gives
    "five", "petalled")."""
    return WORD.findall(text.casefold())


@dataclass
class Captions:
    """Captions and labels, one entry per usable image (``None`` where there is none)."""

    texts: list[str | None]
    labels: dict[str, list[str | None]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # the caption files read, for the record
    digest: str = ""

    @property
    def captioned(self) -> int:
        return sum(t is not None for t in self.texts)

    @property
    def species(self) -> list[str | None] | None:
        return self.labels.get(SPECIES)

    @property
    def attributes(self) -> dict[str, list[str | None]]:
        return {k: v for k, v in self.labels.items() if k != SPECIES}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(path, f"is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ReadError(path, f"cannot be read ({exc.strerror or exc})") from None


def read_captions(folder: Path, images: list[str], rejected: set[str] = frozenset()) -> Captions:
    """Captions and labels for ``images`` (file names in ``folder``, in dataset order). A
    ``captions.csv`` row naming a file that is not in the folder is an error naming the line;
    one naming an image that was rejected (corrupt, tiny...) is passed over, as the image is."""
    index = {name: i for i, name in enumerate(images)}
    texts: list[str | None] = [None] * len(images)
    labels: dict[str, list[str | None]] = {}
    digest = hashlib.sha256()
    files = []
    table = folder / CAPTIONS_FILE
    from_table: dict[int, int] = {}  # image -> the line that captioned it
    if table.is_file():
        body = _read_text(table)
        digest.update(CAPTIONS_FILE.encode() + b"\0" + body.encode("utf-8"))
        files.append(CAPTIONS_FILE)
        rows = csv.reader(body.splitlines())
        header = [h.strip() for h in next(rows, [])]
        if "file" not in header:
            raise ReadError(table, "needs a header with a 'file' column (and 'caption', or label columns)", line=1)
        if len(set(header)) != len(header) or any(not h for h in header):
            raise ReadError(table, f"the header has a blank or repeated column: {', '.join(header)}", line=1)
        label_columns = [h for h in header if h not in ("file", "caption")]
        labels = {name: [None] * len(images) for name in label_columns}
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ReadError(table, f"has {len(row)} cells where the header has {len(header)}", line=line)
            cells = dict(zip(header, (cell.strip() for cell in row)))
            name = cells["file"]
            if name in rejected:
                continue
            if name not in index:
                raise ReadError(table, f"names {name!r}, which is not an image in {folder.name}/", line=line)
            i = index[name]
            if i in from_table:
                raise ReadError(table, f"names {name!r} again (first on line {from_table[i]})", line=line)
            from_table[i] = line
            if cells.get("caption"):
                texts[i] = cells["caption"]
            for column in label_columns:
                labels[column][i] = cells[column] or None
    for name, i in index.items():
        sidecar = (folder / name).with_suffix(".txt")
        if not sidecar.is_file():
            continue
        text = _read_text(sidecar).strip()
        digest.update(sidecar.name.encode() + b"\0" + text.encode("utf-8"))
        files.append(sidecar.name)
        if texts[i] is not None:
            raise ReadError(sidecar, f"captions {name}, which {CAPTIONS_FILE} captions too (line {from_table[i]}); "
                                     "keep one of the two")
        texts[i] = text or None
    return Captions(texts, labels, files, digest.hexdigest())


def read_probes(folder: Path) -> list[tuple[str, dict[str, str]]]:
    """``probes.csv``: descriptions (column ``description``) with the labels a plant grown from
    each should show (other columns; blank where the description says nothing of it)."""
    path = folder / PROBES_FILE
    if not path.is_file():
        return []
    rows = list(csv.reader(_read_text(path).splitlines()))
    header = [h.strip() for h in rows[0]] if rows else []
    if "description" not in header:
        raise ReadError(path, "needs a header with a 'description' column and label columns", line=1)
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ReadError(path, f"has {len(row)} cells where the header has {len(header)}", line=line)
        cells = dict(zip(header, (cell.strip() for cell in row)))
        text = cells.pop("description")
        if not text:
            raise ReadError(path, "has a blank description", line=line)
        found.append((text, {k: v for k, v in cells.items() if v}))
    return found


@dataclass(frozen=True)
class Vocabulary:
    """The words of the training captions, in a fixed (sorted) order; a word's token is its
    place plus ``FIRST_WORD``."""

    words: tuple[str, ...]

    @classmethod
    def from_captions(cls, texts: list[str | None]) -> Vocabulary:
        return cls(tuple(sorted({w for t in texts if t for w in words(t)})))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def tokens(self) -> int:
        """Rows of an embedding table: the words, padding and the no-caption token."""
        return len(self.words) + FIRST_WORD

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {w: i + FIRST_WORD for i, w in enumerate(self.words)}

    def encode(self, text: str | None, strict: bool = True) -> list[int]:
        """Tokens of ``text`` (``[NULL]`` for no caption). ``strict`` refuses unknown words,
        naming them and the words known; otherwise they are left out."""
        if text is None:
            return [NULL]
        lookup = self._lookup
        found = words(text)
        unknown = sorted({w for w in found if w not in lookup})
        if strict:
            if not found:
                raise DescriptionError(f"the description {text!r} has no words; describe the plant, "
                                       "for example with words from its captions")
            if unknown:
                raise DescriptionError(f"the description {text!r} uses {len(unknown)} word(s) the model never read in a "
                                       f"caption: {', '.join(unknown)}. It knows {len(self.words)}: {', '.join(self.words)}")
            if len(found) > MAX_WORDS:
                raise DescriptionError(f"the description has {len(found)} words; the model reads at most {MAX_WORDS}")
        tokens = [lookup[w] for w in found if w in lookup][:MAX_WORDS]
        return tokens or [NULL]

    def bag(self, text: str | None) -> list[int]:
        """The distinct words of ``text`` as indices into ``words`` (for the word predictor)."""
        if text is None:
            return []
        return sorted({t - FIRST_WORD for t in self.encode(text, strict=False) if t >= FIRST_WORD})
