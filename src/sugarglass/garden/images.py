"""Converting the model's tensors to pictures, and laying pictures out in a grid."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8, rounded the same way on every machine."""
    scaled = ((images.detach().to("cpu", torch.float32).clamp(-1, 1) + 1) * 127.5).round()
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8, or already in [-1, 1] -> float32 in [-1, 1]: what every network reads."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32) / 127.5 - 1
    return images.to(torch.float32)


def grid(images: np.ndarray, columns: int, gap: int = 2, colour: int = 255) -> np.ndarray:
    """Tile (N, H, W, 3) images row by row, ``gap`` pixels apart."""
    n, h, w, _ = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    sheet = np.full((rows * h + (rows + 1) * gap, columns * w + (columns + 1) * gap, 3), colour, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y : y + h, x : x + w] = image
    return sheet
