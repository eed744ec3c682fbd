"""Reading the artist's folder: every bad file a counted skip with its reason, a folder with
nothing usable a clear error, the demo drawn on first use, and the cache reused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from garden_support import plant_folder, write_work
from PIL import Image

from sugarglass.garden.config import load_garden
from sugarglass.garden.dataset import DatasetError, load_dataset


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bad_files(folder):
    """One file of each kind the dataset must skip, with a word its reason must contain."""
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    whole = _png(rgb)
    frames = [Image.new("RGB", (64, 64), c) for c in ("red", "blue")]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:])
    cmyk = io.BytesIO()
    rgb.convert("CMYK").save(cmyk, format="JPEG")
    deep = np.random.default_rng(1).integers(0, 65535, (64, 64), dtype=np.uint16)
    files = {
        "empty.png": (b"", "empty file"),
        "corrupt.png": (b"\x89PNG\r\n\x1a\nthis is not a picture", "corrupt"),
        "truncated.png": (whole[: len(whole) // 2], "truncated"),
        "animated.gif": (animated.getvalue(), "animated"),
        "cmyk.jpg": (cmyk.getvalue(), "wrong mode CMYK"),
        "deep.png": (_png(Image.fromarray(deep)), "16-bit"),
        "tiny.png": (_png(rgb.resize((10, 10))), "tiny"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: word for name, (_, word) in files.items()}


def test_bad_images_are_skipped_and_counted_with_their_reasons(tmp_path):
    folder = plant_folder(tmp_path / "plants", count=6)
    expected = bad_files(folder)
    (folder / "notes.txt").write_text("where I found them", encoding="utf-8")
    dataset = load_dataset(load_garden(write_work(tmp_path, folder)), tmp_path / "cache")
    images, report = dataset.images, dataset.report
    assert images.shape == (6, 3, 32, 32) and images.dtype.is_floating_point is False
    assert report.used == 6 and report.found == 6 + len(expected)
    reasons = dict(report.rejected)
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    assert report.ignored == ["notes.txt"]  # the drawings' captions, probes and note are known files
    assert sum(report.reasons().values()) == len(expected)


def test_an_empty_folder_and_a_folder_of_only_bad_images_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="holds no images") as error:
        load_dataset(load_garden(write_work(tmp_path, empty)), tmp_path / "cache")
    assert str(empty) in str(error.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    bad_files(bad)
    with pytest.raises(DatasetError, match="no usable image \\(7 rejected\\)") as error:
        load_dataset(load_garden(write_work(tmp_path, bad)), tmp_path / "cache")
    assert "cmyk.jpg: wrong mode CMYK" in str(error.value)
    with pytest.raises(DatasetError, match="no folder"):
        load_dataset(load_garden(write_work(tmp_path, tmp_path / "absent")), tmp_path / "cache")


def test_the_demo_plants_are_drawn_on_first_use_the_same_for_the_same_seed(tmp_path):
    work = load_garden(write_work(tmp_path, tmp_path / "demo", dataset_extra={"generate": "plants", "generate_count": 12}))
    first = load_dataset(work, tmp_path / "cache")
    images, report = first.images, first.report
    assert report.generated and report.used == 12 and len(images) == 12 and report.captioned == 12
    again = load_dataset(work, tmp_path / "cache")  # from the cache, not drawn again
    assert not again.report.generated and again.report.sha256 == report.sha256
    assert bool((again.images == images).all())
    other = load_garden(write_work(tmp_path / ".", tmp_path / "demo2", name="other",
                                   dataset_extra={"generate": "plants", "generate_count": 12}))
    assert bool((load_dataset(other, tmp_path / "cache").images == images).all())  # the same seed draws the same plants


def test_a_changed_folder_is_read_again(tmp_path):
    folder = plant_folder(tmp_path / "plants", count=5)
    work = load_garden(write_work(tmp_path, folder))
    first = load_dataset(work, tmp_path / "cache").report
    plant_folder(tmp_path / "more", count=6)
    (tmp_path / "more" / "plant-05-0005.png").replace(folder / "plant-05-0005.png")
    second = load_dataset(work, tmp_path / "cache")
    assert len(second.images) == 6 and second.report.sha256 != first.sha256


def test_demo_drawings_of_an_earlier_version_are_drawn_again_and_nothing_else_is_touched(tmp_path):
    import json

    work = load_garden(write_work(tmp_path, tmp_path / "demo", dataset_extra={"generate": "plants", "generate_count": 12}))
    folder = tmp_path / "demo"
    folder.mkdir()
    Image.new("RGB", (64, 64), "red").save(folder / "plant-00-0000.png")
    (folder / "ABOUT.json").write_text(json.dumps({"made_by": "Sugarglass project (procedural L-system drawings)",
                                                   "seed": 3, "count": 1, "species": 12}), encoding="utf-8")
    dataset = load_dataset(work, tmp_path / "cache")
    assert dataset.report.generated and dataset.report.used == 12 and dataset.report.captioned == 12
    mine = tmp_path / "mine"
    mine.mkdir()
    Image.new("RGB", (64, 64), "red").save(mine / "plant-00-0000.png")
    (mine / "ABOUT.json").write_text(json.dumps({"made_by": "me"}), encoding="utf-8")
    theirs = load_garden(write_work(tmp_path, mine, name="mine", dataset_extra={"generate": "plants"}))
    assert load_dataset(theirs, tmp_path / "cache").report.used == 1  # not the project's: never redrawn
