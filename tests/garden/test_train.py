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
from sugarglass.files import SHARED
from sugarglass.garden.config import load_garden
from sugarglass.garden.model import build
from sugarglass.garden.train import ARCHITECTURE, checkpoint_path, train


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
    assert state["step"] == 4 and state["model"] == {"architecture": ARCHITECTURE, "size": 32, "latent": 16, "width": 8}
    assert state["text"]["vocabulary"] and len(state["text"]["held_out"]) == 2  # a tenth of 24 captions
    assert state["dataset"]["consent"]["basis"] == "authored"
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and all(p.stat().st_mode & 0o777 == SHARED for p in written)  # 0644, not mkstemp's 0600


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
    assert not states_equal(build(32, 16, 8, 20, 3)[0].state_dict(), build(32, 16, 8, 20, 4)[0].state_dict())


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
    first, second = sorted(folder.glob("*.png"))[:2]
    first.write_bytes(second.read_bytes())  # the artist repainted one plant
    with pytest.raises(CheckpointError, match="another version of dataset"):
        train(work, tmp_path / "out", steps=4)
    assert train(work, tmp_path / "out", steps=2, fresh=True).start_step == 0


def test_a_checkpoint_of_the_earlier_model_says_to_train_again(tmp_path):
    import io

    buffer = io.BytesIO()
    torch.save({"format": "sugarglass-garden-checkpoint/1", "model": {"size": 64, "latent": 64, "width": 8}}, buffer)
    old = tmp_path / "latest.pt"
    old.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(old)
    assert "latest.pt: made by an earlier garden model" in str(error.value) and "--fresh" in str(error.value)


def test_a_checkpoint_is_read_onto_the_cpu_so_its_random_states_can_be_restored_on_any_device(tmp_path, plants):
    # torch.Generator.set_state and torch.set_rng_state take CPU byte tensors only; a checkpoint
    # read with map_location="cuda" broke a resume on a GPU
    train(load_garden(write_work(tmp_path, plants)), tmp_path / "out", steps=2)
    state = load_checkpoint(checkpoint_path(tmp_path / "out"))
    assert state["torch_rng"].device.type == "cpu" and all(s.device.type == "cpu" for s in state["streams"].values())
    assert all(t.device.type == "cpu" for t in state["ema"].values())
    torch.Generator().set_state(state["streams"]["data"])


def test_mode_seeking_costs_more_when_two_latents_grow_one_plant_and_ignores_the_ground():
    from sugarglass.garden.train import _mode_seeking

    g = torch.Generator().manual_seed(9)
    z = torch.randn(8, 16, generator=g)
    plants = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
    same = torch.cat([plants[:4], plants[:4]])
    other_ground = same + torch.linspace(-0.5, 0.5, 8).view(8, 1, 1, 1)  # each a different flat ground
    assert _mode_seeking(z, plants) < _mode_seeking(z, same)
    assert _mode_seeking(z, other_ground) > 10 * _mode_seeking(z, plants)  # ground is no way out


def test_a_checkpoint_of_another_architecture_says_to_train_again(tmp_path, plants):
    work = load_garden(write_work(tmp_path, plants))
    train(work, tmp_path / "out", steps=1)
    path = checkpoint_path(tmp_path / "out")
    state = load_checkpoint(path)
    state["model"]["architecture"] = "an-older-garden/1"
    save_checkpoint(path, state)
    with pytest.raises(CheckpointError, match="made by another garden model.*--fresh"):
        train(work, tmp_path / "out", steps=2)
