"""The judge: a small network trained only on the artist's real images, that the evaluation sees
grown plants through. No downloaded network judges the garden.

Where the dataset has labels (``species``, flower colour, height... from ``captions.csv``), the
judge is a classifier with one head a label, trained on a seeded four fifths of the labelled
images and scored on the rest (its held-out accuracy is the ceiling any grown plant can reach).
Its species head has one more class, *none of them*, learnt from real images spoiled the ways
a half-trained generator spoils them: blurred to blobs, cut into chimeras of four plants,
shuffled in tiles, smeared to noise, turned to static, or left as bare ground. Without it a classifier names any blob a species with
confidence (it called 99 % of an untrained generator's noise recognisable).
Without labels it learns by contrast (SimCLR, Chen et al. 2020): two augmented views of an image
must find each other among the batch. Either way its pooled features are the space in which
precision, recall and KID are measured. Augmentation never shifts hue: colour is what a flower
is recognised by. The judge is cached by the dataset's digest, so training the garden and
evaluating it later see through the same eyes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .captions import SPECIES
from .dataset import Dataset
from .images import to_unit

FORMAT = "sugarglass-garden-judge/4"
NONE = "(none of them)"
FEATURES = 128
EPOCHS = 30
MIN_STEPS = 300  # a small folder still gets this many optimiser steps
BATCH = 32
HELD_OUT = 0.2


def judge_side(size: int) -> int:
    """Images are judged at most 64 px a side: enough to tell the species apart."""
    return min(size, 64)


class Trunk(nn.Module):
    """Three stages of two 3 x 3 convolutions with batch norm, each stage starting at half the
    side of the last, then the mean over the picture: (B, 3, side, side) in [-1, 1] ->
    (B, FEATURES)."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in (32, 64, FEATURES):
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class JudgeNet(nn.Module):
    def __init__(self, classes: dict[str, list[str]]):
        super().__init__()
        self.trunk = Trunk()
        self.heads = nn.ModuleDict({name: nn.Linear(FEATURES, len(values)) for name, values in classes.items()})
        self.projection = nn.Sequential(nn.Linear(FEATURES, FEATURES), nn.ReLU(), nn.Linear(FEATURES, 64))


