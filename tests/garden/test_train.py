"""Training at 32 px for a few steps: the same seed gives the same weights bit for bit, a
resumed run ends where an unbroken one does, and checkpoints are whole or absent."""

from __future__ import annotations

import shutil

import pytest
import torch
from garden_support import plant_folder, write_work

from sugarglass.garden.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from sugarglass.garden.config import load_garden
from sugarglass.garden.model import build
from sugarglass.garden.train import checkpoint_path, train


@pytest.fixture(scope="module")
def plants(tmp_path_factory):
    return plant_folder(tmp_path_factory.mktemp("dataset") / "plants", count=24)


def states_equal(a: dict, b: dict) -> bool:
    """Every tensor of two checkpoints identical, recursively (optimiser moments included)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(states_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(states_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_training_writes_samples_metrics_and_a_checkpoint(tmp_path, plants):
    work = load_garden(write_work(tmp_path, plants))
    result = train(work, tmp_path / "out", steps=4)
    assert result.step == 4 and result.images_per_second > 0
    assert [p.name for p in result.samples] == ["step-000000.png", "step-000002.png", "step-000004.png"]
    assert [row["step"] for row in result.history] == [0, 2, 4]
    state = load_checkpoint(checkpoint_path(tmp_path / "out"))
    assert state["step"] == 4 and state["model"] == {"size": 32, "latent": 16, "width": 8}
    assert state["dataset"]["consent"]["basis"] == "authored"


def test_the_same_seed_gives_the_same_weights_and_a_resumed_run_ends_where_an_unbroken_one_does(tmp_path, plants):
    # the first half of the resumed run starts afresh, so its equality with the straight run
    # shows both that one seed gives one result and that resuming changes nothing
    work = load_garden(write_work(tmp_path, plants, train={"checkpoint_every": 2, "eval_every": 100, "sample_every": 100}))
    train(work, tmp_path / "straight", steps=4)
    train(work, tmp_path / "resumed", steps=2)
    resumed = train(work, tmp_path / "resumed", steps=4)
    assert resumed.start_step == 2 and resumed.step == 4
    straight = load_checkpoint(checkpoint_path(tmp_path / "straight"))
    state = load_checkpoint(checkpoint_path(tmp_path / "resumed"))
    for key in ("generator", "discriminator", "ema", "opt_g", "opt_d", "streams", "torch_rng", "numpy_rng", "step"):
        assert states_equal(straight[key], state[key]), key
    assert [r["step"] for r in resumed.history] == [0, 2, 4]  # the measurements of both halves, in order
    assert not states_equal(build(32, 16, 8, 3)[0].state_dict(), build(32, 16, 8, 4)[0].state_dict())


def test_a_checkpoint_from_another_model_size_is_refused_by_name(tmp_path, plants):
    train(load_garden(write_work(tmp_path, plants)), tmp_path / "out", steps=2)
    bigger = load_garden(write_work(tmp_path, plants, name="bigger", width=12))
    with pytest.raises(CheckpointError) as error:
        train(bigger, tmp_path / "out", steps=4)
    message = str(error.value)
    assert "latest.pt" in message and "width 8" in message and "width 12" in message
    larger = load_garden(write_work(tmp_path, plants, name="larger", size=64))
    with pytest.raises(CheckpointError, match="trained for 32 px images"):
        train(larger, tmp_path / "out", steps=4)


def test_a_damaged_checkpoint_is_named_and_a_failed_save_leaves_the_old_one_whole(tmp_path, plants):
    train(load_garden(write_work(tmp_path, plants)), tmp_path / "out", steps=2)
    path = checkpoint_path(tmp_path / "out")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="pickle"):
        save_checkpoint(path, {"unsaveable": (i for i in range(1))})  # fails while serialising
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["latest.pt"]  # no temporary file left behind
    cut = tmp_path / "cut.pt"
    cut.write_bytes(before[: len(before) // 3])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable checkpoint"):
        load_checkpoint(cut)
    shutil.copy(path, tmp_path / "copy.pt")
    assert load_checkpoint(tmp_path / "copy.pt")["step"] == 2


def test_a_changed_dataset_does_not_silently_resume(tmp_path, plants):
    folder = tmp_path / "mine"
    shutil.copytree(plants, folder)
    work = load_garden(write_work(tmp_path, folder))
    train(work, tmp_path / "out", steps=2)
    next(folder.glob("*.png")).unlink()
    with pytest.raises(CheckpointError, match="another version of dataset"):
        train(work, tmp_path / "out", steps=4)
    assert train(work, tmp_path / "out", steps=2, fresh=True).start_step == 0
