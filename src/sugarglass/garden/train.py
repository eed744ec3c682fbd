"""Training the garden's GAN from scratch, on a GPU when there is one, else on the CPU.

Hinge loss, Adam, differentiable augmentation on both sides of the discriminator, and an EMA
copy of the generator that every sample is drawn from. Every random number comes from one of
three seeded generators (data order, latents, augmentation) kept in the checkpoint with the rest
of the state, and torch runs its deterministic algorithms, so on the CPU the same seed, data and
settings give the same weights bit for bit, and a resumed run ends where an unbroken one does.
A budget in minutes stops wherever the clock says, so only a budget in steps repeats exactly.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..provenance import label, sha256_file, write_atomic
from .augment import augment
from .checkpoint import load_checkpoint, numpy_state, save_checkpoint, set_numpy_state
from .config import GardenWork
from .dataset import DatasetReport, load_dataset, source_record
from .images import grid, to_uint8
from .model import Discriminator, Generator, build
from .records import admit, garden_manifest
from .swd import swd

SAMPLE_GRID = 36  # plants in every sample grid, 6 x 6
STREAMS = {"data": 1, "latent": 2, "augment": 3, "samples": 4, "eval": 5, "halves": 6}


def device() -> torch.device:
    """The first GPU when torch sees one; the CPU otherwise."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def deterministic(on: torch.device) -> None:
    """Ask torch for its deterministic algorithms. On a GPU cuBLAS needs a fixed workspace and
    a few kernels have no deterministic form, so there it warns instead of failing. On the CPU,
    tiny (denormal) floats are flushed to zero: as a GAN settles they appear in the weights'
    gradients and made training four times slower here; flushing is as repeatable as not."""
    if on.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=on.type == "cuda")
    torch.set_flush_denormal(True)


def stream(seed: int, name: str) -> torch.Generator:
    """One of the seeded CPU generators; each use of randomness has its own."""
    return torch.Generator().manual_seed(seed * 1_000_003 + STREAMS[name])


def model_shape(work: GardenWork) -> dict:
    return {"size": work.garden.size, "latent": work.garden.latent, "width": work.garden.width}


def checkpoint_path(out_dir: Path) -> Path:
    return out_dir / "checkpoints" / "latest.pt"


