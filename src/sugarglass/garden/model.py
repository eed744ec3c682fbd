"""The garden's networks: a fast conditional GAN that learns a few hundred images on a CPU from
the artist's own pictures and captions.

Chosen for small data and a small machine (docs/garden.md has the reasons and the measurements):

- The generator is DCGAN's (Radford et al. 2016): a 4 x 4 map grown to the image side by
  nearest upsampling and one 3 x 3 convolution a resolution, batch-normalised. It learns
  faster per second of CPU than anything heavier: a plain DCGAN drew plant silhouettes here in
  two minutes where a FastGAN-style network with two convolutions a block and modulated pixel
  norm had collapsed to one blob after ten. From FastGAN (Liu et al. 2021) it takes the
  *skip-layer excitation*: the 8 and 16 px maps gate the channels of the two finest, so a
  plant's coarse shape steers its fine strokes for a few thousand weights.
- Every batch norm is *conditional* (de Vries et al. 2017; BigGAN): its gain and bias are made
  from the latent and the caption, so the description reaches every resolution.
- The discriminator is DCGAN's too (strided 4 x 4 convolutions with batch norm). It judges image
  and caption together by projection (Miyato & Koyama 2018), and names the caption's words
  from the image: a multi-label form of the AC-GAN's auxiliary classifier, which teaches the
  attributes one word at a time, so they combine in ways no training image shows.
- Captions are read by a small transformer over the training captions' own words; each network
  has its own.

Nothing here is random except the weights' initialisation, which the caller seeds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .captions import MAX_WORDS, PAD

TEXT = 64  # width of a caption's encoding
SIZES = (32, 64, 128, 256)


def channels(size: int, width: int, side: int) -> int:
    """Channels of a feature map ``side`` pixels wide: ``width`` at full size, doubling inwards
    up to eight times ``width``."""
    return min(width * (size // side), width * 8)


def excitations(size: int) -> list[tuple[int, int]]:
    """(coarse side, fine side) of each skip-layer excitation: 8 px gates half the side and
    16 px the full side (FastGAN links 8 -> 128 and 16 -> 256 at 1024 px)."""
    return [(8, size // 2), (16, size)] if size >= 64 else []


class TextEncoder(nn.Module):
    """Caption tokens (B, L) -> (B, TEXT): word and position embeddings, one transformer layer,
    the mean over the words, normalised."""

    def __init__(self, tokens: int, dim: int = TEXT):
        super().__init__()
        self.embed = nn.Embedding(tokens, dim, padding_idx=PAD)
        self.position = nn.Parameter(torch.randn(MAX_WORDS, dim) * 0.02)
        self.layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=2 * dim, dropout=0.0,
                                                batch_first=True, norm_first=True)
        self.out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)  # as loud as the latent, so neither drowns the other

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pad = tokens == PAD
        x = self.embed(tokens) + self.position[: tokens.shape[1]]
        x = self.layer(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        return self.norm(self.out((x * keep).sum(1) / keep.sum(1).clamp_min(1)))


class ConditionalNorm(nn.Module):
    """Batch norm whose gain and bias come from the conditioning vector (latent and caption)."""

    def __init__(self, c: int, condition: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(c, affine=False)
        self.affine = nn.Linear(condition, 2 * c)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        gain, bias = self.affine(condition)[..., None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + gain) + bias


class Up(nn.Module):
    """Double the side, one 3 x 3 convolution, conditional batch norm, ReLU."""

    def __init__(self, c_in: int, c_out: int, condition: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = ConditionalNorm(c_out, condition)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2, mode="nearest")), condition))


class Excite(nn.Module):
    """Skip-layer excitation: a coarse map, pooled to 4 x 4, gates a fine map's channels."""

    def __init__(self, c_coarse: int, c_fine: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_coarse, c_fine, 4), nn.SiLU(),
                                  nn.Conv2d(c_fine, c_fine, 1), nn.Sigmoid())

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        return fine * self.gate(coarse)


