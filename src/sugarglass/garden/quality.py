"""What a person would see, in numbers: grown plants judged against the artist's real ones.

- **Recognisability**: the share of grown plants the judge names as one species with
  confidence >= 0.8. **Coverage**: the share of species named at least once, and the entropy
  of the species named against the dataset's own (1 is as even as the data).
- **Precision and recall** (Kynkäänniemi et al. 2019) in the judge's feature space: a grown
  plant is precise if it falls inside the k-nearest-neighbour ball of some real image; a real
  image is recalled if it falls inside the ball of some grown plant (k = 3).
- **KID** (Binkowski et al. 2018): the unbiased squared MMD with the cubic polynomial kernel,
  in the same features, x 1000.
- **Memorisation**: for every grown plant, the pixel distance to its nearest training image,
  against the training images' own nearest-neighbour distances; the share closer than their
  5th percentile. Drawn fresh from the data, about 5 % would be.

Each figure comes with its *floor*: the same figure for one half of the real images against the
other, the best a model could hope to show with as many pictures.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .captions import SPECIES
from .images import to_unit
from .judge import Judge, Look

K = 3
CONFIDENT = 0.8
PIXELS = 32  # side at which pixel distances for memorisation are taken


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = K) -> tuple[float, float]:
    """Improved precision and recall of ``fake`` against ``real`` features (rows)."""

    def radii(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d.kthvalue(k + 1, dim=1).values  # the k-th neighbour, the point itself being the first

    def inside(points: torch.Tensor, centres: torch.Tensor, r: torch.Tensor) -> float:
        return float((torch.cdist(points, centres) <= r.unsqueeze(0)).any(dim=1).double().mean())

    real, fake = real.double(), fake.double()
    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def kid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^3, x 1000."""
    real, fake = real.double(), fake.double()
    d = real.shape[1]
    kernel = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m, n = len(real), len(fake)
    krr, kff, krf = kernel(real, real), kernel(fake, fake), kernel(real, fake)
    value = ((krr.sum() - krr.diagonal().sum()) / (m * (m - 1)) + (kff.sum() - kff.diagonal().sum()) / (n * (n - 1))
             - 2 * krf.mean())
    return 1000 * float(value)


def _small(images: torch.Tensor) -> torch.Tensor:
    x = to_unit(images)
    return torch.nn.functional.interpolate(x, size=min(PIXELS, x.shape[-1]), mode="area").flatten(1).double()


def memorised(training: torch.Tensor, grown: torch.Tensor, percentile: float = 5.0) -> tuple[float, float]:
    """(share of ``grown`` closer to a training image than the ``percentile`` of the training
    images' own nearest-neighbour distances, that threshold)."""
    train = _small(training)
    own = torch.cdist(train, train)
    own.fill_diagonal_(float("inf"))
    threshold = float(torch.quantile(own.min(dim=1).values, percentile / 100))
    nearest = torch.cdist(_small(grown), train).min(dim=1).values
    return float((nearest < threshold).double().mean()), threshold


def _entropy(counts: torch.Tensor) -> float:
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * -p.log2()).sum()) + 0.0  # + 0.0: no "-0.000" for a single species


