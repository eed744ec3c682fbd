"""Growing plants and running pass chains on them; every file carries its manifest, and the
command line reports bad input in one clear message."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from garden_support import plant_folder, write_work
from PIL import Image
from typer.testing import CliRunner

from sugarglass.errors import ReadError
from sugarglass.garden.config import load_garden
from sugarglass.garden.grow import grow
from sugarglass.garden.passes import run_passes
from sugarglass.provenance import DIGITAL_SOURCE_TYPES
from sugarglass.garden.train import train
from sugarglass.cli.garden import app as garden_app
from sugarglass.provenance import read_label, sha256_file
from sugarglass.provenance.embed import png_chunks

CHAIN = [
    {"kind": "project", "strength": 0.5, "steps": 3, "starts": 2},
    {"kind": "regrow", "strength": 0.5, "steps": 2, "starts": 2, "description": "a tall plant"},
    {"kind": "noise", "amount": 0.05},
    {"kind": "collage", "outputs": 2, "pieces": 3, "size": 64},
    {"kind": "material", "texture": "metal", "opacity": 0.5, "blend": "multiply"},
    {"kind": "pixel-sort", "low": 0.2, "high": 0.9, "direction": "columns"},
    {"kind": "posterise", "levels": 5},
    {"kind": "jpeg", "quality": 10, "times": 2},
]


@pytest.fixture(scope="module")
def garden(tmp_path_factory):
    """A garden trained 20 steps at 32 px, with the full pass chain in its work file."""
    root = tmp_path_factory.mktemp("garden")
    plants = plant_folder(root / "plants", count=16)
    work = load_garden(write_work(root, plants, passes=CHAIN, train={"eval_every": 100, "sample_every": 100,
                                                                      "checkpoint_every": 100}))
    train(work, root / "out", steps=20)
    return work, root / "out"


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_grow_writes_a_grid_singles_and_a_walk_each_with_the_manifest(garden):
    work, out = garden
    grown = grow(work, out, count=3, seed=9)
    assert len(grown.singles) == 3 and pixels(grown.singles[0]).shape == (32, 32, 3)
    checkpoint_sha = sha256_file(out / "checkpoints" / "latest.pt")
    for path in [grown.grid, grown.video, *grown.singles]:
        found = read_label(path)
        manifest = found.record["manifest"]
        assert found.record["content"]["sha256"] == found.content_sha256
        assert manifest["digital_source_type"] == DIGITAL_SOURCE_TYPES["model"]
        assert manifest["seed"] == 9 and manifest["steps"] == 20
        assert manifest["garden"]["checkpoint"]["sha256"] == checkpoint_sha
        assert manifest["sources"][0]["consent"]["basis"] == "authored"
    listed = json.loads(grown.manifest.read_text(encoding="utf-8"))["files"]
    assert "walk.mp4" in listed and "plants/plant-002.png" in listed
    again = grow(work, out, count=3, seed=9)
    assert np.array_equal(pixels(again.singles[2]), pixels(grown.singles[2]))  # the seed decides the plants


def test_the_pass_chain_feeds_each_pass_the_last_ones_output_and_records_it(garden):
    work, out = garden
    first = run_passes(work, out, count=3, seed=2)
    assert [s.name for s in first.stages] == [f"{i + 1}-{p['kind']}" for i, p in enumerate(CHAIN)]
    assert len(list(first.stages[1].glob("*.png"))) == 3 and len(first.final) == 2  # the collage made two sheets
    assert pixels(first.final[0]).shape == (64, 64, 3)
    early = read_label(first.stages[1] / "image-000.png").record["manifest"]
    late = read_label(first.final[0]).record["manifest"]
    assert early["digital_source_type"] == DIGITAL_SOURCE_TYPES["model"]
    assert late["digital_source_type"] == DIGITAL_SOURCE_TYPES["composite"]
    assert [p["kind"] for p in late["garden"]["passes"]] == [p["kind"] for p in CHAIN]
    assert late["garden"]["passes"][0]["strength"] == 0.5 and late["garden"]["grown"] == {"count": 3, "seed": 2}
    second = run_passes(work, out, count=3, seed=2)
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(first.final, second.final))
    chained = run_passes(work, out, inputs=[first.stages[0] / "image-000.png"], seed=5)
    assert read_label(chained.final[0]).record["manifest"]["garden"]["inputs"][0]["file"].endswith("image-000.png")


def test_passes_refuse_pictures_without_a_garden_manifest_or_changed_since(garden, tmp_path):
    work, out = garden
    stranger = tmp_path / "stranger.png"
    Image.new("RGB", (32, 32), "red").save(stranger)
    with pytest.raises(ReadError, match="carries no garden manifest"):
        run_passes(work, out, inputs=[stranger])
    grown = grow(work, out, count=1, seed=1)
    record = next(body for kind, body in png_chunks(grown.singles[0].read_bytes(), grown.singles[0])
                  if kind == b"iTXt" and body.startswith(b"sugarglass:manifest"))
    other = tmp_path / "other.png"
    Image.new("RGB", (32, 32), "blue").save(other)
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(_with_chunk(other.read_bytes(), b"iTXt", record))  # a grown plant's manifest on other pixels
    with pytest.raises(ReadError, match="changed after its manifest"):
        run_passes(work, out, inputs=[tampered])


def _with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """``png`` with one more chunk just before its IEND."""
    chunk = len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    return png[:-12] + chunk + png[-12:]


def test_the_command_line_trains_evaluates_grows_and_reports(tmp_path):
    plants = plant_folder(tmp_path / "plants", count=16)
    (plants / "zero.png").write_bytes(b"")
    work = write_work(tmp_path, plants, passes=[{"kind": "posterise", "levels": 3}], train={"eval_every": 100, "sample_every": 100})
    out = str(tmp_path / "out")
    runner = CliRunner()
    result = runner.invoke(garden_app, ["dataset", str(work), "--out", out])
    assert result.exit_code == 0, result.output
    assert "skipped zero.png: empty file" in result.output and "16 (squared to 32 px)" in result.output
    result = runner.invoke(garden_app, ["train", str(work), "--steps", "2", "--out", out])
    assert result.exit_code == 0, result.output
    assert "step 2 (from 0" in result.output
    result = runner.invoke(garden_app, ["eval", str(work), "--out", out])
    assert result.exit_code == 0, result.output
    assert "floor: real against real" in result.output and "recognised" in result.output
    assert "attributes, held-out captions:" in result.output and "attributes, novel combinations:" in result.output
    assert read_label(tmp_path / "out" / "eval" / "quality.png").record is not None
    assert read_label(tmp_path / "out" / "eval" / "quality.json").record is not None
    result = runner.invoke(garden_app, ["grow", str(work), "--count", "2", "--out", out])
    assert result.exit_code == 0 and "grew 2 plants" in result.output
    grown = [p for p in (tmp_path / "out" / "grow-3").rglob("*") if p.is_file()]
    assert all(str(tmp_path).encode() not in p.read_bytes() for p in grown)  # no local folder in what is shared
    result = runner.invoke(garden_app, ["describe", str(work), "a short plant with violet flowers", "--count", "2", "--out", out])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "describe-a-short-plant-with-violet-flowers-3" / "grid.png").is_file()
    result = runner.invoke(garden_app, ["describe", str(work), "a plant with emerald flowers", "--out", out])
    assert result.exit_code == 2 and "emerald" in result.output and "It knows" in result.output
    result = runner.invoke(garden_app, ["describe", str(work), "   ", "--out", out])
    assert result.exit_code == 2 and "has no words" in result.output
    result = runner.invoke(garden_app, ["passes", str(work), "--count", "2", "--out", out])
    assert result.exit_code == 0 and "1-posterise: 2 pictures" in result.output


def test_the_command_line_names_bad_input_and_exits_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(garden_app, ["train", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2 and "absent.toml" in result.output and "no such file" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(garden_app, ["train", str(write_work(tmp_path, empty)), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "holds no images" in result.output
    result = runner.invoke(garden_app, ["grow", str(write_work(tmp_path, empty)), "--out", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no checkpoint here" in result.output


def test_the_collage_cuts_a_plant_from_a_gradient_ground():
    from sugarglass.garden.passes import _cutout

    picture = np.zeros((64, 64, 3), dtype=np.uint8)
    picture[...] = np.linspace(40, 230, 64)[:, None, None].astype(np.uint8)  # light falling down a wall
    picture[20:40, 25:45] = (200, 30, 30)
    picture[50:64, 30:34] = (20, 90, 20)  # a stem that touches the bottom edge
    alpha = np.asarray(_cutout(picture))[..., 3]
    assert (alpha[20:40, 25:45] == 255).all() and (alpha[52:64, 30:34] == 255).all()
    ground = np.ones((64, 64), dtype=bool)
    ground[20:40, 25:45] = ground[50:64, 30:34] = False
    assert (alpha[ground] == 0).all()  # the border's median (a mid grey) left the light and dark ends opaque


def test_the_concrete_material_visibly_changes_a_light_picture():
    from sugarglass.garden.materials import blend, concrete

    light = np.full((64, 64, 3), 0.92, dtype=np.float32)
    pressed = blend(light, concrete(64, 64, np.random.default_rng(0)), "multiply", 0.55)
    assert np.abs(pressed - light).mean() * 255 > 30  # the earlier texture moved the demo's pixels by 2.3/255


def test_regrowing_at_no_strength_keeps_the_plant_and_at_full_strength_grows_another(garden):
    from sugarglass.garden.config import RegrowPass
    from sugarglass.garden.passes import Context, regrow

    work, out = garden
    context = Context(work, out)
    picture = [pixels(grow(work, out, count=1, seed=4).singles[0])]
    kept = regrow(picture, RegrowPass(kind="regrow", strength=0.0, steps=30), np.random.default_rng(1), context)
    moved = regrow(picture, RegrowPass(kind="regrow", strength=1.0, steps=30), np.random.default_rng(1), context)
    near, far = (np.abs(x[0].astype(int) - picture[0]).mean() for x in (kept, moved))
    assert near < far
    with pytest.raises(Exception, match="emerald"):
        regrow(picture, RegrowPass(kind="regrow", description="emerald flowers"), np.random.default_rng(1), context)


def test_an_unknown_word_in_a_later_pass_stops_the_chain_before_anything_is_written(garden, tmp_path):
    from sugarglass.garden.captions import DescriptionError
    from sugarglass.garden.config import PosterisePass, RegrowPass
    from sugarglass.garden.passes import run_passes

    work, out = garden
    chain = [PosterisePass(kind="posterise", levels=3), RegrowPass(kind="regrow", description="emerald flowers")]
    unknown = work.model_copy(update={"garden": work.garden.model_copy(update={"passes": chain})})
    with pytest.raises(DescriptionError, match="emerald"):
        run_passes(unknown, out, count=2, seed=77)
    assert not (out / "passes-77").exists()
