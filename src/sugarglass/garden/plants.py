"""The demo dataset: plants the project draws itself, with a caption for each drawing written
from its own parameters, so the garden can be shown without anyone else's images or words.

Each of the twelve species is an L-system (a rewriting rule grown a few generations, then read
by a turtle: ``F`` draws a stem, ``+``/``-`` turn, ``[``/``]`` branch) with its own angle,
height, leaf size and shade, petal count and one or two flower colours; every drawing jitters
those by a seeded generator, so the same seed always draws the same folder. Drawn at twice the
size and reduced, for smooth edges.

The species are laid out so that the captions can test what a text-conditioned model learns:
every flower colour grows on plants of one height only (orange, blue and yellow on tall ones;
red, violet and pink on short ones), while leaf size and petal count cross with both. So "a
short plant with orange flowers" describes no plant in the folder: ``probes.csv`` lists such
descriptions, with the attributes a plant grown from each should show, for ``garden eval``.
"""

from __future__ import annotations

import colorsys
import csv
import io
import json
import math
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIDE = 256
DRAWINGS = 2  # the version of the drawings; a folder of an earlier version is drawn again
RULES = (  # grown few enough generations that each stem and leaf still shows at 64 px
    ("F", {"F": "FF-[-F+F+F]+[+F-F-F]"}, 2),
    ("X", {"X": "F[+X][-X]FX", "F": "FF"}, 3),
    ("X", {"X": "F-[[X]+X]+F[+FX]-X", "F": "FF"}, 3),
    ("F", {"F": "F[+F]F[-F]F"}, 2),
    ("X", {"X": "F[+X]F[-X]+X", "F": "FF"}, 3),
    ("F", {"F": "F[+F][-F]"}, 4),
)
COLOURS = {"red": 0.0, "orange": 0.075, "yellow": 0.145, "blue": 0.6, "violet": 0.76, "pink": 0.9}
PETAL_WORDS = {4: "four", 5: "five", 8: "eight"}
ATTRIBUTES = ("height", "leaves", "petals", "flower_colour")


@dataclass(frozen=True)
class Species:
    """What a kind of plant keeps from drawing to drawing."""

    name: str
    rule: int
    angle: float  # degrees per turn
    height: str  # "tall" or "short"
    leaves: str  # "small" or "large"
    shade: str  # "pale" or "dark" green
    petals: int
    colours: tuple[str, ...]  # its flower colours; each drawing takes one


SPECIES = (
    Species("blue-spire", 3, 24, "tall", "small", "pale", 5, ("blue",)),
    Species("ember-stalk", 1, 20, "tall", "large", "dark", 4, ("orange", "yellow")),
    Species("sun-ladder", 4, 26, "tall", "small", "dark", 8, ("yellow", "orange")),
    Species("river-bell", 2, 22, "tall", "large", "pale", 5, ("blue", "orange")),
    Species("sky-comb", 3, 34, "tall", "large", "dark", 8, ("blue",)),
    Species("lamp-reed", 1, 14, "tall", "small", "pale", 4, ("yellow",)),
    Species("rose-mound", 0, 24, "short", "large", "dark", 5, ("red", "pink")),
    Species("dusk-fan", 5, 28, "short", "small", "pale", 8, ("violet",)),
    Species("blush-cushion", 0, 32, "short", "small", "dark", 4, ("pink",)),
    Species("wine-fan", 5, 20, "short", "large", "pale", 4, ("red", "violet")),
    Species("plum-tuft", 2, 30, "short", "small", "dark", 5, ("violet", "red")),
    Species("shell-heath", 4, 22, "short", "large", "pale", 8, ("pink",)),
)
HABIT = {"tall": ("narrow", "slender", "upright"), "short": ("bushy", "spreading", "low")}
LEAF_HUE = {"pale": 0.27, "dark": 0.36}


@dataclass(frozen=True)
class Drawing:
    """One plant as drawn: its species and the attribute values its caption states."""

    species: Species
    colour: str

    def labels(self) -> dict[str, str]:
        s = self.species
        return {"species": s.name, "height": s.height, "leaves": s.leaves, "petals": str(s.petals), "flower_colour": self.colour}


def describe(height: str | None = None, leaves: str | None = None, petals: int | None = None,
             colour: str | None = None, *, shade: str | None = None, habit: str | None = None,
             form: int = 0) -> str:
    """A plain English description of a plant from any of its attributes, in one of a few
    phrasings (``form``), the way a person might write it from memory."""
    plant = " ".join(w for w in (height, habit, "plant") if w)
    leaf = " ".join(w for w in (leaves, shade, "leaves") if w) if (leaves or shade) else ""
    if petals is not None and colour:
        flower = (f"{PETAL_WORDS[petals]}-petalled {colour} flowers" if form % 2 == 0
                  else f"{colour} flowers with {PETAL_WORDS[petals]} petals")
    elif colour:
        flower = f"{colour} flowers"
    elif petals is not None:
        flower = f"{PETAL_WORDS[petals]}-petalled flowers"
    else:
        flower = ""
    if form == 2 and flower and leaf:
        return f"{flower} on a {plant} with {leaf}"
    parts = [p for p in (leaf, flower) if p]
    return f"a {plant}" + (" with " + " and ".join(parts) if parts else "")