@dataclass
class Figures:
    """Every figure for one set of images (grown plants, or the real floor)."""

    precision: float
    recall: float
    kid: float
    memorised: float
    recognisability: float | None = None
    coverage: float | None = None
    entropy: float | None = None  # of the species named, over the dataset's (1 = as even)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Quality:
    """Measures grown plants against a fixed reference: a seeded half of the real images (the
    other half gives the floor), through the judge."""

    def __init__(self, judge: Judge, images: torch.Tensor, species: list[str | None] | None, seed: int, count: int):
        self.judge = judge
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed * 104_729 + 3))
        self.count = max(2, min(count, len(images) // 2))
        self.reference = images[order[: self.count]]
        self.training = images
        self.reference_features = judge.features(self.reference)
        self.species_entropy = None
        if judge.has_species and species is not None:
            values = judge.classes[SPECIES][:-1]
            self.species_entropy = _entropy(torch.tensor([sum(1 for s in species if s == v) for v in values]))
        # the floor: the other half, as new to the reference as grown plants are to the training set
        self.floor = self.measure(images[order[self.count : 2 * self.count]], training=self.reference)

    def measure(self, images: torch.Tensor, training: torch.Tensor | None = None, look: Look | None = None) -> Figures:
        """All figures of ``images`` (as many as the reference, uint8 or [-1, 1]);
        memorisation against ``training`` (default: every real image)."""
        look = look or self.judge.look(images)
        feats = look.features
        precision, recall = precision_recall(self.reference_features, feats)
        share, _ = memorised(self.training if training is None else training, images)
        figures = Figures(precision, recall, kid(self.reference_features, feats), share)
        if self.species_entropy:
            probs = look.probabilities[SPECIES]
            best = probs.max(dim=1)
            species = probs.shape[1] - 1  # the last class is "none of them"
            named = (best.values >= CONFIDENT) & (best.indices < species)
            figures.recognisability = float(named.double().mean())
            figures.coverage = len(set(best.indices[named].tolist())) / species
            figures.entropy = _entropy(torch.bincount(best.indices[best.indices < species], minlength=species)) / self.species_entropy
        return figures


def attribute_accuracy(judge: Judge, look: Look, wanted: list[dict[str, str]]) -> tuple[float, dict[str, float]]:
    """How often the judge saw in each image the attributes its description asked for: the
    mean over every (image, attribute asked) pair, and per attribute."""
    probabilities = look.probabilities
    hits: dict[str, list[float]] = {}
    for i, asked in enumerate(wanted):
        for name, value in asked.items():
            if name == SPECIES or name not in probabilities or value not in judge.classes[name]:
                continue
            seen = judge.classes[name][int(probabilities[name][i].argmax())]
            hits.setdefault(name, []).append(float(seen == value))
    every = [h for values in hits.values() for h in values]
    return (sum(every) / len(every) if every else math.nan), {k: sum(v) / len(v) for k, v in hits.items()}


def chance_accuracy(judge: Judge, grown: Look, wanted: list[dict[str, str]]) -> float:
    """The attribute accuracy of plants grown without reading the descriptions: for each
    attribute asked, the share of plants grown as ``garden grow`` grows them that happen to
    show it."""
    probabilities = grown.probabilities
    shares = []
    for asked in wanted:
        for name, value in asked.items():
            if name != SPECIES and name in probabilities and value in judge.classes[name]:
                index = judge.classes[name].index(value)
                shares.append(float((probabilities[name].argmax(dim=1) == index).double().mean()))
    return sum(shares) / len(shares) if shares else math.nan


def goal_key(name: str) -> str:
    """The figure (and goal) key of a prompt set: "held-out captions" -> "attributes_held_out_captions"."""
    return "attributes_" + name.replace(" ", "_").replace("-", "_")


@dataclass
class Prompts:
    """Descriptions to grow from, each with the attributes its plants should show."""

    name: str  # "held-out captions" or "novel combinations"
    texts: list[str]
    wanted: list[dict[str, str]]


class Evaluator:
    """Everything ``garden eval`` and training measure, set up once: the judge, the real
    reference and its floor, and the descriptions to test text-conditioning with."""

    def __init__(self, judge: Judge, images: torch.Tensor, species: list[str | None] | None, prompts: list[Prompts],
                 seed: int, count: int, latent: int, truncation: float | None = None):
        self.judge, self.prompts, self.seed, self.latent, self.truncation = judge, prompts, seed, latent, truncation
        self.quality = Quality(judge, images, species, seed, count)

    @property
    def floor(self) -> Figures:
        return self.quality.floor

    def grown(self, generator, vocabulary, captions: list[str]) -> torch.Tensor:
        """Plants as ``garden grow`` grows them: each from one of the training captions."""
        from .sampling import garden_tokens, latents, sample

        count = self.quality.count
        return sample(generator, latents(count, self.latent, self.seed * 31 + 5, self.truncation),
                      garden_tokens(vocabulary, captions, count, self.seed * 31 + 5))

    def figures(self, generator, vocabulary, captions: list[str], per_prompt: int = 4, detail: bool = False) -> dict:
        """Every figure of ``generator``, flat (for the metrics file and the progress bar);
        with ``detail``, also ``text``: per prompt set, the accuracy per attribute."""
        from .sampling import description_tokens, latents, sample

        grown = self.grown(generator, vocabulary, captions)
        seen = self.judge.look(grown)
        found: dict = self.quality.measure(grown, look=seen).to_dict()
        text = {}
        for prompts in self.prompts:
            if not prompts.texts:
                continue
            tokens = description_tokens(vocabulary, prompts.texts, strict=False).repeat_interleave(per_prompt, dim=0)
            z = latents(len(tokens), self.latent, self.seed * 31 + 6, self.truncation)
            wanted = [w for w in prompts.wanted for _ in range(per_prompt)]
            score, per_attribute = attribute_accuracy(self.judge, self.judge.look(sample(generator, z, tokens)), wanted)
            key = goal_key(prompts.name)
            chance = chance_accuracy(self.judge, seen, prompts.wanted)
            found[key], found[key + "_chance"] = score, chance
            text[prompts.name] = {"accuracy": score, "chance": chance,
                                  "per_attribute": per_attribute, "descriptions": len(prompts.texts),
                                  "plants_each": per_prompt}
        if detail:
            found["text"] = text
        return found


def evaluator_for(work, dataset, out_dir: Path, held_out: list[int], count: int | None = None, on_epoch=None) -> Evaluator:
    """The work's evaluator: its dataset's judge (trained now, or from the cache), the captions
    held out of training and the folder's probes as prompts."""
    from .captions import read_probes
    from .judge import judge_for

    judge = judge_for(dataset, work.garden.size, work.seed, out_dir / "cache", on_epoch)
    captions = dataset.captions
    attributes = captions.attributes
    prompts = [Prompts("held-out captions", [captions.texts[i] for i in held_out],
                       [{k: v[i] for k, v in attributes.items() if v[i] is not None} for i in held_out])]
    probes = read_probes(work.dataset_folder)
    if probes:
        prompts.append(Prompts("novel combinations", [text for text, _ in probes], [labels for _, labels in probes]))
    return Evaluator(judge, dataset.images, captions.species, prompts, work.seed,
                     count or work.garden.train.eval_images, work.garden.latent, work.garden.grow.truncation)
