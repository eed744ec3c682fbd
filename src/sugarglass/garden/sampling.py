"""Drawing plants from a generator: latents from a seed, captions as tokens, in batches.

The seed alone decides the latents (drawn on the CPU whatever the device), so the same seed and
checkpoint grow the same plants; a description is read with the vocabulary the model learned.
"""

from __future__ import annotations

import numpy as np
import torch

from .captions import NULL, PAD, Vocabulary
from .images import to_unit
from .model import Generator


def pad_tokens(rows: list[list[int]]) -> torch.Tensor:
    """Token lists -> one (N, L) tensor, padded with ``PAD``."""
    longest = max((len(r) for r in rows), default=1)
    return torch.tensor([r + [PAD] * (longest - len(r)) for r in rows], dtype=torch.long).view(len(rows), longest)


def null_tokens(count: int) -> torch.Tensor:
    """The "no caption" tokens for ``count`` plants grown unprompted."""
    return torch.full((count, 1), NULL, dtype=torch.long)


def description_tokens(vocabulary: Vocabulary, descriptions: list[str], strict: bool = True) -> torch.Tensor:
    """Descriptions as one padded token tensor; ``strict`` refuses unknown words by name."""
    return pad_tokens([vocabulary.encode(text, strict=strict) for text in descriptions])


def garden_tokens(vocabulary: Vocabulary, captions: list[str], count: int, seed: int) -> torch.Tensor | None:
    """What ``count`` plants grow from when nobody describes them: each one of the artist's own
    training captions, drawn by ``seed`` (so the garden grows the plants the artist described,
    in the proportions they described them); unprompted when the dataset has no captions."""
    if not captions:
        return None
    pick = torch.randint(len(captions), (count,), generator=torch.Generator().manual_seed(seed * 7 + 3))
    return description_tokens(vocabulary, [captions[i] for i in pick.tolist()], strict=False)


@torch.no_grad()
def sample(generator: Generator, latents: torch.Tensor, tokens: torch.Tensor | None = None, batch: int = 64) -> torch.Tensor:
    """Images from ``latents`` (and caption tokens, one row per latent or one for all; none
    means unprompted), in batches, on the generator's device; returned on the CPU in [-1, 1]."""
    on = next(generator.parameters()).device
    if tokens is None:
        tokens = null_tokens(1)
    if len(tokens) == 1:
        tokens = tokens.expand(len(latents), -1)
    return torch.cat([generator(latents[i : i + batch].to(on), tokens[i : i + batch].to(on)).float().cpu()
                      for i in range(0, len(latents), batch)])


def latents(count: int, size: int, seed: int, truncation: float | None = None) -> torch.Tensor:
    """``count`` standard normal latents from ``seed`` alone; with ``truncation``, every value
    beyond that many deviations is drawn again until it falls inside (BigGAN's truncation
    trick: fewer odd plants, less variety)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(count, size, generator=generator)
    if truncation is not None:
        outside = z.abs() > truncation
        while bool(outside.any()):
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            outside = z.abs() > truncation
    return z


def uint8_images(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) in [-1, 1]."""
    return to_unit(torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2))
