"""Differentiable augmentation (Zhao et al. 2020, "DiffAugment"): the same random translation,
cutout, colour change and flip applied to real and generated images before the discriminator
sees them, so it cannot memorise a few hundred images and the generator still gets gradients.

Every random number comes from the caller's ``torch.Generator`` (on the CPU, whatever the
device), whose state the checkpoint keeps; so a resumed run augments exactly as an unbroken one.
"""

from __future__ import annotations

import torch

Policy = list[str]


def _uniform(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=generator).to(device)


def colour(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5], on images in [-1, 1]."""
    n = x.shape[0]
    brightness = (_uniform(n, generator, x.device) - 0.5).view(n, 1, 1, 1)
    x = x + brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(n, generator, x.device) * 2).view(n, 1, 1, 1) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, generator, x.device) + 0.5).view(n, 1, 1, 1) + mean


def translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its side, filling with zeros (mid grey)."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=generator).to(x.device)
    gy = (torch.arange(h, device=x.device).view(1, h, 1) + dy + sy).expand(n, h, w)
    gx = (torch.arange(w, device=x.device).view(1, 1, w) + dx + sx).expand(n, h, w)
    padded = torch.nn.functional.pad(x, [sx, sx, sy, sy])
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, gy, gx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` of the side at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    ry, rx = ys - oy + ch // 2, xs - ox + cw // 2
    inside = (ry >= 0) & (ry < ch) & (rx >= 0) & (rx < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror half the images left to right."""
    mirrored = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device).view(-1, 1, 1, 1)
    return torch.where(mirrored, x.flip(3), x)


AUGMENTS = {"translation": translation, "cutout": cutout, "colour": colour, "flip": flip}
ORDER = ("flip", "colour", "translation", "cutout")


def augment(x: torch.Tensor, policy: Policy, generator: torch.Generator) -> torch.Tensor:
    """Apply the policy's augmentations in a fixed order, whatever order the work lists them."""
    for name in ORDER:
        if name in policy:
            x = AUGMENTS[name](x, generator)
    return x
