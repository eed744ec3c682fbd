"""The judge and the figures it gives: trained on real images only, it tells species apart and
calls spoiled pictures none of them; precision, recall, KID and the memorised share behave as
their definitions say on sets whose answers are known."""

from __future__ import annotations

import pytest
import torch
from garden_support import plant_folder, write_work

from sugarglass.garden.captions import SPECIES
from sugarglass.garden.config import load_garden
from sugarglass.garden.dataset import load_dataset
from sugarglass.garden.judge import NONE, _spoiled, judge_for, train_judge
from sugarglass.garden.quality import Quality, attribute_accuracy, kid, memorised, precision_recall


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("judged")
    folder = plant_folder(root / "plants", count=144)
    return load_dataset(load_garden(write_work(root, folder)), root / "cache")


@pytest.fixture(scope="module")
def judge(dataset):
    return train_judge(dataset, 32, seed=3)


def test_precision_and_recall_are_one_for_the_same_set_and_zero_for_a_far_one():
    points = torch.randn(60, 8, generator=torch.Generator().manual_seed(0))
    assert precision_recall(points, points) == (1.0, 1.0)
    assert precision_recall(points, points + 100) == (0.0, 0.0)
    half = torch.cat([points[:30], points[:30] + 100])  # half the fakes far away, half on the data
    precision, recall = precision_recall(points, half)
    assert precision == pytest.approx(0.5) and recall < 1.0


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(200, 16, generator=g), torch.randn(200, 16, generator=g)
    assert abs(kid(a, b)) < kid(a, b + 0.5) and kid(a, b + 0.5) < kid(a, b + 2)


def test_copies_of_training_images_are_all_memorised_and_noise_none(dataset):
    images = dataset.images
    share, threshold = memorised(images, images[:10])
    assert share == 1.0 and threshold > 0
    noise = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    assert memorised(images, noise)[0] == 0.0


def test_the_judge_learns_the_species_from_real_images_and_calls_spoiled_ones_none(judge, dataset):
    assert judge.classes[SPECIES][-1] == NONE and len(judge.classes[SPECIES]) == 13
    assert judge.held_out >= 24 and judge.accuracy[SPECIES] >= 0.8 and judge.accuracy["flower_colour"] >= 0.8
    spoiled = _spoiled(dataset.images[:24].float() / 127.5 - 1, torch.Generator().manual_seed(4))
    named = judge.predict(spoiled)[SPECIES].argmax(dim=1)
    assert (named == len(judge.classes[SPECIES]) - 1).float().mean() >= 0.6


def test_real_images_pass_and_an_untrained_generators_noise_does_not(judge, dataset):
    quality = Quality(judge, dataset.images, dataset.captions.species, seed=3, count=36)
    floor = quality.floor
    assert floor.precision >= 0.7 and floor.recall >= 0.7 and floor.coverage >= 0.9
    noise = torch.rand(36, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    junk = quality.measure(noise)
    # Noise collapses to one point of the judge's space: it may fall inside some real image's
    # neighbourhood (precision), but it covers none of the data (recall) and is far in KID.
    assert junk.recognisability <= 0.1 and junk.recall <= 0.1 and junk.kid > floor.kid


def test_attribute_accuracy_counts_each_asked_attribute_once_per_image(judge, dataset):
    look = judge.look(dataset.images[:4])
    wanted = [{k: v[i] for k, v in dataset.captions.attributes.items()} for i in range(4)]
    overall, per = attribute_accuracy(judge, look, wanted)
    assert set(per) == {"height", "leaves", "petals", "flower_colour"} and 0.75 <= overall <= 1.0
    flipped = "tall" if wanted[0]["height"] == "short" else "short"
    unknown_only, _ = attribute_accuracy(judge, judge.look(dataset.images[:1]), [{"flower_colour": "emerald"}])
    assert unknown_only != unknown_only  # nan: no attribute the judge knows was asked
    assert attribute_accuracy(judge, judge.look(dataset.images[:1]), [{"height": flipped}])[0] == 0.0


def test_the_judge_is_cached_by_the_datasets_digest(dataset, tmp_path):
    first = judge_for(dataset, 32, 3, tmp_path)
    assert len(list(tmp_path.glob("judge-*.pt"))) == 1
    again = judge_for(dataset, 32, 3, tmp_path)
    x = dataset.images[:8]
    assert torch.equal(first.features(x), again.features(x)) and again.accuracy == first.accuracy


def test_each_goal_is_read_in_its_own_sense():
    from sugarglass.garden.evaluate import goal_key, verdict

    assert verdict("recall", 0.6) == "met" and verdict("recall", 0.59) == "not met"
    assert verdict("memorised", 0.04) == "met" and verdict("memorised", 0.06) == "not met"  # lower is better
    assert verdict("kid", 5.0) == ""  # no goal: beside its floor only
    assert verdict(goal_key("novel combinations"), 0.5) == "met"
