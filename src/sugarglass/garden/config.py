"""The ``[garden]`` table of a work file: the dataset and its consent, the model, training,
growing, and the chain of image-to-image passes.

A garden work is a normal work file with a ``[garden]`` table; ``load_garden`` reads only the
keys the garden uses, so it needs no ``[[sources]]``. This module imports no torch, so the main
command line stays fast; every problem is reported with its key and the file, all at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ..consent import Consent
from ..errors import WorkFileError
from ..work import WorkFile, read_work_file, validate_work

from ..work import SLUG
IMAGE_BASES = ("authored", "explicit", "licence")
PROCEDURAL_TEXTURES = ("plastic", "metal", "concrete")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetConfig(_Strict):
    """The artist's folder of images and the consent it was gathered under.

    ``generate = "plants"`` fills an empty or missing folder with the project's own procedural
    plant drawings on first use (the demo); otherwise the folder is only ever read.
    """

    id: str = Field(pattern=SLUG, description="the dataset's name in manifests and the store")
    folder: Path
    consent: Consent
    generate: Literal["plants"] | None = None
    generate_count: int = Field(default=320, ge=8, le=20000)
    min_side: int = Field(default=32, ge=8, description="smaller images are skipped as tiny")
    description: str = ""

    @field_validator("consent")
    @classmethod
    def _basis_for_images(cls, value: Consent) -> Consent:
        if value.basis not in IMAGE_BASES:
            raise ValueError(f"basis {value.basis!r} does not cover training on images; "
                             f"use one of {', '.join(IMAGE_BASES)}")
        return value

    def check_consent(self) -> None:
        """Refuse the folder before any image is read unless its consent is in force now."""
        self.consent.check_in_force(self.id)


class TrainConfig(_Strict):
    """How the model learns: the logistic GAN loss with each real image rebuilt through the
    encoder and each grown plant's latent read back by it (BicycleGAN's two halves), mode
    seeking between two latents under one caption, Adam, EMA weights for sampling, and a budget.

    The budget is ``steps`` (total, counting any resumed steps) and/or ``minutes`` (wall clock of
    this invocation); training stops at whichever comes first. On a GPU the batch is
    ``gpu_batch``; forward passes run in bfloat16 where the hardware does it natively
    (``precision``); the checkpoint is the same either way.
    """

    batch: int = Field(default=16, ge=2, le=1024)
    gpu_batch: int = Field(default=64, ge=2, le=4096, description="the batch when torch sees a GPU")
    lr_g: float = Field(default=0.0002, gt=0, le=0.1)
    lr_d: float = Field(default=0.0002, gt=0, le=0.1)
    beta1: float = Field(default=0.5, ge=0, lt=1)
    beta2: float = Field(default=0.999, ge=0, lt=1)
    ema: float = Field(default=0.999, ge=0, lt=1, description="EMA decay of the generator's weights (ramped up from 0)")
    reconstruction: float = Field(default=1.0, ge=0, le=100, description="weight of rebuilding each real image from its latent")
    kl: float = Field(default=0.005, ge=0, le=10, description="weight of the encoded latents' divergence from the normal")
    latent_recovery: float = Field(default=1.0, ge=0, le=100, description="weight of reading a grown plant's latent back")
    mode_seeking: float = Field(default=1.0, ge=0, le=100,
                                description="weight of making two latents under one caption grow two different plants")
    augment: list[Literal["translation", "cutout", "colour"]] = ["translation", "cutout"]
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", description="auto: bfloat16 forward passes on a GPU and on CPUs with native bfloat16")
    steps: int | None = Field(default=3000, ge=1)
    minutes: float | None = Field(default=None, gt=0)
    sample_every: int = Field(default=500, ge=1)
    checkpoint_every: int = Field(default=500, ge=1)
    eval_every: int = Field(default=500, ge=1, description="steps between quality measurements for the plot")
    eval_images: int = Field(default=256, ge=8, le=4096)

    @model_validator(mode="after")
    def _some_budget(self) -> TrainConfig:
        if self.steps is None and self.minutes is None:
            raise ValueError("give a budget: steps, minutes or both")
        return self


class TextConfig(_Strict):
    """Learning from the captions: how many are held out to test descriptions the model never
    read, how often a caption is hidden so the model also learns to grow plants unprompted, and
    how much the discriminator's word predictions and mismatched captions weigh."""

    holdout: float = Field(default=0.1, ge=0, le=0.5, description="share of captions kept out of training, for garden eval")
    drop: float = Field(default=0.1, ge=0, le=1, description="share of training captions hidden in each batch")
    words: float = Field(default=0.5, ge=0, le=100, description="weight of the caption words named from the image")
    mismatch: float = Field(default=0.5, ge=0, le=100, description="weight of real images shown with another's caption")


