"""Captions and labels from the artist's folder: sidecar text files or captions.csv, images
without one counted and trained unprompted, bad caption files named by file and line, the
vocabulary learnt only from the captions, and descriptions it cannot read refused by word."""

from __future__ import annotations

import pytest
from garden_support import plant_folder, write_work

from sugarglass.errors import ReadError
from sugarglass.garden.captions import NULL, DescriptionError, Vocabulary, read_captions, read_probes, words
from sugarglass.garden.config import load_garden
from sugarglass.garden.dataset import load_dataset
from sugarglass.garden.plants import SPECIES, describe, probes


def test_words_are_runs_of_letters_case_folded():
    assert words("A tall, Five-petalled plant!") == ["a", "tall", "five", "petalled", "plant"]
    assert words("Blüten: rot") == ["blüten", "rot"]


def test_the_demo_writes_a_caption_and_labels_for_every_drawing(tmp_path):
    folder = plant_folder(tmp_path / "plants", count=8)
    dataset = load_dataset(load_garden(write_work(tmp_path, folder)), tmp_path / "cache")
    captions = dataset.captions
    assert captions.captioned == 8 and dataset.report.uncaptioned == 0
    assert set(captions.labels) == {"species", "height", "leaves", "petals", "flower_colour"}
    first = captions.texts[0]
    kind = SPECIES[0]
    assert kind.height in first and f"{captions.labels['flower_colour'][0]} flowers" in first
    assert captions.species[0] == kind.name


def test_probes_describe_only_combinations_no_species_has():
    seen = {(s.height, c) for s in SPECIES for c in s.colours}
    found = probes()
    assert found and all((labels["height"], labels["flower_colour"]) not in seen for _, labels in found)
    assert ("a short plant with orange flowers", {"height": "short", "flower_colour": "orange"}) in found
    assert describe("tall", "small", 5, "blue", shade="pale", habit="narrow") == \
        "a tall narrow plant with small pale leaves and five-petalled blue flowers"


def test_sidecars_and_a_table_caption_images_and_the_rest_are_counted(tmp_path):
    folder = plant_folder(tmp_path / "plants", count=4)
    (folder / "captions.csv").write_text("file,caption,species\nplant-00-0000.png,a red one,rose\n"
                                         "plant-01-0001.png,,fern\n", encoding="utf-8")
    (folder / "plant-02-0002.txt").write_text("a blue one\n", encoding="utf-8")
    (folder / "probes.csv").unlink()
    names = sorted(p.name for p in folder.glob("*.png"))
    captions = read_captions(folder, names)
    assert captions.texts == ["a red one", None, "a blue one", None]
    assert captions.labels == {"species": ["rose", "fern", None, None]}
    assert captions.files == ["captions.csv", "plant-02-0002.txt"]
    report = load_dataset(load_garden(write_work(tmp_path, folder)), tmp_path / "cache").report
    assert report.captioned == 2 and report.uncaptioned == 2 and report.ignored == []


@pytest.mark.parametrize("table, words_in_error", [
    ("name,caption\nplant-00-0000.png,x\n", ["line 1", "'file' column"]),
    ("file,caption\nplant-00-0000.png,x\nabsent.png,y\n", ["line 3", "names 'absent.png'", "not an image"]),
    ("file,caption\nplant-00-0000.png,x\nplant-00-0000.png,y\n", ["line 3", "again (first on line 2)"]),
    ("file,caption\nplant-00-0000.png,x,extra\n", ["line 2", "3 cells where the header has 2"]),
    ("file,caption,caption\n", ["line 1", "repeated column"]),
])
def test_a_bad_caption_table_is_named_with_its_line_and_nothing_is_cached(tmp_path, table, words_in_error):
    folder = plant_folder(tmp_path / "plants", count=2)
    (folder / "captions.csv").write_text(table, encoding="utf-8")
    with pytest.raises(ReadError) as error:
        load_dataset(load_garden(write_work(tmp_path, folder)), tmp_path / "cache")
    message = str(error.value)
    assert "captions.csv" in message
    for word in words_in_error:
        assert word in message


def test_a_caption_given_twice_or_not_utf8_is_named(tmp_path):
    folder = plant_folder(tmp_path / "plants", count=2)
    (folder / "plant-00-0000.txt").write_text("again", encoding="utf-8")
    with pytest.raises(ReadError, match="plant-00-0000.txt: captions plant-00-0000.png, which captions.csv captions too"):
        read_captions(folder, ["plant-00-0000.png", "plant-01-0001.png"])
    (folder / "captions.csv").unlink()
    (folder / "plant-00-0000.txt").write_bytes(b"\xff\xfe r\x00o\x00s\x00e\x00")
    with pytest.raises(ReadError, match="plant-00-0000.txt: is not UTF-8"):
        read_captions(folder, ["plant-00-0000.png", "plant-01-0001.png"])


def test_a_caption_of_a_rejected_image_is_passed_over_with_it(tmp_path):
    folder = plant_folder(tmp_path / "plants", count=2)
    (folder / "broken.png").write_bytes(b"not a picture")
    (folder / "captions.csv").write_text("file,caption\nbroken.png,lost\nplant-00-0000.png,kept\n", encoding="utf-8")
    dataset = load_dataset(load_garden(write_work(tmp_path, folder)), tmp_path / "cache")
    assert dataset.captions.texts == ["kept", None] and dataset.report.rejected[0][0] == "broken.png"


def test_probes_need_a_description_column_and_no_blank_descriptions(tmp_path):
    (tmp_path / "probes.csv").write_text("text,height\nx,tall\n", encoding="utf-8")
    with pytest.raises(ReadError, match="line 1: needs a header with a 'description' column"):
        read_probes(tmp_path)
    (tmp_path / "probes.csv").write_text("description,height\n,tall\n", encoding="utf-8")
    with pytest.raises(ReadError, match="line 2: has a blank description"):
        read_probes(tmp_path)
    (tmp_path / "probes.csv").write_text("description,height,leaves\na tall one,tall,\n", encoding="utf-8")
    assert read_probes(tmp_path) == [("a tall one", {"height": "tall"})]


def test_the_vocabulary_is_the_captions_words_and_unknown_words_are_named():
    vocabulary = Vocabulary.from_captions(["a tall plant with red flowers", None, "a short plant"])
    assert vocabulary.words == ("a", "flowers", "plant", "red", "short", "tall", "with")
    assert vocabulary.encode(None) == [NULL]
    assert vocabulary.encode("A TALL plant") == [2, 7, 4]
    with pytest.raises(DescriptionError) as error:
        vocabulary.encode("a tall plant with orange flowers")
    assert "orange" in str(error.value) and "It knows 7: a, flowers, plant" in str(error.value)
    with pytest.raises(DescriptionError, match="no words"):
        vocabulary.encode("  ... ")
    with pytest.raises(DescriptionError, match="2 word\\(s\\) the model never read in a caption: blue, green"):
        vocabulary.encode("green blue")
    assert vocabulary.encode("a plant with orange flowers", strict=False) == [2, 4, 8, 3]
    assert vocabulary.encode("orange", strict=False) == [NULL]
    assert vocabulary.bag("a red plant") == [0, 2, 3]
