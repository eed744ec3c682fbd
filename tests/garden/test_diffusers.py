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
    native_size,
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


RECORD = {"name": "tiny random pipeline", "origin": "built by the test suite", "licence": "CC0-1.0",
          "trained_on": "nothing: random weights",
          "consent": {"granted_by": "the tests", "basis": "authored", "scope": "keep-text", "licence": "CC0-1.0",
                      "granted_at": "2026-01-01", "evidence": "tests/garden/test_diffusers.py"}}


def diffusers(**settings) -> DiffusersPass:
    return DiffusersPass(kind="diffusers", record=RECORD, **settings)


def pictures(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (24, 20, 3), dtype=np.uint8) for _ in range(n)]


def test_image_mode_redraws_each_picture_at_its_size_from_the_local_folder(tiny_pipeline):
    settings = diffusers(model=tiny_pipeline, mode="image", strength=0.5, steps=2, size=16, prompts=["a lost plant"])
    loaded: dict = {}
    first = run_pipeline(pictures(), settings, 5, tiny_pipeline, loaded)
    pipeline = next(iter(loaded.values()))
    again = run_pipeline(pictures(), settings, 5, tiny_pipeline, loaded)
    assert next(iter(loaded.values())) is pipeline and len(loaded) == 1  # loaded once for a chain
    assert [p.shape for p in first] == [(24, 20, 3)] * 2
    assert all(p.dtype == np.uint8 for p in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # seeded: the same pictures again


def test_text_mode_adds_count_images_per_prompt(tiny_pipeline):
    settings = diffusers(model=tiny_pipeline, mode="text", steps=2, size=16, count=2,
                         prompts=["fern with red seeds", "a tall grey stem"])
    made = run_pipeline(pictures(1), settings, 1, tiny_pipeline)
    assert len(made) == 1 + 4
    assert made[1].shape == (16, 16, 3)


def test_without_a_size_the_pipeline_draws_at_its_native_size(tiny_pipeline):
    loaded: dict = {}
    made = run_pipeline([], diffusers(model=tiny_pipeline, mode="text", steps=1, prompts=["x"]), 1, tiny_pipeline, loaded)
    assert made[0].shape[:2] == (native_size(next(iter(loaded.values()))),) * 2 == (16, 16)  # 8 latent px x the VAE's 2


def test_every_file_of_the_pipeline_is_hashed_for_the_manifest(tiny_pipeline):
    digest = folder_digest(tiny_pipeline)
    assert "model_index.json" in digest
    assert any(name.startswith("unet/") and name.endswith(".safetensors") for name in digest)


@pytest.mark.parametrize("damage, words", [
    (lambda f: (f / "model_index.json").unlink(), ["model_index.json is missing"]),
    (lambda f: shutil.rmtree(f / "unet"), ["incomplete", "unet/"]),
    (lambda f: [p.unlink() for p in (f / "vae").glob("*.safetensors")], ["vae/ has no safetensors weights"]),
    (lambda f: [p.rename(p.with_suffix(".bin")) for p in (f / "unet").glob("*.safetensors")],
     ["unet/ has no safetensors weights", "only a pickled .bin, which the garden never loads"]),
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
    settings = diffusers(model=tmp_path / "nowhere", steps=1)
    with pytest.raises(PipelineFolderError, match="never downloads"):
        run_pipeline(pictures(1), settings, 0, tmp_path / "nowhere")


def test_a_diffusers_pass_without_its_record_is_refused_by_key(tmp_path):
    from garden_support import write_work

    from sugarglass.errors import WorkFileError
    from sugarglass.garden.config import load_garden

    work = write_work(tmp_path, tmp_path / "plants", passes=[{"kind": "diffusers", "model": "pipeline"}])
    with pytest.raises(WorkFileError, match="garden.passes\\[0:diffusers\\].record: is missing"):
        load_garden(work)


def test_pictures_a_third_party_model_touched_say_so_and_the_audit_reports_it(tiny_pipeline, tmp_path):
    from garden_support import plant_folder, write_work

    from sugarglass.audit import audit_garden
    from sugarglass.garden.config import load_garden
    from sugarglass.garden.passes import run_passes
    from sugarglass.garden.train import train
    from sugarglass.provenance import read_label
    from sugarglass.store import Store

    chain = [{"kind": "posterise", "levels": 4},
             {"kind": "diffusers", "model": str(tiny_pipeline), "mode": "image", "strength": 0.5, "steps": 2, "size": 16,
              "record": RECORD},
             {"kind": "noise", "amount": 0.02}]
    work = load_garden(write_work(tmp_path, plant_folder(tmp_path / "plants", count=8), passes=chain,
                                  train={"eval_every": 100, "sample_every": 100}))
    train(work, tmp_path / "out", steps=1)
    run = run_passes(work, tmp_path / "out", count=2, seed=1)
    before = read_label(run.stages[0] / "image-000.png").record["manifest"]
    after = read_label(run.final[0]).record["manifest"]
    assert before["garden"]["trained_only_on_the_artists_data"] is True
    assert [m["kind"] for m in before["garden"]["models"]] == ["garden"]
    assert after["garden"]["trained_only_on_the_artists_data"] is False
    third = [m for m in after["garden"]["models"] if m["kind"] == "diffusers"][0]
    assert third["trained_on"] == "nothing: random weights" and "model_index.json" in third["files"]
    assert [s["id"] for s in after["sources"]] == ["plants", "tiny random pipeline"]
    with Store(work.store_path) as store:
        criteria = audit_garden(work, store)
    consent = [text for ok, text in criteria[0].findings]
    assert any("tiny random pipeline" in t and "trained on nothing: random weights" in t for t in consent)
    assert not criteria[0].ok  # its training data was not gathered with this work's consent
    assert criteria[3].ok  # every garden output folder is labelled
