"""Image-to-image passes, chained as the work file lists them: each takes the last one's
pictures and gives the next its own.

A pass is a plain function ``(pictures, settings, rng, context) -> pictures`` over uint8 RGB
arrays. Its randomness comes from a numpy generator seeded by the run's seed and the pass's
place in the chain, so the same chain on the same pictures gives the same bytes. Collages and
material overlays put the plants together with other pictures, so their outputs (and anything
made from them later in the chain) are marked as composites.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .config import (
    CollagePass,
    DiffusersPass,
    GardenWork,
    JpegPass,
    MaterialPass,
    NoisePass,
    PassConfig,
    PixelSortPass,
    PosterisePass,
    ProjectPass,
    RegrowPass,
)
from .materials import PROCEDURAL, blend, texture_from_file

COMPOSITING = {"collage", "material"}


@dataclass
class Context:
    """What passes share: the work, the trained model's folder, and what is loaded once for the
    whole chain (the artist's model, any diffusers pipeline)."""

    work: GardenWork
    out_dir: Path
    loaded: dict = field(default_factory=dict)

    def trained(self):
        if "trained" not in self.loaded:
            from .train import load_generator

            self.loaded["trained"] = load_generator(self.work, self.out_dir)
        return self.loaded["trained"]


def find_latents(pictures: list[np.ndarray], settings: ProjectPass | RegrowPass, rng: np.random.Generator,
                 context: Context, tokens=None):
    """For each picture the latent whose plant (grown from ``tokens``, or unprompted) looks most
    like it: the best of the encoder's guess and ``starts`` random latents, refined by Adam on
    the pixel error at full and quarter size."""
    import torch
    import torch.nn.functional as F

    from .sampling import null_tokens, uint8_images

    trained = context.trained()
    generator = trained.generator
    on = next(generator.parameters()).device
    side, latent = context.work.garden.size, context.work.garden.latent
    small = np.stack([np.asarray(Image.fromarray(p).resize((side, side), Image.Resampling.LANCZOS)) for p in pictures])
    target = uint8_images(small).to(on)
    words = (null_tokens(1) if tokens is None else tokens).expand(len(pictures), -1).to(on)
    seeds = torch.Generator().manual_seed(int(rng.integers(2**63)))
    with torch.no_grad():
        guess, _ = trained.encoder(target.contiguous(memory_format=torch.channels_last))
    candidates = torch.cat([guess.float().unsqueeze(0),
                            torch.randn(settings.starts, len(pictures), latent, generator=seeds).to(on)])

    def error(z: torch.Tensor) -> torch.Tensor:
        made = generator(z, words)
        coarse = F.avg_pool2d(made, 4) - F.avg_pool2d(target, 4)
        return (made - target).pow(2).mean(dim=(1, 2, 3)) + coarse.pow(2).mean(dim=(1, 2, 3))

    with torch.no_grad():
        scores = torch.stack([error(c) for c in candidates])  # starts, pictures
    z = candidates[scores.argmin(dim=0), torch.arange(len(pictures))].clone().requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=settings.lr)
    for _ in range(settings.steps):
        optimiser.zero_grad(set_to_none=True)
        error(z).sum().backward()
        optimiser.step()
    return z.detach()


def _resized_like(pictures: list[np.ndarray], plants: np.ndarray) -> list[np.ndarray]:
    out = []
    for picture, plant in zip(pictures, plants):
        h, w = picture.shape[:2]
        out.append(np.asarray(Image.fromarray(plant).resize((w, h), Image.Resampling.LANCZOS)))
    return out


