"""Non-organic materials laid over the plants: three textures the project makes itself
(plastic, metal, concrete), seeded so the same seed gives the same surface, or an image the
artist supplies; and the blend modes that press them into a picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ReadError


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise: a ``cells`` x ``cells`` random grid enlarged bicubically to h x w, in 0..1."""
    coarse = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8), "L")
    return np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255


def concrete(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Grey cement with its aggregate showing: broad stains, embedded stones lighter and darker
    than the paste, dark pores and a few cracks. Its values span most of the range, so an
    overlay visibly presses it into a picture (a texture centred on mid-grey changes an overlay
    by almost nothing: the earlier one moved the demo's pixels by 2.3/255 on average)."""
    stains = sum(_smooth_noise(rng, h, w, cells) * weight for cells, weight in ((3, 0.5), (12, 0.3), (48, 0.2)))
    grey = 0.3 + 0.45 * stains + rng.normal(0, 0.05, (h, w))
    side = max(h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(side * side / 900)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.004, 0.018, 2) * side
        turn = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        along, across = dx * np.cos(turn) + dy * np.sin(turn), -dx * np.sin(turn) + dy * np.cos(turn)
        stone = (along / rx) ** 2 + (across / ry) ** 2 < 1
        grey[stone] = grey[stone] * 0.5 + rng.choice([rng.uniform(0.1, 0.25), rng.uniform(0.7, 0.85)]) * 0.5
    grey[rng.random((h, w)) < 0.02] *= 0.3
    for _ in range(3):
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(int(side * 0.6)):
            heading += rng.normal(0, 0.35)
            y, x = y + np.sin(heading), x + np.cos(heading)
            if 0 <= y < h and 0 <= x < w:
                grey[int(y), int(x)] = 0.08
    tint = np.array([1.0, 0.98, 0.94], dtype=np.float32)
    return np.clip(grey[..., None] * tint, 0, 1).astype(np.float32)


def metal(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Brushed steel: streaks along the rows, a broad sheen across them."""
    streaks = rng.normal(0, 1, (h, max(4, w // 16)))
    streaks = np.asarray(Image.fromarray(((streaks - streaks.min()) / np.ptp(streaks) * 255).astype(np.uint8), "L")
                         .resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    sheen = 0.5 + 0.35 * np.sin(np.linspace(0, np.pi * rng.uniform(1, 3), h))[:, None]
    grey = np.clip(0.35 + 0.35 * sheen + 0.2 * (streaks - 0.5), 0, 1)
    return (grey[..., None] * np.array([0.92, 0.95, 1.0], dtype=np.float32)).astype(np.float32)


def plastic(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Glossy moulded plastic: one loud colour, soft dents, and bright highlights."""
    import colorsys

    colour = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.6, 0.95), rng.uniform(0.7, 0.95)), dtype=np.float32)
    dents = _smooth_noise(rng, h, w, 6)
    shade = 0.75 + 0.35 * dents
    highlight = np.clip((dents - 0.72) * 5, 0, 1) ** 2
    return np.clip(colour * shade[..., None] + highlight[..., None], 0, 1).astype(np.float32)


PROCEDURAL = {"plastic": plastic, "metal": metal, "concrete": concrete}


def texture_from_file(path: Path, h: int, w: int) -> np.ndarray:
    """The artist's texture image, cropped to the picture's shape and resized to it."""
    try:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
    except FileNotFoundError:
        raise ReadError(path, "no such texture image") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ReadError(path, f"not a readable texture image ({exc})") from None
    tw, th = rgb.size
    scale = max(w / tw, h / th)
    big = rgb.resize((max(w, round(tw * scale)), max(h, round(th * scale))), Image.Resampling.LANCZOS)
    left, top = (big.width - w) // 2, (big.height - h) // 2
    return np.asarray(big.crop((left, top, left + w, top + h)), dtype=np.float32) / 255


def blend(base: np.ndarray, layer: np.ndarray, mode: str, opacity: float) -> np.ndarray:
    """``layer`` over ``base`` (both float 0..1) by ``mode``, mixed in at ``opacity``."""
    if mode == "multiply":
        mixed = base * layer
    elif mode == "screen":
        mixed = 1 - (1 - base) * (1 - layer)
    elif mode == "overlay":
        mixed = np.where(base < 0.5, 2 * base * layer, 1 - 2 * (1 - base) * (1 - layer))
    else:
        mixed = layer
    return base + (mixed - base) * opacity