def caption(drawing: Drawing, rng: np.random.Generator) -> str:
    s = drawing.species
    return describe(s.height, s.leaves, s.petals, drawing.colour, shade=s.shade,
                    habit=str(rng.choice(HABIT[s.height])), form=int(rng.integers(3)))


def probes(species: tuple[Species, ...] = SPECIES) -> list[tuple[str, dict[str, str]]]:
    """Descriptions of plants that grow nowhere in the folder: every combination of height and
    flower colour that no species has, alone and with a leaf size or a petal count, each with
    the attribute values a plant grown from it should show."""
    seen = {(s.height, c) for s in species for c in s.colours}
    found = []
    for height, colour in product(("tall", "short"), COLOURS):
        if (height, colour) in seen:
            continue
        found.append((describe(height, colour=colour), {"height": height, "flower_colour": colour}))
        leaves = "small" if len(found) % 2 else "large"
        found.append((describe(height, leaves, colour=colour), {"height": height, "leaves": leaves, "flower_colour": colour}))
        petals = (4, 5, 8)[len(found) % 3]
        found.append((describe(height, petals=petals, colour=colour, form=1),
                      {"height": height, "petals": str(petals), "flower_colour": colour}))
    return found


def _grow(axiom: str, rules: dict[str, str], generations: int) -> str:
    text = axiom
    for _ in range(generations):
        text = "".join(rules.get(c, c) for c in text)
    return text


def _walk(text: str, angle: float, rng: np.random.Generator) -> tuple[list, list]:
    """Stems as (x0, y0, x1, y1, depth) and tips as (x, y, heading, depth), in stem lengths."""
    x, y, heading, depth = 0.0, 0.0, 90.0, 0
    stack: list[tuple[float, float, float, int]] = []
    stems, tips = [], []
    jitter = rng.normal(0, angle * 0.25, size=len(text))
    for i, c in enumerate(text):
        if c == "F":
            nx = x + math.cos(math.radians(heading))
            ny = y + math.sin(math.radians(heading))
            stems.append((x, y, nx, ny, depth))
            x, y = nx, ny
        elif c == "+":
            heading += angle + jitter[i]
        elif c == "-":
            heading -= angle + jitter[i]
        elif c == "[":
            stack.append((x, y, heading, depth))
            depth += 1
        elif c == "]":
            tips.append((x, y, heading, depth))
            x, y, heading, depth = stack.pop()
    tips.append((x, y, heading, depth))
    return stems, tips


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _flower(pen: ImageDraw.ImageDraw, px: float, py: float, radius: float, petals: int, colour: tuple, eye: tuple,
            turn: float) -> None:
    """Four broad petals make a cross, five a rounded star, eight a thin-rayed daisy, so the
    count still shows when the picture is small."""
    breadth = {4: 0.62, 5: 0.5, 8: 0.24}[petals]
    for k in range(petals):
        a = turn + 2 * math.pi * k / petals
        tip = (px + radius * math.cos(a), py + radius * math.sin(a))
        side = (math.cos(a + math.pi / 2) * radius * breadth, math.sin(a + math.pi / 2) * radius * breadth)
        mid = (px + radius * 0.5 * math.cos(a), py + radius * 0.5 * math.sin(a))
        pen.polygon([(px, py), (mid[0] + side[0], mid[1] + side[1]), tip, (mid[0] - side[0], mid[1] - side[1])], fill=colour)
    pen.ellipse([px - radius * 0.28, py - radius * 0.28, px + radius * 0.28, py + radius * 0.28], fill=eye)


