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
    """Grey cement: octaves of noise, dark pores and light grit."""
    base = sum(_smooth_noise(rng, h, w, cells) * weight for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)))
    grey = 0.42 + 0.25 * base + rng.normal(0, 0.04, (h, w))
    grey[rng.random((h, w)) < 0.015] *= 0.45
    grey[rng.random((h, w)) < 0.01] = 0.85
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
