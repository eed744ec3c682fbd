"""The artist's images and words: checked for consent first, then read, squared and cached as a
tensor, with each image's caption and labels.

Nothing in the folder is opened until its consent record is found in force. Each file that
cannot be used (empty, corrupt, truncated, animated, CMYK, 16-bit, tiny) is skipped and counted
with its reason in the report, so the artist sees exactly what the model was, and was not,
trained on; so are images without a caption. The cache is keyed by the content of every image,
so a changed folder is read anew; captions are read afresh each time (they are small), and the
dataset's digest covers images and captions alike.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ReadError, SugarglassError
from ..files import shared_path
from .captions import CAPTIONS_FILE, PROBES_FILE, Captions, read_captions
from .config import GardenWork

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MODES = {"RGB", "RGBA", "L", "LA", "P", "PA", "1"}
CACHE_FORMAT = "sugarglass-garden-dataset/2"
KNOWN_FILES = {CAPTIONS_FILE, PROBES_FILE, "ABOUT.json"}


class DatasetError(SugarglassError):
    """The dataset folder cannot be used at all: missing, empty, or every image rejected."""


@dataclass
class DatasetReport:
    """What was found in the folder, what was used, and why anything was not."""

    folder: str
    side: int
    used: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # files that are neither images nor captions
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the images used, in order
    images_sha256: str = ""
    sha256: str = ""  # images and captions together
    captioned: int = 0
    caption_files: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    cache: str = ""
    generated: bool = False

    @property
    def uncaptioned(self) -> int:
        return self.used - self.captioned

    @property
    def found(self) -> int:
        return self.used + len(self.rejected)

    def reasons(self) -> Counter:
        return Counter(reason.split(":")[0].split(" (")[0] for _, reason in self.rejected)

    def to_dict(self) -> dict:
        return {**asdict(self), "found": self.found, "reasons": dict(self.reasons()), "uncaptioned": self.uncaptioned}


@dataclass
class Dataset:
    """The usable images as a uint8 tensor (N, 3, side, side), their captions and labels (one
    entry per image, in the same order), and the report."""

    images: object  # torch.Tensor; torch is imported only when a dataset is loaded
    captions: Captions
    report: DatasetReport


def _png_bit_depth(data: bytes) -> int | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 25 and data[12:16] == b"IHDR":
        return data[24]
    return None


def read_image(path: Path, data: bytes, side: int, min_side: int) -> tuple[np.ndarray | None, str, tuple[int, int]]:
    """(square RGB uint8 array, "", original size) or (None, reason, size) for a skip."""
    if not data:
        return None, "empty file (0 bytes)", (0, 0)
    depth = _png_bit_depth(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            if getattr(image, "n_frames", 1) > 1:
                return None, f"animated ({image.n_frames} frames); export one frame as a still", size
            if depth == 16 or image.mode.startswith("I;16") or image.mode in ("I", "F"):
                return None, f"16-bit or wider samples (mode {image.mode}); save it with 8 bits a channel", size
            if image.mode not in MODES:
                return None, f"wrong mode {image.mode} (needs RGB, greyscale or palette); convert it to RGB", size
            if min(size) < min_side:
                return None, f"tiny ({size[0]} x {size[1]} px, under {min_side} px a side)", size
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                image = flat
            image = image.convert("RGB")
    except Image.DecompressionBombError as exc:
        return None, f"too large to open safely ({exc})", (0, 0)
    except UnidentifiedImageError:
        return None, "corrupt (not an image Pillow can read)", (0, 0)
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        return None, f"corrupt or truncated ({exc})", (0, 0)
    w, h = image.size
    edge = min(w, h)
    left, top = (w - edge) // 2, (h - edge) // 2
    square = image.crop((left, top, left + edge, top + edge)).resize((side, side), Image.Resampling.LANCZOS)
    return np.asarray(square, dtype=np.uint8), "", size


def prepare_folder(work: GardenWork) -> tuple[Path, bool]:
    """Check consent, then find (or, for the demo, draw) the folder. Returns (folder, generated)."""
    dataset = work.garden.dataset
    dataset.check_consent()
    folder = work.dataset_folder
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"dataset {dataset.id!r}: {folder} is a file, not a folder of images")
    if dataset.generate == "plants" and folder.is_dir():
        from .plants import stale_drawings

        for path in stale_drawings(folder):  # drawn by an earlier version of the demo
            path.unlink()
    has_images = folder.is_dir() and any(p.suffix.lower() in SUFFIXES for p in folder.iterdir())
    if not has_images and dataset.generate == "plants":
        from .plants import generate_plants

        generate_plants(folder, dataset.generate_count, work.seed)
        return folder, True
    if not folder.is_dir():
        raise DatasetError(f"dataset {dataset.id!r}: no folder {folder}")
    return folder, False


def scan(work: GardenWork) -> tuple[np.ndarray, DatasetReport]:
    """Every usable image of the dataset as an (N, side, side, 3) uint8 array, and the report."""
    folder, generated = prepare_folder(work)
    side, min_side = work.garden.size, work.garden.dataset.min_side
    report = DatasetReport(folder=str(folder), side=side, generated=generated)
    images, digest = [], hashlib.sha256()
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    stems = {Path(n).stem for n in names if Path(n).suffix.lower() in SUFFIXES}
    for path in (folder / n for n in names):
        if path.suffix.lower() not in SUFFIXES:
            if path.name not in KNOWN_FILES and not (path.suffix == ".txt" and path.stem in stems):
                report.ignored.append(path.name)
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ReadError(path, f"cannot be read ({exc.strerror or exc})") from None
        array, reason, (w, h) = read_image(path, data, side, min_side)
        if array is None:
            report.rejected.append((path.name, reason))
            continue
        images.append(array)
        report.files.append(path.name)
        report.widths.append(w)
        report.heights.append(h)
        digest.update(path.name.encode("utf-8") + b"\x00" + hashlib.sha256(data).digest())
    report.used = len(images)
    report.images_sha256 = digest.hexdigest()
    if not images:
        what = "holds no images" if not report.rejected else f"has no usable image ({len(report.rejected)} rejected)"
        detail = "".join(f"\n  - {name}: {reason}" for name, reason in report.rejected[:20])
        raise DatasetError(f"dataset {work.garden.dataset.id!r}: {folder} {what}{detail}")
    return np.stack(images), report


def cache_key(folder: Path, side: int, min_side: int) -> str:
    """A digest of every image file's name and bytes and the preparation settings."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}:{side}:{min_side}".encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")):
        digest.update(path.name.encode("utf-8") + b"\x00" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_dataset(work: GardenWork, cache_dir: Path) -> Dataset:
    """The dataset, its images from the cache when the folder's images are unchanged. The
    cache is written atomically, so a crash never leaves half of one."""
    import torch

    from ..provenance import write_atomic

    folder, generated = prepare_folder(work)
    key = cache_key(folder, work.garden.size, work.garden.dataset.min_side)
    path = cache_dir / f"dataset-{work.garden.dataset.id}-{work.garden.size}-{key[:16]}.pt"
    images = report = None
    if path.is_file():
        try:
            cached = torch.load(path, weights_only=True)
            images, report = cached["images"], DatasetReport(**json.loads(cached["report"]))
        except Exception:  # noqa: BLE001 -- a damaged cache is only a cache: read the folder again
            path.unlink(missing_ok=True)
    if report is None:
        array, report = scan(work)
        report.cache = str(path)
        images = torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
        buffer = io.BytesIO()
        torch.save({"format": CACHE_FORMAT, "images": images, "report": json.dumps(asdict(report))}, buffer)
        write_atomic(path, buffer.getvalue())
    report.generated = generated
    captions = read_captions(folder, report.files, {name for name, _ in report.rejected})
    report.captioned = captions.captioned
    report.caption_files = captions.files
    report.labels = list(captions.labels)
    report.sha256 = hashlib.sha256(f"{report.images_sha256}:{captions.digest}".encode()).hexdigest()
    return Dataset(images, captions, report)


def source_record(work: GardenWork, report: DatasetReport) -> dict:
    """The dataset as a manifest lists a source: its consent record and content digest."""
    dataset = work.garden.dataset
    return {"id": dataset.id, "kind": "image-folder", "path": shared_path(work.dataset_folder, work.base_dir),
            "consent": dataset.consent.model_dump(mode="json"), "sha256": report.sha256,
            "images": report.used, "rejected": len(report.rejected), "captioned": report.captioned,
            "description": dataset.description}