class Generator(nn.Module):
    def __init__(self, size: int, latent: int, width: int, tokens: int):
        super().__init__()
        self.size, self.latent, self.width = size, latent, width
        condition = latent + TEXT
        self.text = TextEncoder(tokens)
        self.start = channels(size, width, 4)
        self.stem = nn.ConvTranspose2d(condition, self.start, 4)
        self.stem_norm = ConditionalNorm(self.start, condition)
        self.sides = [4 * 2**i for i in range(1, int(math.log2(size // 4)) + 1)]
        self.blocks = nn.ModuleList(Up(channels(size, width, side // 2), channels(size, width, side), condition)
                                    for side in self.sides)
        self.links = excitations(size)
        self.excite = nn.ModuleList(Excite(channels(size, width, a), channels(size, width, b)) for a, b in self.links)
        self.to_rgb = nn.Conv2d(channels(size, width, size), 3, 3, padding=1)

    def forward(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent) and caption tokens (B, L) -> images (B, 3, size, size) in [-1, 1]."""
        condition = torch.cat([z, self.text(tokens)], dim=1)
        x = F.relu(self.stem_norm(self.stem(condition[..., None, None]), condition))
        maps = {}
        for side, block in zip(self.sides, self.blocks):
            x = block(x, condition)
            for (coarse, fine), excite in zip(self.links, self.excite):
                if fine == side:
                    x = excite(maps[coarse], x)
            maps[side] = x
        return torch.tanh(self.to_rgb(x))


def down_path(size: int, width: int) -> nn.Sequential:
    """DCGAN's discriminator body: strided 4 x 4 convolutions with batch norm down to 4 x 4. A
    map ``side`` px wide has the channels of the generator's map twice as wide."""
    layers: list[nn.Module] = [nn.Conv2d(3, channels(size, width, size), 4, 2, 1), nn.LeakyReLU(0.2)]
    side = size // 2
    while side > 4:
        c_in, c_out = channels(size, width, 2 * side), channels(size, width, side)
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        side //= 2
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    def __init__(self, size: int, width: int, tokens: int):
        super().__init__()
        self.size = size
        self.body = down_path(size, width)
        top = channels(size, width, 8)
        self.pool = nn.Conv2d(top, top, 4)  # where in the picture still matters: plants stand on the ground
        self.head = nn.Linear(top, 1)
        self.text = TextEncoder(tokens)
        self.project = nn.Linear(TEXT, top)
        self.word_head = nn.Linear(top, max(tokens - 2, 1))

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """The image's features (B, C) that realness and the caption's words are read from."""
        return self.pool(self.body(image)).flatten(1)

    def judge(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Realness logits (B,) of images (their features) shown with these captions."""
        return self.head(features).squeeze(1) + (self.project(self.text(tokens)) * features).sum(1)

    def words(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, words) of each vocabulary word being in the image's caption."""
        return self.word_head(features)


class Encoder(nn.Module):
    """Image -> the mean and log-variance of its latent (the VAE half of the model): the
    discriminator's shape, without its judgement."""

    def __init__(self, size: int, latent: int, width: int):
        super().__init__()
        self.body = down_path(size, width)
        self.out = nn.Linear(channels(size, width, 8) * 16, 2 * latent)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_variance = self.out(self.body(image).flatten(1)).chunk(2, dim=1)
        return mean, log_variance.clamp(-8, 4)


def build(size: int, latent: int, width: int, tokens: int, seed: int) -> tuple[Generator, Discriminator, Encoder]:
    """The three networks, their initial weights from ``seed`` alone; ``tokens`` is the size of
    the caption vocabulary's embedding table."""
    if size not in SIZES:
        raise ValueError(f"image side must be one of {', '.join(map(str, SIZES))}, got {size}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Generator(size, latent, width, tokens), Discriminator(size, width, tokens), Encoder(size, latent, width)