@dataclass
class Judge:
    """A trained judge: its network (eval mode, CPU), the values of each label it tells apart,
    and how well it told them on real images it never trained on."""

    net: JudgeNet
    side: int
    classes: dict[str, list[str]]
    accuracy: dict[str, float] = field(default_factory=dict)  # held-out, per label
    confident_real: float = float("nan")  # held-out real images named with confidence >= 0.8 (species)
    trained_on: int = 0
    held_out: int = 0

    @property
    def has_species(self) -> bool:
        return SPECIES in self.classes

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        x = to_unit(images)
        if x.shape[-1] != self.side:
            x = F.interpolate(x, size=self.side, mode="area")
        return x

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch: int = 128) -> torch.Tensor:
        """(N, FEATURES) pooled features of uint8 or [-1, 1] images."""
        return torch.cat([self.net.trunk(self._prepare(images[i : i + batch])) for i in range(0, len(images), batch)])

    @torch.no_grad()
    def look(self, images: torch.Tensor) -> Look:
        """Features and class probabilities of ``images``, in one pass."""
        feats = self.features(images)
        return Look(feats, {name: head(feats).softmax(dim=1) for name, head in self.net.heads.items()})

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Class probabilities (N, classes) for each label."""
        return self.look(images).probabilities


@dataclass
class Look:
    """What the judge saw in a set of images: (N, FEATURES) features, and (N, classes)
    probabilities per label."""

    features: torch.Tensor
    probabilities: dict[str, torch.Tensor]


def _label_classes(dataset: Dataset) -> dict[str, list[str]]:
    """Every label column with at least two values, and its values in sorted order."""
    found = {}
    for name, values in dataset.captions.labels.items():
        distinct = sorted({v for v in values if v is not None})
        if len(distinct) >= 2:
            found[name] = distinct
    return found


def _augment(x: torch.Tensor, generator: torch.Generator, strong: bool) -> torch.Tensor:
    """Shift by up to an eighth of the side (edge pixels repeated) and change brightness and
    contrast a little; ``strong`` (for contrastive learning) also crops and scales."""
    n, _, h, w = x.shape
    if strong:
        scale = 0.7 + 0.3 * torch.rand(n, generator=generator)
        shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (1 - scale).unsqueeze(1)
    else:
        scale = torch.ones(n)
        shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 0.125
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    brightness = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    contrast = 0.85 + 0.3 * torch.rand(n, 1, 1, 1, generator=generator)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * contrast + mean + brightness


def _spoiled(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Real images made into no plant at all, a sixth each way: blurred to blobs, chimeras of
    four images' quarters, tiles shuffled, smooth colour noise over the picture's ground, pixel
    static, and the bare ground."""
    n, c, h, w = x.shape
    kinds = torch.randint(6, (n,), generator=generator)
    out = x.clone()
    sigma = h / 16
    taps = torch.arange(-3 * int(sigma), 3 * int(sigma) + 1, dtype=x.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    blurred = F.conv2d(F.pad(x, [len(taps) // 2] * 4, mode="replicate").reshape(n * c, 1, h + len(taps) - 1, -1),
                       kernel.view(1, 1, 1, -1)).reshape(n * c, 1, h + len(taps) - 1, w)
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1)).reshape(n, c, h, w)
    others = [x[torch.randperm(n, generator=generator)] for _ in range(3)]
    chimera = x.clone()
    chimera[..., : h // 2, w // 2 :] = others[0][..., : h // 2, w // 2 :]
    chimera[..., h // 2 :, : w // 2] = others[1][..., h // 2 :, : w // 2]
    chimera[..., h // 2 :, w // 2 :] = others[2][..., h // 2 :, w // 2 :]
    tile = h // 4
    tiles = x.unfold(2, tile, tile).unfold(3, tile, tile).reshape(n, c, 16, tile, tile)
    tiles = tiles[:, :, torch.randperm(16, generator=generator)].reshape(n, c, 4, 4, tile, tile)
    shuffled = tiles.permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
    ground = x[..., :2, :].mean(dim=(2, 3), keepdim=True)
    noise = F.interpolate(torch.rand(n, c, 8, 8, generator=generator) * 2 - 1, size=(h, w), mode="bilinear", align_corners=False)
    smeared = (ground + 0.6 * noise).clamp(-1, 1)
    static = torch.rand(n, c, h, w, generator=generator) * 2 - 1
    bare = ground.expand(n, c, h, w)
    for kind, made in enumerate((blurred, chimera, shuffled, smeared, static, bare)):
        out[kinds == kind] = made[kinds == kind]
    return out


def _split(count: int, labels: list[str | None] | None, generator: torch.Generator) -> tuple[list[int], list[int]]:
    """A seeded split, a fifth held out, stratified by ``labels`` when given."""
    groups: dict[str | None, list[int]] = {}
    for i in range(count):
        groups.setdefault(labels[i] if labels else None, []).append(i)
    train, held = [], []
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        members = groups[key]
        order = torch.randperm(len(members), generator=generator).tolist()
        cut = max(1, round(len(members) * HELD_OUT)) if len(members) > 1 else 0
        held += [members[j] for j in order[:cut]]
        train += [members[j] for j in order[cut:]]
    return sorted(train), sorted(held)


def train_judge(dataset: Dataset, size: int, seed: int, on_epoch=None) -> Judge:
    """Train a judge on the dataset's real images alone (on the CPU: it is small)."""
    generator = torch.Generator().manual_seed(seed * 7_919 + 17)
    side = judge_side(size)
    images = F.interpolate(to_unit(dataset.images), size=side, mode="area")
    classes = _label_classes(dataset)
    targets = {name: torch.tensor([values.index(v) if v is not None else -1 for v in dataset.captions.labels[name]])
               for name, values in classes.items()}
    if SPECIES in classes:
        classes[SPECIES] = classes[SPECIES] + [NONE]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = JudgeNet(classes)
    train_idx, held_idx = _split(len(images), dataset.captions.labels.get(SPECIES) if SPECIES in classes else None, generator)
    if not classes:
        train_idx, held_idx = list(range(len(images))), []
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    steps_per_epoch = max(1, len(train_idx) // BATCH)
    epochs = max(EPOCHS, -(-MIN_STEPS // steps_per_epoch))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=epochs * steps_per_epoch)
    order_source = torch.tensor(train_idx)
    net.train()
    for epoch in range(epochs):
        order = order_source[torch.randperm(len(order_source), generator=generator)]
        for b in range(steps_per_epoch):
            pick = order[b * BATCH : (b + 1) * BATCH]
            x = images[pick]
            if classes:
                wanted = {name: t[pick] for name, t in targets.items()}
                if SPECIES in classes:
                    spoiled = _spoiled(x[: max(1, len(x) // 6)], generator)
                    x = torch.cat([x, spoiled])
                    for name in wanted:
                        fill = len(classes[name]) - 1 if name == SPECIES else -1
                        wanted[name] = torch.cat([wanted[name], torch.full((len(spoiled),), fill)])
                feats = net.trunk(_augment(x, generator, strong=False))
                loss = sum(F.cross_entropy(head(feats), wanted[name], ignore_index=-1)
                           for name, head in net.heads.items() if bool((wanted[name] >= 0).any()))
            else:
                views = torch.cat([_augment(x, generator, strong=True), _augment(x, generator, strong=True)])
                loss = _contrastive(net.projection(net.trunk(views)))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
        if on_epoch is not None:
            on_epoch(epoch + 1, epochs)
    net.eval().requires_grad_(False)
    judge = Judge(net, side, classes, trained_on=len(train_idx), held_out=len(held_idx))
    if held_idx:
        probabilities = judge.predict(images[held_idx])
        for name, probs in probabilities.items():
            truth = targets[name][held_idx]
            known = truth >= 0
            judge.accuracy[name] = float((probs.argmax(1)[known] == truth[known]).float().mean()) if bool(known.any()) else float("nan")
        if judge.has_species:
            best = probabilities[SPECIES].max(1)
            named = (best.values >= 0.8) & (best.indices < len(classes[SPECIES]) - 1)
            judge.confident_real = float(named.float().mean())
    return judge


def _contrastive(z: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent: each view's partner is the other view of the same image."""
    z = F.normalize(z, dim=1)
    n = len(z) // 2
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(similarity, partner)


def judge_for(dataset: Dataset, size: int, seed: int, cache_dir: Path, on_epoch=None) -> Judge:
    """The dataset's judge, from the cache when this dataset (images, captions and labels) has
    been judged before with this seed; trained and cached (atomically) otherwise."""
    from ..provenance import write_atomic

    path = cache_dir / f"judge-{dataset.report.sha256[:16]}-{judge_side(size)}-{seed}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            if saved["format"] == FORMAT:
                net = JudgeNet(saved["classes"])
                net.load_state_dict(saved["weights"])
                net.eval().requires_grad_(False)
                return Judge(net, saved["side"], saved["classes"], saved["accuracy"], saved["confident_real"],
                             saved["trained_on"], saved["held_out"])
        except Exception:  # noqa: BLE001 -- a damaged cache is only a cache: train again
            path.unlink(missing_ok=True)
    with torch.random.fork_rng(devices=[]):
        judge = train_judge(dataset, size, seed, on_epoch)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "weights": judge.net.state_dict(), "side": judge.side, "classes": judge.classes,
                "accuracy": judge.accuracy, "confident_real": judge.confident_real, "trained_on": judge.trained_on,
                "held_out": judge.held_out}, buffer)
    write_atomic(path, buffer.getvalue())
    return judge


def as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float64).numpy()
