"""Sugar and spice capacities: the classic two-peak map made in code, or the artist's own file.

Arrays are indexed [y, x] with y = 0 the top (north) row, the way an image is read, so a PNG or a
CSV shows the world the way the artist drew it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sugarglass.society.config import LandscapeConfig, SocietyConfigError

CLASSIC_SIDE = 50
# Two peaks of concentric terraces 4, 3, 2, 1 (x, y of each centre; radius where each terrace
# ends). Fitted to the book's hand-drawn map (as shipped with Mesa and NetLogo): the circles
# agree with it on 92% of the cells and have the same peaks, terrace sizes and empty corners.
CLASSIC_PEAKS = ((38.5, 10.5), (14.5, 34.5))
CLASSIC_TERRACE_RADII = (5.75, 11.0, 16.75, 23.75)


@dataclass(frozen=True)
class Landscape:
    """Capacities per cell, float32 [height, width]; cells start full unless a rule says not."""

    sugar_capacity: np.ndarray
    spice_capacity: np.ndarray

    @property
    def height(self) -> int:
        return int(self.sugar_capacity.shape[0])

    @property
    def width(self) -> int:
        return int(self.sugar_capacity.shape[1])


def classic_tile() -> np.ndarray:
    """One 50 x 50 tile of sugar capacity: terraces 4..1 around the NE and SW peaks, 0 between."""
    y, x = np.mgrid[0:CLASSIC_SIDE, 0:CLASSIC_SIDE].astype(np.float64)
    distance = np.min(
        [np.hypot(x - px, y - py) for px, py in CLASSIC_PEAKS], axis=0
    )
    level = np.zeros_like(distance)
    for radius in CLASSIC_TERRACE_RADII:
        level += distance < radius
    return level.astype(np.float32)


def mirror(sugar: np.ndarray) -> np.ndarray:
    """Spice where sugar is poor: the sugar map flipped left to right."""
    return np.ascontiguousarray(sugar[:, ::-1])


def tile_to(tile: np.ndarray, tiles: tuple[int, int] | None, width: int | None,
            height: int | None) -> np.ndarray:
    """Repeat a map `tiles` = [across, down] times, or enough to cover width x height and crop."""
    if tiles is not None:
        return np.tile(tile, (tiles[1], tiles[0]))
    h = height or tile.shape[0]
    w = width or tile.shape[1]
    reps = (-(-h // tile.shape[0]), -(-w // tile.shape[1]))
    return np.ascontiguousarray(np.tile(tile, reps)[:h, :w])


def read_csv_map(path: Path) -> np.ndarray:
    """Numbers separated by commas or spaces, one row of cells a line; no gaps, no ragged rows."""
    if not path.is_file():
        raise SocietyConfigError(f"landscape 'path': no such file {path}")
    rows: list[list[float]] = []
    with path.open(newline="") as handle:
        text = handle.read()
    lines = [line for line in text.splitlines() if line.strip()]
    comma = any("," in line for line in lines)
    for number, line in enumerate(lines):
        fields = next(csv.reader([line])) if comma else line.split()
        values = []
        for column, field in enumerate(fields, start=1):
            try:
                value = float(field) if field.strip() else float("nan")
            except ValueError:
                raise SocietyConfigError(
                    f"landscape {path}, row {number + 1}, column {column}: {field!r} is not a number"
                ) from None
            if not np.isfinite(value):
                raise SocietyConfigError(
                    f"landscape {path}, row {number + 1}, column {column}: hole (empty or NaN)"
                )
            values.append(value)
        if rows and len(values) != len(rows[0]):
            raise SocietyConfigError(
                f"landscape {path}, row {number + 1}: wrong shape, {len(values)} cells where "
                f"the first row has {len(rows[0])}"
            )
        rows.append(values)
    if not rows:
        raise SocietyConfigError(f"landscape {path}: empty file")
    grid = np.array(rows, dtype=np.float32)
    if (grid < 0).any():
        y, x = np.argwhere(grid < 0)[0]
        raise SocietyConfigError(f"landscape {path}, row {y + 1}, column {x + 1}: negative capacity")
    return grid


def read_png_map(path: Path, scale: float) -> np.ndarray:
    """Grey level of each pixel times `scale` (white = scale); a transparent pixel is a hole."""
    from matplotlib import image  # only the png kind needs it

    if not path.is_file():
        raise SocietyConfigError(f"landscape 'path': no such file {path}")
    try:
        pixels = image.imread(path, format="png").astype(np.float64)
    except (OSError, ValueError, SyntaxError) as err:
        raise SocietyConfigError(f"landscape {path}: not a readable PNG ({err})") from None
    if pixels.dtype.kind in "ui":
        pixels = pixels / np.iinfo(pixels.dtype).max
    if pixels.ndim == 3:
        if pixels.shape[2] in (2, 4):
            alpha = pixels[..., -1]
            if (alpha < 1.0).any():
                y, x = np.argwhere(alpha < 1.0)[0]
                raise SocietyConfigError(
                    f"landscape {path}: hole (transparent pixel) at row {y + 1}, column {x + 1}"
                )
            pixels = pixels[..., :-1]
        grey = pixels @ np.array([0.299, 0.587, 0.114]) if pixels.shape[2] == 3 else pixels[..., 0]
    else:
        grey = pixels
    return (grey * scale).astype(np.float32)


def load_landscape(config: LandscapeConfig, preset: str, base_dir: Path | None = None) -> Landscape:
    """Build the capacities the config names; file paths are relative to the work file's folder."""
    kind = config.resolved_kind(preset)
    if kind == "uniform":
        shape = (config.height or CLASSIC_SIDE, config.width or CLASSIC_SIDE)
        return Landscape(
            np.full(shape, config.sugar_capacity, dtype=np.float32),
            np.full(shape, config.spice_capacity, dtype=np.float32),
        )
    if kind == "classic":
        sugar_tile = classic_tile()
        spice_tile = mirror(sugar_tile)
    else:
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        read = read_csv_map if kind == "csv" else (lambda p: read_png_map(p, config.scale))
        assert config.path is not None
        sugar_tile = read(base / config.path)
        if config.spice_path is not None:
            spice_tile = read(base / config.spice_path)
            if spice_tile.shape != sugar_tile.shape:
                raise SocietyConfigError(
                    f"landscape 'spice_path': wrong shape {spice_tile.shape[::-1]} (width, "
                    f"height); the sugar map is {sugar_tile.shape[::-1]}"
                )
        else:
            spice_tile = mirror(sugar_tile)
    return Landscape(
        tile_to(sugar_tile, config.tiles, config.width, config.height),
        tile_to(spice_tile, config.tiles, config.width, config.height),
    )
