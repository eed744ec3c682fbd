"""A diffusers pipeline the artist keeps on disk: text-to-image from written plant
descriptions, or image-to-image at a strength. Only ever read from the folder the work names
(``local_files_only``), from safetensors only (a pickled ``.bin`` can run code when loaded);
nothing is downloaded, and an incomplete folder is refused with the list of what is missing
before diffusers is asked to load it. A pipeline is loaded once for a whole chain of passes,
in half precision from its fp16 variant when a GPU runs it, and draws at its own native size
unless the pass says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import SugarglassError
from .config import DiffusersPass

CONFIG_FILES = ("config.json", "scheduler_config.json", "tokenizer_config.json", "preprocessor_config.json")
WEIGHTS = ("*.safetensors",)
WEIGHTED = ("ModelMixin", "PreTrainedModel")


class PipelineFolderError(SugarglassError):
    """The folder named as a diffusers pipeline is missing, or lacks parts of one."""


def check_folder(folder: Path) -> dict:
    """The pipeline's ``model_index.json``, after checking every component it lists has its
    folder, its configuration and (for networks) its weights."""
    if not folder.is_dir():
        raise PipelineFolderError(f"diffusers model {folder}: no such folder (the garden never downloads a model)")
    index_path = folder / "model_index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineFolderError(f"diffusers model {folder}: model_index.json is missing, so this is not a saved pipeline") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineFolderError(f"diffusers model {index_path}: not valid JSON ({exc})") from None
    missing = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        part = folder / name
        if not part.is_dir():
            missing.append(f"{name}/ (the {spec[1]})")
            continue
        if not any((part / f).is_file() for f in CONFIG_FILES) and not (part / "vocab.json").is_file():
            missing.append(f"{name}/ has no configuration file")
        if _has_weights(spec[1]) and not any(any(part.glob(p)) for p in WEIGHTS):
            pickled = any(part.glob("*.bin"))
            missing.append(f"{name}/ has no safetensors weights" + (" (only a pickled .bin, which the garden never loads: "
                                                                     "convert it to .safetensors)" if pickled else ""))
    if missing:
        raise PipelineFolderError(f"diffusers model {folder} is incomplete: " + "; ".join(missing))
    return index


def _has_weights(class_name: str) -> bool:
    """Whether a component is a network (weights expected) rather than a scheduler or tokenizer."""
    return not any(word in class_name for word in ("Scheduler", "Tokenizer", "FeatureExtractor", "ImageProcessor"))


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of the pipeline, by its path in the folder, for the manifest."""
    from ..provenance import sha256_file

    check_folder(folder)
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def load_pipeline(folder: Path, loaded: dict):
    """The folder's text-to-image pipeline, loaded once and kept in ``loaded`` for the chain."""
    import torch
    from diffusers import AutoPipelineForText2Image
    from diffusers.utils import logging as diffusers_logging

    key = ("diffusers", str(folder.resolve()))
    if key in loaded:
        return loaded[key]
    check_folder(folder)
    diffusers_logging.disable_progress_bar()
    gpu = torch.cuda.is_available()
    half = gpu and any(folder.rglob("*.fp16.safetensors"))
    options = {"dtype": torch.float16, "variant": "fp16"} if half else {"dtype": torch.float32}
    try:
        pipeline = AutoPipelineForText2Image.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                             safety_checker=None, requires_safety_checker=False, **options)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PipelineFolderError(f"diffusers model {folder}: cannot be loaded ({exc})") from None
    loaded[key] = pipeline.to("cuda" if gpu else "cpu")
    return loaded[key]


def native_size(pipeline) -> int:
    """The side the pipeline was trained to draw: its denoiser's sample size, in pixels."""
    sample = pipeline.unet.config.sample_size
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    return int(sample * getattr(pipeline, "vae_scale_factor", 8))


def run_pipeline(pictures: list[np.ndarray], settings: DiffusersPass, seed: int, folder: Path,
                 loaded: dict | None = None) -> list[np.ndarray]:
    """Text mode adds ``count`` images per prompt after the inputs; image mode redraws each input
    (prompts taken in turn) at ``strength``."""
    import torch
    from diffusers import AutoPipelineForImage2Image

    text = load_pipeline(folder, {} if loaded is None else loaded)
    generator = torch.Generator(device="cpu").manual_seed(seed % 2**63)
    size = settings.size or native_size(text)
    if settings.mode == "text":
        made = []
        for prompt in settings.prompts:
            result = text(prompt, height=size, width=size, num_inference_steps=settings.steps,
                          guidance_scale=settings.guidance, num_images_per_prompt=settings.count,
                          generator=generator, output_type="np")
            made += [_to_uint8(image) for image in result.images]
        return pictures + made
    redraw = AutoPipelineForImage2Image.from_pipe(text)
    out = []
    for i, picture in enumerate(pictures):
        h, w = picture.shape[:2]
        start = Image.fromarray(picture).resize((size, size), Image.Resampling.LANCZOS)
        result = redraw(settings.prompts[i % len(settings.prompts)], image=start, strength=settings.strength,
                        num_inference_steps=settings.steps, guidance_scale=settings.guidance,
                        generator=generator, output_type="np")
        image = Image.fromarray(_to_uint8(result.images[0])).resize((w, h), Image.Resampling.LANCZOS)
        out.append(np.asarray(image))
    return out


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