def project(pictures: list[np.ndarray], settings: ProjectPass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    """Find each picture's latent in the artist's own model and blend the regenerated plant
    over the picture at ``strength``."""
    from .images import to_uint8
    from .sampling import sample

    z = find_latents(pictures, settings, rng, context)
    grown = _resized_like(pictures, to_uint8(sample(context.trained().generator, z)))
    return [np.rint(p * (1 - settings.strength) + g.astype(np.float32) * settings.strength).astype(np.uint8)
            for p, g in zip(pictures, grown)]


def regrow(pictures: list[np.ndarray], settings: RegrowPass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    """The essay's iterations inside the artist's own model: find each picture's latent, move
    it ``strength`` of the way to fresh noise (keeping its length, so it stays a plausible
    plant), and grow it again, from the pass's description when it has one."""
    import torch

    from .images import to_uint8
    from .sampling import description_tokens, sample

    trained = context.trained()
    tokens = None if settings.description is None else description_tokens(trained.vocabulary, [settings.description])
    z = find_latents(pictures, settings, rng, context, tokens)
    noise = torch.from_numpy(rng.standard_normal(z.shape).astype(np.float32)).to(z.device)
    s = settings.strength
    moved = z * np.sqrt(1 - s * s) + noise * s
    return _resized_like(pictures, to_uint8(sample(trained.generator, moved, tokens)))


def diffuse(pictures: list[np.ndarray], settings: DiffusersPass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    from .diffusion import run_pipeline

    return run_pipeline(pictures, settings, int(rng.integers(2**63)), context.work.resolve(settings.model), context.loaded)


def ground(picture: np.ndarray) -> np.ndarray:
    """The picture's ground as a smooth surface: a bilinear colour field (a + bx + cy + dxy a
    channel) fitted to the border, refitted without the border pixels it fits worst (where a
    plant touches the edge). A flat ground is the special case; a gradient ground (a lit wall,
    paper shaded by a window) is found as well, which the border's median colour was not."""
    h, w = picture.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    rim = np.zeros((h, w), dtype=bool)
    rim[[0, -1], :] = rim[:, [0, -1]] = True
    u, v = xs / max(w - 1, 1), ys / max(h - 1, 1)
    basis = np.stack([np.ones_like(u), u, v, u * v], axis=-1).reshape(-1, 4)
    colours = picture.reshape(-1, 3).astype(np.float64)
    keep = rim.reshape(-1)
    for _ in range(2):
        coefficients, *_ = np.linalg.lstsq(basis[keep], colours[keep], rcond=None)
        residual = np.abs(basis @ coefficients - colours).max(axis=1)
        keep = rim.reshape(-1) & (residual <= max(np.percentile(residual[rim.reshape(-1)], 80), 6.0))
    return (basis @ coefficients).reshape(h, w, 3)


def _cutout(picture: np.ndarray) -> Image.Image:
    """The picture as RGBA, its ground made transparent."""
    distance = np.abs(picture.astype(np.float64) - ground(picture)).max(axis=2)
    alpha = np.clip((distance - 12) * 8, 0, 255).astype(np.uint8)
    return Image.fromarray(np.dstack([picture, alpha]), "RGBA")


def collage(pictures: list[np.ndarray], settings: CollagePass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    """Sheets of plants cut from their ground, each pasted with a random affine, overlapping."""
    size = settings.size
    sheets = []
    for _ in range(settings.outputs):
        sheet = Image.new("RGBA", (size, size), (*settings.background, 255))
        for index in rng.integers(0, len(pictures), settings.pieces):
            piece = _cutout(pictures[index])
            scale = rng.uniform(*settings.scale) * size / max(piece.size)
            angle = np.radians(rng.uniform(-settings.rotation, settings.rotation))
            shear = rng.uniform(-settings.shear, settings.shear)
            # forward map: piece centre -> a random point; PIL wants the inverse
            forward = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array([[1, shear], [0, 1]]) * scale
            inverse = np.linalg.inv(forward)
            centre = np.array(piece.size) / 2
            at = rng.uniform(0.1, 0.9, 2) * size
            offset = centre - inverse @ at
            layer = piece.transform((size, size), Image.Transform.AFFINE,
                                    (*inverse[0], offset[0], *inverse[1], offset[1]), resample=Image.Resampling.BICUBIC)
            sheet.alpha_composite(layer)
        sheets.append(np.asarray(sheet.convert("RGB")))
    return sheets


def material(pictures: list[np.ndarray], settings: MaterialPass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    out = []
    for picture in pictures:
        h, w = picture.shape[:2]
        if settings.texture in PROCEDURAL:
            layer = PROCEDURAL[settings.texture](h, w, rng)
        else:
            layer = texture_from_file(context.work.resolve(Path(settings.texture)), h, w)
        mixed = blend(picture.astype(np.float32) / 255, layer, settings.blend, settings.opacity)
        out.append(np.rint(np.clip(mixed, 0, 1) * 255).astype(np.uint8))
    return out


def posterise(pictures: list[np.ndarray], settings: PosterisePass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    steps = settings.levels - 1
    return [(np.rint(p.astype(np.float32) / 255 * steps) / steps * 255).round().astype(np.uint8) for p in pictures]


def jpeg(pictures: list[np.ndarray], settings: JpegPass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    out = []
    for picture in pictures:
        for i in range(settings.times):
            shift = 1 if i % 2 == 0 else -1  # off the 8 x 8 grid, so each pass makes new blocks
            buffer = io.BytesIO()
            Image.fromarray(np.roll(picture, shift, axis=(0, 1))).save(buffer, format="JPEG", quality=settings.quality)
            picture = np.roll(np.asarray(Image.open(buffer).convert("RGB")), -shift, axis=(0, 1))
        out.append(picture)
    return out


def noise(pictures: list[np.ndarray], settings: NoisePass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    out = []
    for picture in pictures:
        if settings.noise == "gaussian":
            noisy = picture + rng.normal(0, settings.amount * 255, picture.shape)
        else:
            noisy = picture.astype(np.float64)
            hit = rng.random(picture.shape[:2]) < settings.amount
            noisy[hit] = (rng.random(int(hit.sum())) < 0.5)[:, None] * 255.0
        out.append(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
    return out


def pixel_sort(pictures: list[np.ndarray], settings: PixelSortPass, rng: np.random.Generator, context: Context) -> list[np.ndarray]:
    """Within each row (or column), every run of pixels whose brightness lies in [low, high]
    is sorted by brightness; the rest stay where they are."""
    out = []
    for picture in pictures:
        image = picture.transpose(1, 0, 2).copy() if settings.direction == "columns" else picture.copy()
        brightness = image.astype(np.float32).mean(axis=2) / 255
        inside = (brightness >= settings.low) & (brightness <= settings.high)
        for r in range(image.shape[0]):
            edges = np.flatnonzero(np.diff(np.r_[0, inside[r].astype(np.int8), 0]))
            for start, stop in zip(edges[::2], edges[1::2]):
                order = np.argsort(brightness[r, start:stop], kind="stable")
                image[r, start:stop] = image[r, start:stop][order]
        out.append(image.transpose(1, 0, 2).copy() if settings.direction == "columns" else image)
    return out


PASSES: dict[str, Callable] = {
    "project": project, "regrow": regrow, "diffusers": diffuse, "collage": collage, "material": material,
    "posterise": posterise, "jpeg": jpeg, "noise": noise, "pixel-sort": pixel_sort,
}


def describe(settings: PassConfig, work: GardenWork) -> dict:
    """A pass as a manifest records it: every parameter, and for files it reads, their hashes."""
    record = settings.model_dump(mode="json")
    if isinstance(settings, DiffusersPass):
        from .diffusion import folder_digest

        record["model_files"] = folder_digest(work.resolve(settings.model))
    if isinstance(settings, MaterialPass) and settings.texture not in PROCEDURAL:
        from ..provenance import sha256_file

        record["texture_sha256"] = sha256_file(work.resolve(Path(settings.texture)))
    return record


def run_chain(pictures: list[np.ndarray], chain: list[PassConfig], seed: int, context: Context,
              on_stage: Callable[[int, PassConfig, list[np.ndarray]], None] | None = None) -> list[np.ndarray]:
    """Each pass in turn on the last one's pictures; ``on_stage`` sees every stage's result."""
    for index, settings in enumerate(chain):
        rng = np.random.default_rng([seed, index])
        pictures = PASSES[settings.kind](pictures, settings, rng, context)
        if on_stage is not None:
            on_stage(index, settings, pictures)
    return pictures


@dataclass
class PassRun:
    folder: Path
    stages: list[Path]  # one folder per pass, each with its pictures and manifest.json
    final: list[Path]


def read_inputs(paths: list[Path]) -> tuple[list[np.ndarray], list[dict]]:
    """Pictures the garden made, checked to carry an unaltered garden manifest, so every pass
    output can say where its input came from; and the models their manifests say touched them."""
    from ..errors import ReadError
    from ..provenance import DamagedFile, read_label

    pictures, models = [], []
    for path in paths:
        try:
            found = read_label(path)
        except DamagedFile as exc:
            raise ReadError(path, str(exc)) from None
        record = found.record
        if record is None or "garden" not in record["manifest"]:
            raise ReadError(path, "carries no garden manifest; passes take pictures the garden made "
                                  "(sugarglass garden grow), so their provenance is known")
        if record["content"]["sha256"] != found.content_sha256:
            raise ReadError(path, "was changed after its manifest was made")
        models += [m for m in record["manifest"]["garden"].get("models", []) if m not in models]
        with Image.open(path) as image:
            pictures.append(np.asarray(image.convert("RGB")))
    return pictures, models


def diffusers_model(settings: DiffusersPass, record: dict) -> dict:
    """A third-party pipeline as a manifest names it: the artist's record of it and its files."""
    declared = settings.record
    return {"kind": "diffusers", "name": declared.name, "origin": declared.origin, "licence": declared.licence,
            "trained_on": declared.trained_on, "trained_only_on_the_artists_data": False,
            "consent": declared.consent.model_dump(mode="json"), "files": record.get("model_files", {})}


def run_passes(work: GardenWork, out_dir: Path, *, inputs: list[Path] | None = None, seed: int | None = None,
               count: int | None = None) -> PassRun:
    """The work's pass chain on ``inputs`` (garden pictures) or, without any, on ``count``
    plants grown with ``seed``; every stage written to ``out_dir/passes-<seed>/<n>-<kind>/``,
    its manifest naming every model that touched its pictures and what each was trained on."""
    from ..canvas.media import write_png
    from ..provenance import sha256_file
    from .images import to_uint8
    from .records import garden_manifest, garden_model, label_all
    from .sampling import garden_tokens, latents, sample

    chain = work.garden.passes
    if not chain:
        from ..errors import WorkFileError

        raise WorkFileError(work.path, ["garden.passes: is empty; list the passes to run as [[garden.passes]] tables"])
    seed = work.seed if seed is None else seed
    context = Context(work, out_dir)
    trained = context.trained()
    for settings in chain:  # an unknown word in any pass's description stops the chain before it writes
        if isinstance(settings, RegrowPass) and settings.description is not None:
            trained.vocabulary.encode(settings.description)
    state = trained.state
    earlier: list[dict] = []
    if inputs:
        pictures, earlier = read_inputs(inputs)
        origin = {"inputs": [{"file": p.name, "sha256": sha256_file(p)} for p in inputs]}
    else:
        count = count or work.garden.grow.count
        tokens = garden_tokens(trained.vocabulary, trained.captions, count, seed)
        pictures = list(to_uint8(sample(trained.generator, latents(count, work.garden.latent, seed, work.garden.grow.truncation),
                                        tokens)))
        origin = {"grown": {"count": count, "seed": seed}}
    folder = out_dir / f"passes-{seed}"
    records = [describe(settings, work) for settings in chain]
    stages: list[Path] = []
    final: list[Path] = []

    def keep(index: int, settings: PassConfig, made: list[np.ndarray]) -> None:
        stage = folder / f"{index + 1}-{settings.kind}"
        stage.mkdir(parents=True, exist_ok=True)
        files = [write_png(stage / f"image-{i:03d}.png", picture) for i, picture in enumerate(made)]
        composite = any(s.kind in COMPOSITING for s in chain[: index + 1])
        models = [m for m in earlier if m["kind"] != "garden"]
        models.insert(0, garden_model(work, trained))
        models += [diffusers_model(p, r) for p, r in zip(chain[: index + 1], records) if isinstance(p, DiffusersPass)]
        third_party = [{"id": m["name"], "kind": "model", "origin": m["origin"], "licence": m["licence"],
                        "trained_on": m["trained_on"], "consent": m["consent"]} for m in models if m["kind"] != "garden"]
        manifest = garden_manifest(work, state["dataset"], seed=seed, step=trained.step, composite=composite,
                                   models=third_party, section={
            "output": f"image-to-image passes, stage {index + 1} of {len(chain)}",
            "model": state["model"], "checkpoint": {"file": "latest.pt", "sha256": trained.sha256, "step": trained.step},
            **origin, "passes": records[: index + 1], "models": models,
            "trained_only_on_the_artists_data": all(m["trained_only_on_the_artists_data"] for m in models),
        })
        label_all(stage, files, manifest, work)
        stages.append(stage)
        final[:] = files

    run_chain(pictures, chain, seed, context, keep)
    return PassRun(folder, stages, final)
