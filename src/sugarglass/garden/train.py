"""Training the garden's GAN from scratch, on a GPU when there is one, else on the CPU.

The logistic GAN loss with the discriminator's caption words and mismatched captions (see
``model``), each real image rebuilt through the encoder (the VAE half), each grown plant's latent
read back (BicycleGAN's other half), mode seeking between latents under one caption,
differentiable augmentation on both sides of the discriminator, Adam, and an EMA copy of the
generator that every sample is drawn from. Every random number comes from one of
three seeded generators (data order and captions, latents, augmentation) kept in the checkpoint
with the rest of the state, and torch runs its deterministic algorithms, so on the CPU the same
seed, data and settings give the same weights bit for bit, and a resumed run ends where an
unbroken one does. A budget in minutes stops wherever the clock says, so only a budget in steps
repeats exactly. On a GPU the batch is larger; there and on CPUs with native bfloat16 the
forward passes run in bfloat16; the checkpoints are the same files either way.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..provenance import label, sha256_file, write_atomic
from .augment import augment
from .captions import NULL, PAD, Vocabulary
from .checkpoint import CheckpointError, load_checkpoint, numpy_state, save_checkpoint, set_numpy_state
from .config import GardenWork
from .dataset import Dataset, DatasetReport, load_dataset, source_record
from .images import grid, to_uint8, to_unit
from .model import Discriminator, Encoder, Generator, build
from .quality import evaluator_for
from .records import admit, garden_manifest
from .sampling import garden_tokens, pad_tokens, sample

SAMPLE_GRID = 36  # plants in every sample grid, 6 x 6
STREAMS = {"data": 1, "latent": 2, "augment": 3, "samples": 4, "holdout": 7}
ARCHITECTURE = "vaegan-sle-text/1"  # conditional VAE-GAN, skip-layer excitation, own text encoder


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


def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX); elsewhere torch
    emulates it, slower than full precision."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def half_precision(on: torch.device, precision: str) -> bool:
    """Whether forward passes run in bfloat16: ``auto`` means on a GPU, and on a CPU that does
    bfloat16 natively (there a step is about a third faster; the weights stay float32)."""
    if precision == "auto":
        return on.type == "cuda" or cpu_has_bfloat16()
    return precision == "bfloat16"


def autocast(on: torch.device, enabled: bool):
    """Mixed precision: bfloat16 forward passes, float32 weights and optimiser."""
    return torch.autocast(device_type=on.type, dtype=torch.bfloat16, enabled=enabled)


def stream(seed: int, name: str) -> torch.Generator:
    """One of the seeded CPU generators; each use of randomness has its own."""
    return torch.Generator().manual_seed(seed * 1_000_003 + STREAMS[name])


def model_shape(work: GardenWork) -> dict:
    return {"architecture": ARCHITECTURE, "size": work.garden.size, "latent": work.garden.latent, "width": work.garden.width}


def checkpoint_path(out_dir: Path) -> Path:
    return out_dir / "checkpoints" / "latest.pt"


@dataclass
class Conditioning:
    """Every image's caption as tokens and as a bag of words, ready for batches; held-out and
    uncaptioned images carry the no-caption token."""

    vocabulary: Vocabulary
    tokens: torch.Tensor  # (N, L) long
    bags: torch.Tensor  # (N, words) float, 1 where the word is in the caption
    captioned: torch.Tensor  # (N,) bool: a caption trains this image
    held_out: list[int]  # images whose captions are kept for the evaluation


def conditioning(dataset: Dataset, work: GardenWork, held_out: list[int] | None = None) -> Conditioning:
    """Hold out a seeded share of the captions (or the ones a checkpoint names), learn the
    vocabulary from the rest, and encode every caption."""
    texts = dataset.captions.texts
    if held_out is None:
        captioned = [i for i, t in enumerate(texts) if t is not None]
        order = torch.randperm(len(captioned), generator=stream(work.seed, "holdout")).tolist()
        count = int(len(captioned) * work.garden.text.holdout)
        held_out = sorted(captioned[j] for j in order[:count])
    hidden = set(held_out)
    training = [t if i not in hidden else None for i, t in enumerate(texts)]
    vocabulary = Vocabulary.from_captions(training)
    tokens = pad_tokens([vocabulary.encode(t, strict=False) for t in training])
    bags = torch.zeros(len(texts), max(len(vocabulary), 1))
    for i, text in enumerate(training):
        bags[i, vocabulary.bag(text)] = 1.0
    flags = torch.tensor([t is not None for t in training], dtype=torch.bool)
    return Conditioning(vocabulary, tokens, bags, flags, list(held_out))


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
    batch: int = 0
    bfloat16: bool = False


OnStep = Callable[[int, int | None, dict, dict], None]  # step, total, losses, latest quality figures
OnEpoch = Callable[[int, int], None]  # the judge's training: epoch, epochs


@dataclass
class Nets:
    generator: Generator
    discriminator: Discriminator
    encoder: Encoder
    ema: Generator
    opt_g: torch.optim.Optimizer  # the generator's and the encoder's weights
    opt_d: torch.optim.Optimizer


def train(work: GardenWork, out_dir: Path, *, steps: int | None = None, minutes: float | None = None,
          fresh: bool = False, on_step: OnStep | None = None, on_judge: OnEpoch | None = None) -> TrainResult:
    """Train (or resume) the work's model in ``out_dir`` until ``steps`` in all or ``minutes``
    of this call (either given replaces the work's budget), saving sample grids, quality figures
    (every ``eval_every`` steps, through the dataset's judge, trained first if need be) and
    checkpoints as it goes."""
    settings = work.garden.train
    if steps is None and minutes is None:
        steps, minutes = settings.steps, settings.minutes
    on = device()
    deterministic(on)
    admit(work, register=True)
    dataset = load_dataset(work, out_dir / "cache")
    source = source_record(work, dataset.report)
    path = checkpoint_path(out_dir)
    shape = model_shape(work)
    state = None
    if path.is_file() and not fresh:
        state = load_checkpoint(path, shape)
        if state["dataset"]["sha256"] != source["sha256"]:
            raise CheckpointError(f"{path}: was trained on another version of dataset {source['id']!r} "
                                  f"(its images or captions changed since); train afresh with --fresh, or into another --out")
    cond = conditioning(dataset, work, None if state is None else state["text"]["held_out"])
    nets = _networks(work, cond.vocabulary, on)
    evaluator = evaluator_for(work, dataset, out_dir, cond.held_out, on_epoch=on_judge)
    streams = {name: stream(work.seed, name) for name in ("data", "latent", "augment")}
    step = 0
    if state is not None:
        _restore(nets, streams, state)
        step = int(state["step"])
    data = to_unit(dataset.images).to(on).contiguous(memory_format=torch.channels_last)
    batch = settings.gpu_batch if on.type == "cuda" else settings.batch
    half = half_precision(on, settings.precision)
    start_step = step
    history = _history(out_dir, step)
    fixed = torch.randn(SAMPLE_GRID, work.garden.latent, generator=stream(work.seed, "samples"))
    result = TrainResult(out_dir, step, start_step, path, dataset.report, batch=batch, bfloat16=half)
    hidden = set(cond.held_out)
    text_record: dict = {"vocabulary": list(cond.vocabulary.words), "held_out": cond.held_out,
                   "held_out_files": [dataset.report.files[i] for i in cond.held_out],
                   "captions": [t for i, t in enumerate(dataset.captions.texts) if t is not None and i not in hidden]}
    fixed_tokens = garden_tokens(cond.vocabulary, text_record["captions"], SAMPLE_GRID, work.seed)

    def checkpoint() -> str:
        save_checkpoint(path, {
            "model": shape, "step": step, "seed": work.seed, "dataset": source, "text": text_record,
            "train": settings.model_dump(mode="json"), "text_settings": work.garden.text.model_dump(mode="json"),
            "batch": batch, "device": on.type, "bfloat16": half, "seconds": earlier_seconds + training_seconds,
            "generator": nets.generator.state_dict(), "discriminator": nets.discriminator.state_dict(),
            "encoder": nets.encoder.state_dict(), "ema": nets.ema.state_dict(), "opt_g": nets.opt_g.state_dict(), "opt_d": nets.opt_d.state_dict(),
            "streams": {name: gen.get_state() for name, gen in streams.items()},
            "torch_rng": torch.get_rng_state(), "numpy_rng": numpy_state(),
        })
        return sha256_file(path)

    def record(losses: dict) -> dict:
        figures = evaluator.figures(nets.ema, cond.vocabulary, text_record["captions"], per_prompt=2)
        history.append({"step": step, "seconds": round(earlier_seconds + training_seconds, 1), **figures, **losses})
        write_atomic(out_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history).encode("utf-8"))
        return history[-1]

    def sample_grid(checkpoint_sha: str | None) -> None:
        from ..canvas.media import write_png

        folder = out_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        picture = write_png(folder / f"step-{step:06d}.png", grid(to_uint8(sample(nets.ema, fixed, fixed_tokens)), 6))
        label(picture, garden_manifest(work, source, seed=work.seed, step=step, section={
            "output": "training sample grid (EMA generator, fixed latents and captions)", "model": shape,
            "checkpoint": {"file": path.name, "sha256": checkpoint_sha} if checkpoint_sha else None,
            "train": settings.model_dump(mode="json"), "dataset_sha256": source["sha256"]}))
        result.samples.append(picture)

    latest: dict = history[-1] if history else {}
    earlier_seconds = float(state.get("seconds", 0.0)) if state is not None else 0.0
    training_seconds, losses = 0.0, {}
    if step == 0:
        latest = record({})
        sample_grid(None)
    begun = time.monotonic()
    saved_at = step if state is not None else -1
    while (steps is None or step < steps) and (minutes is None or time.monotonic() - begun < minutes * 60):
        tick = time.monotonic()
        losses = _step(nets, data, cond, streams, work, batch, step, half)
        step += 1
        training_seconds += time.monotonic() - tick
        last = (steps is not None and step >= steps) or (minutes is not None and time.monotonic() - begun >= minutes * 60)
        sha = None
        if step % settings.checkpoint_every == 0 or last:
            sha, saved_at = checkpoint(), step
        if step % settings.eval_every == 0 or last:
            latest = record(losses)
        if step % settings.sample_every == 0 or last:
            sample_grid(sha)
        if on_step is not None:
            on_step(step, steps, losses, latest)
    if saved_at != step:
        checkpoint()
    result.step = step
    result.images_per_second = batch * (step - start_step) / training_seconds if training_seconds else 0.0
    result.stopped_by = "steps" if steps is not None and step >= steps else "minutes"
    result.history = history
    return result


def _networks(work: GardenWork, vocabulary: Vocabulary, on: torch.device) -> Nets:
    """The networks on ``on``, in the channels-last layout (half again as fast on a CPU)."""
    settings = work.garden.train
    generator, discriminator, encoder = build(work.garden.size, work.garden.latent, work.garden.width,
                                              vocabulary.tokens, work.seed)
    for net in (generator, discriminator, encoder):
        net.to(on, memory_format=torch.channels_last)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    betas = (float(settings.beta1), float(settings.beta2))
    return Nets(generator, discriminator, encoder, ema,
                torch.optim.Adam([*generator.parameters(), *encoder.parameters()], lr=settings.lr_g, betas=betas),
                torch.optim.Adam(discriminator.parameters(), lr=settings.lr_d, betas=betas))


def _restore(nets: Nets, streams: dict[str, torch.Generator], state: dict) -> None:
    """Weights and optimiser moments onto the networks' device; the random generators' states
    stay on the CPU, where every random number is drawn (so a GPU resume works too)."""
    nets.generator.load_state_dict(state["generator"])
    nets.discriminator.load_state_dict(state["discriminator"])
    nets.encoder.load_state_dict(state["encoder"])
    nets.ema.load_state_dict(state["ema"])
    nets.opt_g.load_state_dict(state["opt_g"])
    nets.opt_d.load_state_dict(state["opt_d"])
    for name, gen in streams.items():
        gen.set_state(state["streams"][name])
    torch.set_rng_state(state["torch_rng"])
    set_numpy_state(state["numpy_rng"])


def _words_loss(logits: torch.Tensor, bags: torch.Tensor, captioned: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of naming each caption word, over the captioned images only."""
    if not bool(captioned.any()):
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[captioned].float(), bags[captioned])


def _structure(images: torch.Tensor) -> torch.Tensor:
    """The picture less its blurred self: strokes, leaves and petals without the smooth ground."""
    return images - F.interpolate(F.avg_pool2d(images, 8), scale_factor=8, mode="bilinear", align_corners=False)


def _mode_seeking(z: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """MSGAN (Mao et al. 2019) on the batch's two halves, which share their captions: the latents'
    distance over the plants' distance, so a caption cannot grow one plant for every latent.
    Measured on the strokes, not the ground, which a generator could vary instead."""
    half = len(z) // 2
    apart = (_structure(fake[:half]) - _structure(fake[half : 2 * half])).abs().mean(dim=(1, 2, 3))
    return ((z[:half] - z[half : 2 * half]).abs().mean(dim=1) / (apart + 1e-5)).mean() * 1e-2


def _step(nets: Nets, data: torch.Tensor, cond: Conditioning, streams: dict[str, torch.Generator], work: GardenWork,
          batch: int, step: int, half: bool) -> dict:
    """One discriminator step, one step of generator and encoder (the logistic loss, each real
    image rebuilt from its encoded latent, and each grown plant's latent read back), then the
    EMA update."""
    settings, text = work.garden.train, work.garden.text
    on, policy = data.device, settings.augment
    pick = torch.randint(len(data), (batch,), generator=streams["data"])
    hide = torch.rand(batch, generator=streams["data"]) < text.drop
    wrong = torch.randperm(batch, generator=streams["data"])
    unprompted = torch.full((cond.tokens.shape[1],), PAD, dtype=torch.long)
    unprompted[0] = NULL
    tokens = torch.where(hide.unsqueeze(1), unprompted, cond.tokens[pick])
    captioned = cond.captioned[pick] & ~hide
    mismatched = captioned & captioned[wrong] & (tokens[wrong] != tokens).any(dim=1)
    tokens, bags, captioned, mismatched = tokens.to(on), cond.bags[pick].to(on), captioned.to(on), mismatched.to(on)
    real = data[pick.to(on)]
    z = torch.randn(batch, work.garden.latent, generator=streams["latent"]).to(on)
    G, D = nets.generator, nets.discriminator
    with autocast(on, half):
        with torch.no_grad():
            fake = G(z, tokens)
        seen_real = D.features(augment(real, policy, streams["augment"]))
        seen_fake = D.features(augment(fake, policy, streams["augment"]))
        loss_d = F.softplus(-D.judge(seen_real, tokens)).mean() + F.softplus(D.judge(seen_fake, tokens)).mean()
        if text.words:
            loss_d = loss_d + text.words * _words_loss(D.words(seen_real), bags, captioned)
        if text.mismatch and bool(mismatched.any()):
            judged = D.judge(seen_real, tokens[wrong.to(on)])
            loss_d = loss_d + text.mismatch * F.softplus(judged[mismatched]).mean()
    nets.opt_d.zero_grad(set_to_none=True)
    loss_d.float().backward()
    nets.opt_d.step()
    z = torch.randn(batch, work.garden.latent, generator=streams["latent"]).to(on)
    noise = torch.randn(batch, work.garden.latent, generator=streams["latent"]).to(on)
    pairs = torch.arange(batch, device=on) % (batch // 2)  # the two halves grow from the same captions
    with autocast(on, half):
        fake = G(z, tokens[pairs])
        seen = D.features(augment(fake, policy, streams["augment"]))
        loss_g = F.softplus(-D.judge(seen, tokens[pairs])).mean()
        if text.words:
            loss_g = loss_g + text.words * _words_loss(D.words(seen), bags[pairs], captioned[pairs])
        if settings.mode_seeking:
            loss_g = loss_g + settings.mode_seeking * _mode_seeking(z, fake.float())
        # the VAE half: every real image, encoded and grown again from its own caption
        mean, log_variance = nets.encoder(real)
        rebuilt = G(mean + noise * (0.5 * log_variance).exp(), tokens).float()
        error = (rebuilt - real).abs().mean() + (F.avg_pool2d(rebuilt, 4) - F.avg_pool2d(real, 4)).abs().mean()
        kl = 0.5 * (mean.float().pow(2) + log_variance.float().exp() - 1 - log_variance.float()).sum(1).mean()
        loss_g = loss_g + settings.reconstruction * error + settings.kl * kl
        if settings.latent_recovery:
            # BicycleGAN's other half: the latent must be read back from the plant, so it shows
            recovered, _ = nets.encoder(fake)
            loss_g = loss_g + settings.latent_recovery * (recovered.float() - z).abs().mean()
    nets.opt_g.zero_grad(set_to_none=True)
    loss_g.float().backward()
    nets.opt_g.step()
    decay = min(settings.ema, (1 + step) / (10 + step))
    with torch.no_grad():
        for kept, live in zip(nets.ema.parameters(), G.parameters()):
            kept.lerp_(live, 1 - decay)
        for kept, live in zip(nets.ema.buffers(), G.buffers()):
            kept.copy_(live)  # batch-norm statistics: the live generator's, as BigGAN keeps them
    return {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()), "rebuilt": float(error.detach()),
            "kl": float(kl.detach())}


def _history(out_dir: Path, step: int) -> list[dict]:
    """The figures measured so far, up to ``step`` (a resumed run drops what came after it)."""
    path = out_dir / "metrics.jsonl"
    if not path.is_file() or step == 0:
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if row["step"] <= step]


@dataclass
class Trained:
    """The EMA generator of the latest checkpoint and its encoder (eval mode, on the device), the
    vocabulary it reads captions with, the checkpoint's whole state and its SHA-256."""

    generator: Generator
    encoder: Encoder
    vocabulary: Vocabulary
    state: dict
    sha256: str

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def captions(self) -> list[str]:
        """The captions the model trained on (the held-out ones are not among them)."""
        return self.state["text"]["captions"]


def load_generator(work: GardenWork, out_dir: Path) -> Trained:
    """The trained model, after checking the dataset's consent still holds."""
    admit(work)
    on = device()
    deterministic(on)
    path = checkpoint_path(out_dir)
    state = load_checkpoint(path, model_shape(work))
    vocabulary = Vocabulary(tuple(state["text"]["vocabulary"]))
    generator = Generator(work.garden.size, work.garden.latent, work.garden.width, vocabulary.tokens)
    generator.load_state_dict(state["ema"])
    encoder = Encoder(work.garden.size, work.garden.latent, work.garden.width)
    encoder.load_state_dict(state["encoder"])
    ready = [net.to(on, memory_format=torch.channels_last).eval().requires_grad_(False) for net in (generator, encoder)]
    return Trained(*ready, vocabulary, state, sha256_file(path))