class GrowConfig(_Strict):
    """``garden grow``: how many plants, the grid, and the latent walk video."""

    count: int = Field(default=36, ge=1, le=4096)
    columns: int = Field(default=6, ge=1, le=64)
    keyframes: int = Field(default=6, ge=2, le=256, description="latent points the video walks through")
    frames_between: int = Field(default=24, ge=1, le=600)
    fps: int = Field(default=24, ge=1, le=120)
    video_scale: int = Field(default=4, ge=1, le=16, description="each frame is upscaled this much")
    truncation: float | None = Field(default=None, gt=0, le=10,
                                     description="resample latent values beyond this many deviations (BigGAN's trick)")


class ProjectPass(_Strict):
    """Project each image into the artist's own model (optimise a latent to match it) and
    blend the regenerated plant over it at ``strength`` (0 keeps the input, 1 the model's)."""

    kind: Literal["project"]
    strength: float = Field(default=0.7, ge=0, le=1)
    steps: int = Field(default=60, ge=1, le=5000)
    lr: float = Field(default=0.05, gt=0, le=10)
    starts: int = Field(default=4, ge=1, le=64, description="random latents tried, the best kept")


class RegrowPass(_Strict):
    """Through the artist's own model: find each picture's latent, noise it at ``strength``
    (0 keeps it, 1 a new plant) and grow it again, described by ``description`` when given."""

    kind: Literal["regrow"]
    strength: float = Field(default=0.5, ge=0, le=1)
    description: str | None = None
    steps: int = Field(default=60, ge=1, le=5000, description="steps of the latent search")
    lr: float = Field(default=0.05, gt=0, le=10)
    starts: int = Field(default=4, ge=1, le=64)

    @field_validator("description")
    @classmethod
    def _written(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("description must not be blank (leave it out to regrow unprompted)")
        return value


class ModelRecord(_Strict):
    """A model someone else trained, as the artist declares it: a source like any other, so it
    needs its record (what it is, where it came from, its licence, what it was trained on) and
    the consent under which the artist uses it. Every picture it touches says so."""

    name: str = Field(min_length=1)
    origin: str = Field(min_length=1, description="where it came from: a URL or a note")
    licence: str = Field(min_length=1)
    trained_on: str = Field(min_length=1, description="what its makers say it was trained on")
    consent: Consent


class DiffusersPass(_Strict):
    """A local diffusers pipeline the artist points to; never downloaded. ``text`` adds one
    image per prompt (``count`` each); ``image`` redraws every input at ``strength``. Loaded once
    for the whole chain, in half precision where it has an fp16 variant and a GPU runs it, from
    safetensors only, at ``size`` (default: the pipeline's own)."""

    kind: Literal["diffusers"]
    model: Path
    record: ModelRecord
    mode: Literal["text", "image"] = "image"
    prompts: list[str] = Field(default_factory=lambda: ["a lost plant, botanical drawing"], min_length=1)
    count: int = Field(default=1, ge=1, le=64)
    strength: float = Field(default=0.5, gt=0, le=1)
    steps: int = Field(default=20, ge=1, le=500)
    guidance: float = Field(default=5.0, ge=0, le=50)
    size: int | None = Field(default=None, ge=8, le=2048, description="default: the pipeline's native size")

    @field_validator("prompts")
    @classmethod
    def _written(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("a prompt must not be blank")
        return value


class CollagePass(_Strict):
    """Chaotic collage: ``outputs`` sheets, each of ``pieces`` inputs cut from their ground and
    pasted with a random affine (scale, rotation, shear, position), overlapping."""

    kind: Literal["collage"]
    outputs: int = Field(default=4, ge=1, le=1024)
    pieces: int = Field(default=7, ge=1, le=256)
    size: int = Field(default=256, ge=16, le=4096)
    scale: tuple[float, float] = (0.35, 0.9)
    rotation: float = Field(default=180.0, ge=0, le=180)
    shear: float = Field(default=0.3, ge=0, le=2)
    background: tuple[int, int, int] = (236, 232, 222)

    @field_validator("scale")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1] <= 4:
            raise ValueError("scale is [low, high] with 0 < low <= high <= 4")
        return value


class MaterialPass(_Strict):
    """Lay a non-organic material over each image: one of the procedural textures
    (``plastic``, ``metal``, ``concrete``) or an image the artist supplies, with its consent."""

    kind: Literal["material"]
    texture: str = "concrete"
    opacity: float = Field(default=0.6, ge=0, le=1)
    blend: Literal["multiply", "overlay", "screen", "normal"] = "overlay"
    consent: Consent | None = None

    @model_validator(mode="after")
    def _consent_for_files(self) -> MaterialPass:
        if self.texture not in PROCEDURAL_TEXTURES and self.consent is None:
            raise ValueError(f"texture {self.texture!r} is an image file, so it needs a consent record "
                             f"(or use one of {', '.join(PROCEDURAL_TEXTURES)})")
        return self


class PosterisePass(_Strict):
    kind: Literal["posterise"]
    levels: int = Field(default=4, ge=2, le=128)


class JpegPass(_Strict):
    """Re-encode as JPEG ``times`` times at ``quality``, each time nudged a pixel, so the
    blocks pile up."""

    kind: Literal["jpeg"]
    quality: int = Field(default=8, ge=1, le=95)
    times: int = Field(default=3, ge=1, le=100)


class NoisePass(_Strict):
    kind: Literal["noise"]
    amount: float = Field(default=0.1, ge=0, le=1)
    noise: Literal["gaussian", "salt"] = "gaussian"


class PixelSortPass(_Strict):
    """Sort runs of pixels whose brightness lies in [low, high] by brightness."""

    kind: Literal["pixel-sort"]
    low: float = Field(default=0.25, ge=0, le=1)
    high: float = Field(default=0.8, ge=0, le=1)
    direction: Literal["rows", "columns"] = "rows"

    @model_validator(mode="after")
    def _ordered(self) -> PixelSortPass:
        if self.low > self.high:
            raise ValueError("low must not be above high")
        return self


PassConfig = Annotated[
    ProjectPass | RegrowPass | DiffusersPass | CollagePass | MaterialPass | PosterisePass | JpegPass | NoisePass | PixelSortPass,
    Field(discriminator="kind"),
]
PASS_KINDS = ("project", "regrow", "diffusers", "collage", "material", "posterise", "jpeg", "noise", "pixel-sort")


class GardenConfig(_Strict):
    """The ``[garden]`` table. ``size`` is the side of the square images the model makes."""

    dataset: DatasetConfig
    size: Literal[32, 64, 128, 256] = 64
    latent: int = Field(default=64, ge=4, le=1024)
    width: int = Field(default=16, ge=4, le=512, description="channels at full resolution; doubling inwards")
    train: TrainConfig = TrainConfig()
    text: TextConfig = TextConfig()
    grow: GrowConfig = GrowConfig()
    passes: list[PassConfig] = Field(default_factory=list)


class GardenWork(WorkFile):
    """The keys of a work file the garden reads. Paths are relative to the file's folder."""

    garden: GardenConfig

    @property
    def dataset_folder(self) -> Path:
        return self.resolve(self.garden.dataset.folder)


GARDEN_KEYS = set(GardenWork.model_fields)


def load_garden(path: Path | str) -> GardenWork:
    """Read a work file's garden and the top-level keys it needs; other tables of the work
    (sources, society...) are left to the main work model."""
    path = Path(path)
    raw = read_work_file(path)
    if "garden" not in raw:
        raise WorkFileError(path, ["garden: is missing (a garden work needs a [garden] table)"])
    return validate_work(GardenWork, {key: value for key, value in raw.items() if key in GARDEN_KEYS}, path)