def draw_plant(drawing: Drawing, rng: np.random.Generator, side: int = SIDE) -> Image.Image:
    """One drawing of a species in one of its colours, its jitter from ``rng``."""
    species = drawing.species
    axiom, rules, generations = RULES[species.rule]
    angle = species.angle * rng.uniform(0.85, 1.15)
    stems, tips = _walk(_grow(axiom, rules, generations), angle, rng)
    big = side * 2
    ground = _rgb(rng.uniform(0.08, 0.14), rng.uniform(0.04, 0.14), rng.uniform(0.88, 0.97))
    image = Image.new("RGB", (big, big), ground)
    pen = ImageDraw.Draw(image)
    xs = [v for s in stems for v in (s[0], s[2])] or [0.0]
    ys = [v for s in stems for v in (s[1], s[3])] or [0.0]
    width, height = max(max(xs) - min(xs), 1e-6), max(max(ys) - min(ys), 1e-6)
    tall = species.height == "tall"
    target = rng.uniform(0.72, 0.82) if tall else rng.uniform(0.36, 0.46)
    scale = min(big * target / height, big * (0.62 if tall else 0.78) / width)
    cx = big / 2 - (max(xs) + min(xs)) / 2 * scale + rng.uniform(-0.04, 0.04) * big
    base = big * rng.uniform(0.9, 0.94)

    def at(px: float, py: float) -> tuple[float, float]:
        return cx + px * scale, base - (py - min(ys)) * scale

    stem = _rgb(rng.uniform(0.08, 0.3), rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.45))
    deepest = max((s[4] for s in stems), default=0) + 1
    for x0, y0, x1, y1, depth in stems:
        line = max(1, round(big / 70 * (1 - depth / (deepest + 1))))
        pen.line([at(x0, y0), at(x1, y1)], fill=stem, width=line)
    leaf_size = big * (0.028 if species.leaves == "small" else 0.06) * rng.uniform(0.9, 1.1)
    value = 0.72 if species.shade == "pale" else 0.42
    for x, y, heading, _ in tips:
        if rng.random() < 0.8:
            colour = _rgb(LEAF_HUE[species.shade] + rng.uniform(-0.03, 0.03), rng.uniform(0.55, 0.8), value + rng.uniform(-0.08, 0.08))
            px, py = at(x, y)
            along = math.radians(-heading + rng.uniform(-40, 40))
            length, breadth = leaf_size, leaf_size * 0.45
            points = [(px + length * math.cos(along) * t - breadth * math.sin(along) * math.sin(math.pi * t) * s,
                       py + length * math.sin(along) * t + breadth * math.cos(along) * math.sin(math.pi * t) * s)
                      for s in (1, -1) for t in (np.linspace(0, 1, 8) if s == 1 else np.linspace(1, 0, 8))]
            pen.polygon(points, fill=colour)
    hue = COLOURS[drawing.colour]
    order = rng.permutation(len(tips))
    chosen = [tips[i] for i in order[: int(rng.integers(3, 7))]]
    radius = big * 0.06 * rng.uniform(0.9, 1.1)
    saturation = 0.45 if drawing.colour == "pink" else 0.85
    for x, y, _, _ in chosen:
        px, py = at(x, y)
        petal = _rgb(hue + rng.uniform(-0.015, 0.015), saturation + rng.uniform(-0.08, 0.08), rng.uniform(0.85, 1.0))
        eye = _rgb(0.13, 0.85, 0.5)
        _flower(pen, px, py, radius, species.petals, petal, eye, rng.uniform(0, 2 * math.pi))
    return image.resize((side, side), Image.Resampling.LANCZOS)


def generate_plants(folder: Path, count: int, seed: int, species: int = len(SPECIES)) -> list[Path]:
    """Draw ``count`` plants of the first ``species`` kinds into ``folder`` as PNG, with
    ``captions.csv`` (a caption and the labels of every drawing), ``probes.csv`` (descriptions
    of plants the folder lacks) and a note saying who made them. Each file is written whole or
    not at all."""
    from ..provenance import write_atomic

    kinds = SPECIES[:species]
    folder.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        rng = np.random.default_rng([seed, i])
        drawing = Drawing(kind, kind.colours[(i // len(kinds)) % len(kind.colours)])
        image = draw_plant(drawing, rng)
        path = folder / f"plant-{i % len(kinds):02d}-{i:04d}.png"
        partial = folder / f".{path.name}.partial"
        image.save(partial, format="PNG")
        partial.replace(path)
        written.append(path)
        rows.append({"file": path.name, "caption": caption(drawing, rng), **drawing.labels()})
    write_atomic(folder / "captions.csv", _csv(rows))
    write_atomic(folder / "probes.csv", _csv([{"description": text, **dict.fromkeys(ATTRIBUTES, ""), **labels}
                                               for text, labels in probes(kinds)]))
    note = {"made_by": "Sugarglass project (procedural L-system drawings and captions, sugarglass.garden.plants)",
            "drawings": DRAWINGS, "seed": seed, "count": count, "species": [s.name for s in kinds]}
    write_atomic(folder / "ABOUT.json", (json.dumps(note, indent=2) + "\n").encode("utf-8"))
    return written


def stale_drawings(folder: Path) -> list[Path]:
    """The files of an earlier version of the demo drawings in ``folder`` (to draw again), or
    nothing: only a folder whose note says the project drew it is ever touched."""
    try:
        note = json.loads((folder / "ABOUT.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not str(note.get("made_by", "")).startswith("Sugarglass project") or note.get("drawings") == DRAWINGS:
        return []
    return [*folder.glob("plant-*.png"), *(folder / n for n in ("captions.csv", "probes.csv", "ABOUT.json") if (folder / n).is_file())]


def _csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