@torch.no_grad()
def sample(generator: Generator, latents: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Images from ``latents``, in batches, on the generator's device; returned on the CPU."""
    on = next(generator.parameters()).device
    return torch.cat([generator(latents[i : i + batch].to(on)).cpu() for i in range(0, len(latents), batch)])


def halves(images: torch.Tensor, seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint, seeded random halves of the dataset, ``count`` images each."""
    order = torch.randperm(len(images), generator=stream(seed, "halves"))
    return images[order[:count]], images[order[count : 2 * count]]


def eval_count(work: GardenWork, images: int) -> int:
    return max(1, min(work.garden.train.eval_images, images // 2))


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    start_step: int
    checkpoint: Path
    report: DatasetReport
    samples: list[Path] = field(default_factory=list)
    images_per_second: float = 0.0
    stopped_by: str = "steps"
    history: list[dict] = field(default_factory=list)


OnStep = Callable[[int, int | None, dict], None]


def train(work: GardenWork, out_dir: Path, *, steps: int | None = None, minutes: float | None = None,
          fresh: bool = False, on_step: OnStep | None = None) -> TrainResult:
    """Train (or resume) the work's model in ``out_dir`` until ``steps`` in all or ``minutes``
    of this call (either given replaces the work's budget), saving samples, SWD and
    checkpoints as it goes."""
    settings = work.garden.train
    if steps is None and minutes is None:
        steps, minutes = settings.steps, settings.minutes
    on = device()
    deterministic(on)
    admit(work, register=True)
    images, report = load_dataset(work, out_dir / "cache")
    data = (images.to(torch.float32) / 127.5 - 1).to(on)
    shape = model_shape(work)
    generator, discriminator = build(work.garden.size, work.garden.latent, work.garden.width, work.seed)
    generator.to(on)
    discriminator.to(on)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    betas = (float(settings.beta1), float(settings.beta2))
    opt_g = torch.optim.Adam(generator.parameters(), lr=settings.lr_g, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=settings.lr_d, betas=betas)
    streams = {name: stream(work.seed, name) for name in ("data", "latent", "augment")}
    source = source_record(work, report)
    path = checkpoint_path(out_dir)
    step = 0
    if path.is_file() and not fresh:
        state = load_checkpoint(path, shape, device=str(on))
        if state["dataset"]["sha256"] != source["sha256"]:
            from .checkpoint import CheckpointError

            raise CheckpointError(f"{path}: was trained on another version of dataset {source['id']!r} "
                                  f"(its images changed since); train afresh with --fresh, or into another --out")
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        for name, gen in streams.items():
            gen.set_state(state["streams"][name])
        torch.set_rng_state(state["torch_rng"])
        set_numpy_state(state["numpy_rng"])
        step = int(state["step"])
    start_step = step
    history = _history(out_dir, step)
    fixed = torch.randn(SAMPLE_GRID, work.garden.latent, generator=stream(work.seed, "samples"))
    n_eval = eval_count(work, len(images))
    reference, _ = halves(images, work.seed, n_eval)
    eval_latents = torch.randn(n_eval, work.garden.latent, generator=stream(work.seed, "eval"))
    result = TrainResult(out_dir, step, start_step, path, report)

    def checkpoint() -> str:
        save_checkpoint(path, {
            "model": shape, "step": step, "seed": work.seed, "dataset": source,
            "train": settings.model_dump(mode="json"),
            "generator": generator.state_dict(), "discriminator": discriminator.state_dict(), "ema": ema.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "streams": {name: gen.get_state() for name, gen in streams.items()},
            "torch_rng": torch.get_rng_state(), "numpy_rng": numpy_state(),
        })
        return sha256_file(path)

    def measure(losses: dict) -> None:
        made = sample(ema, eval_latents)
        score = swd(reference, made, seed=work.seed)
        history.append({"step": step, "swd": score.mean, "swd_levels": list(score.levels), **losses})
        write_atomic(out_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history).encode("utf-8"))

    def sample_grid(checkpoint_sha: str | None) -> None:
        folder = out_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        from ..canvas.media import write_png

        picture = write_png(folder / f"step-{step:06d}.png", grid(to_uint8(sample(ema, fixed)), 6))
        label(picture, garden_manifest(work, source, seed=work.seed, step=step, section={
            "output": "training sample grid (EMA generator, fixed latents)", "model": shape,
            "checkpoint": {"file": path.name, "sha256": checkpoint_sha} if checkpoint_sha else None,
            "train": settings.model_dump(mode="json"), "dataset_sha256": source["sha256"]}))
        result.samples.append(picture)

    if step == 0:
        measure({})
        sample_grid(None)
    begun = time.monotonic()
    training_seconds, losses = 0.0, {}
    saved_at = step if path.is_file() and not fresh else -1
    while (steps is None or step < steps) and (minutes is None or time.monotonic() - begun < minutes * 60):
        tick = time.monotonic()
        losses = _step(generator, discriminator, ema, opt_g, opt_d, data, streams, work)
        step += 1
        training_seconds += time.monotonic() - tick
        last = (steps is not None and step >= steps) or (minutes is not None and time.monotonic() - begun >= minutes * 60)
        sha = None
        if step % settings.checkpoint_every == 0 or last:
            sha, saved_at = checkpoint(), step
        if step % settings.eval_every == 0 or last:
            measure(losses)
        if step % settings.sample_every == 0 or last:
            sample_grid(sha)
        if on_step is not None:
            on_step(step, steps, losses)
    if saved_at != step:
        checkpoint()
    result.step = step
    result.images_per_second = settings.batch * (step - start_step) / training_seconds if training_seconds else 0.0
    result.stopped_by = "steps" if steps is not None and step >= steps else "minutes"
    result.history = history
    return result


def _step(generator: Generator, discriminator: Discriminator, ema: Generator, opt_g: torch.optim.Optimizer,
          opt_d: torch.optim.Optimizer, data: torch.Tensor, streams: dict[str, torch.Generator], work: GardenWork) -> dict:
    """One discriminator step and one generator step (hinge loss), then the EMA update."""
    settings = work.garden.train
    on, batch, policy = data.device, settings.batch, settings.augment
    real = data[torch.randint(len(data), (batch,), generator=streams["data"]).to(on)]
    z = torch.randn(batch, work.garden.latent, generator=streams["latent"]).to(on)
    with torch.no_grad():
        fake = generator(z)
    loss_d = (torch.relu(1 - discriminator(augment(real, policy, streams["augment"]))).mean()
              + torch.relu(1 + discriminator(augment(fake, policy, streams["augment"]))).mean())
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    z = torch.randn(batch, work.garden.latent, generator=streams["latent"]).to(on)
    loss_g = -discriminator(augment(generator(z), policy, streams["augment"])).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    with torch.no_grad():
        for kept, live in zip(ema.parameters(), generator.parameters()):
            kept.lerp_(live, 1 - settings.ema)
    return {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach())}


def _history(out_dir: Path, step: int) -> list[dict]:
    """The SWD measured so far, up to ``step`` (a resumed run drops what came after it)."""
    path = out_dir / "metrics.jsonl"
    if not path.is_file() or step == 0:
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if row["step"] <= step]


def load_generator(work: GardenWork, out_dir: Path) -> tuple[Generator, dict, str]:
    """The EMA generator of the latest checkpoint (eval mode, on the device), its state and the
    checkpoint's SHA-256, after checking the dataset's consent still holds."""
    admit(work)
    on = device()
    deterministic(on)
    path = checkpoint_path(out_dir)
    state = load_checkpoint(path, model_shape(work), device=str(on))
    generator = Generator(work.garden.size, work.garden.latent, work.garden.width)
    generator.load_state_dict(state["ema"])
    return generator.to(on).eval().requires_grad_(False), state, sha256_file(path)


def latents(count: int, size: int, seed: int) -> torch.Tensor:
    """``count`` standard normal latents from ``seed`` alone."""
    return torch.randn(count, size, generator=torch.Generator().manual_seed(seed))


def uint8_images(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1
