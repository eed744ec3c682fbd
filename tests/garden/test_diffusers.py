"""The local diffusers pass, with a tiny randomly initialised pipeline the test builds and
saves itself: loaded back only from disk, never downloaded; an incomplete folder is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sugarglass.garden.config import DiffusersPass
from sugarglass.garden.diffusion import (
    PipelineFolderError,
    check_folder,
    folder_digest,
    run_pipeline,
)

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for c in LETTERS:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="!", model_max_length=16)


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> Path:
    """A few-channel Stable Diffusion pipeline with random weights, saved to a temporary folder."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-diffusers")
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(4, 8),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, norm_num_groups=2, attention_head_dim=2,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(4, 8), norm_num_groups=2,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"), up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    )
    text = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=16, intermediate_size=24, num_attention_heads=2,
        num_hidden_layers=2, vocab_size=64, max_position_embeddings=16,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=_tokenizer(root / "vocab"), unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    folder = root / "pipeline"
    pipeline.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def pictures(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (24, 20, 3), dtype=np.uint8) for _ in range(n)]


def test_image_mode_redraws_each_picture_at_its_size_from_the_local_folder(tiny_pipeline):
    settings = DiffusersPass(kind="diffusers", model=tiny_pipeline, mode="image", strength=0.5, steps=2, size=16,
                             prompts=["a lost plant"])
    first = run_pipeline(pictures(), settings, 5, tiny_pipeline)
    again = run_pipeline(pictures(), settings, 5, tiny_pipeline)
    assert [p.shape for p in first] == [(24, 20, 3)] * 2
    assert all(p.dtype == np.uint8 for p in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # seeded: the same pictures again


def test_text_mode_adds_count_images_per_prompt(tiny_pipeline):
    settings = DiffusersPass(kind="diffusers", model=tiny_pipeline, mode="text", steps=2, size=16, count=2,
                             prompts=["fern with red seeds", "a tall grey stem"])
    made = run_pipeline(pictures(1), settings, 1, tiny_pipeline)
    assert len(made) == 1 + 4
    assert made[1].shape == (16, 16, 3)


def test_every_file_of_the_pipeline_is_hashed_for_the_manifest(tiny_pipeline):
    digest = folder_digest(tiny_pipeline)
    assert "model_index.json" in digest
    assert any(name.startswith("unet/") and name.endswith(".safetensors") for name in digest)


@pytest.mark.parametrize("damage, words", [
    (lambda f: (f / "model_index.json").unlink(), ["model_index.json is missing"]),
    (lambda f: shutil.rmtree(f / "unet"), ["incomplete", "unet/"]),
    (lambda f: [p.unlink() for p in (f / "vae").glob("*.safetensors")], ["vae/ has no weights"]),
    (lambda f: (f / "model_index.json").write_text("{", encoding="utf-8"), ["not valid JSON"]),
])
def test_an_incomplete_pipeline_folder_is_refused_naming_what_is_missing(tiny_pipeline, tmp_path, damage, words):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_pipeline, broken)
    damage(broken)
    with pytest.raises(PipelineFolderError) as error:
        check_folder(broken)
    assert str(broken) in str(error.value)
    for word in words:
        assert word in str(error.value)


def test_a_folder_that_is_not_there_is_never_fetched(tmp_path):
    settings = DiffusersPass(kind="diffusers", model=tmp_path / "nowhere", steps=1)
    with pytest.raises(PipelineFolderError, match="never downloads"):
        run_pipeline(pictures(1), settings, 0, tmp_path / "nowhere")
