"""The generator and discriminator: small enough to learn from a few hundred images on a CPU.

The generator grows a 4 x 4 map to the image side by nearest upsampling and 3 x 3 convolutions
with pixel normalisation (no batch statistics, so its EMA copy samples the same in eval mode as
in training). The discriminator halves the side at each layer, every weight under spectral
normalisation, which keeps it from overpowering the generator on so little data. Nothing here is
random except the weights' initialisation, which the caller seeds.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def channels(size: int, width: int, side: int) -> int:
    """Channels of a feature map ``side`` pixels wide: ``width`` at full size, doubling inwards."""
    return min(width * (size // side), width * 8)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class Generator(nn.Module):
    def __init__(self, size: int, latent: int, width: int):
        super().__init__()
        self.size, self.latent, self.width = size, latent, width
        start = channels(size, width, 4)
        self.stem = nn.Sequential(nn.Linear(latent, start * 16), nn.Unflatten(1, (start, 4, 4)), PixelNorm(), nn.LeakyReLU(0.2))
        blocks: list[nn.Module] = []
        side = 4
        while side < size:
            c_in, c_out = channels(size, width, side), channels(size, width, side * 2)
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1), PixelNorm(), nn.LeakyReLU(0.2)]
            side *= 2
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.Conv2d(channels(size, width, size), 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent) -> images (B, 3, size, size) in [-1, 1]."""
        return torch.tanh(self.to_rgb(self.blocks(self.stem(z))))


class Discriminator(nn.Module):
    def __init__(self, size: int, width: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in, side = 3, size
        while side > 4:
            c_out = channels(size, width, side // 2)
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c_in, side = c_out, side // 2
        self.features = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(c_in * 16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)


def build(size: int, latent: int, width: int, seed: int) -> tuple[Generator, Discriminator]:
    """The two networks, their initial weights from ``seed`` alone."""
    if size < 8 or 2 ** round(math.log2(size)) != size:
        raise ValueError(f"image side must be a power of two of at least 8, got {size}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Generator(size, latent, width), Discriminator(size, width)
