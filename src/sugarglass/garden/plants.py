"""The demo dataset: plants the project draws itself, so the garden can be shown without anyone
else's images.

Each species is an L-system (a rewriting rule grown a few generations, then read by a turtle:
``F`` draws a stem, ``+``/``-`` turn, ``[``/``]`` branch) with its own angle, leaf shape and
colours; every drawing jitters those by a seeded generator, so the same seed always draws the
same folder. Drawn at twice the size and reduced, for smooth edges.
"""

from __future__ import annotations

import colorsys
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIDE = 128
RULES = (
    ("F", {"F": "FF-[-F+F+F]+[+F-F-F]"}, 3),
    ("X", {"X": "F[+X][-X]FX", "F": "FF"}, 4),
    ("X", {"X": "F-[[X]+X]+F[+FX]-X", "F": "FF"}, 4),
    ("F", {"F": "F[+F]F[-F]F"}, 3),
    ("X", {"X": "F[+X]F[-X]+X", "F": "FF"}, 4),
    ("F", {"F": "F[+F][-F]"}, 5),
)


@dataclass(frozen=True)
class Species:
    """What a kind of plant keeps from drawing to drawing."""

    rule: int
    angle: float  # degrees per turn
    leaf_hue: float
    flower_hue: float
    leaf_size: float  # in stem lengths
    flower_size: float
    petals: int
    flowers: bool


def species_list(count: int, rng: np.random.Generator) -> list[Species]:
    return [
        Species(
            rule=int(i % len(RULES)),
            angle=float(rng.uniform(16, 32)),
            leaf_hue=float(rng.uniform(0.2, 0.42)),
            flower_hue=float(rng.choice([0.0, 0.08, 0.14, 0.75, 0.85, 0.55])) + float(rng.uniform(-0.03, 0.03)),
            leaf_size=float(rng.uniform(1.2, 3.0)),
            flower_size=float(rng.uniform(2.0, 4.0)),
            petals=int(rng.integers(4, 8)),
            flowers=bool(rng.random() < 0.8),
        )
        for i in range(count)
    ]


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


def draw_plant(species: Species, rng: np.random.Generator, side: int = SIDE) -> Image.Image:
    """One drawing of ``species``, its jitter from ``rng``."""
    axiom, rules, generations = RULES[species.rule]
    angle = species.angle * rng.uniform(0.85, 1.15)
    stems, tips = _walk(_grow(axiom, rules, generations), angle, rng)
    big = side * 2
    ground = _rgb(rng.uniform(0.08, 0.14), rng.uniform(0.04, 0.14), rng.uniform(0.88, 0.97))
    image = Image.new("RGB", (big, big), ground)
    pen = ImageDraw.Draw(image)
    xs = [v for s in stems for v in (s[0], s[2])] or [0.0]
    ys = [v for s in stems for v in (s[1], s[3])] or [0.0]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = big * rng.uniform(0.62, 0.8) / span
    cx = big / 2 - (max(xs) + min(xs)) / 2 * scale + rng.uniform(-0.05, 0.05) * big
    base = big * rng.uniform(0.9, 0.95)

    def at(px: float, py: float) -> tuple[float, float]:
        return cx + px * scale, base - (py - min(ys)) * scale

    stem = _rgb(rng.uniform(0.08, 0.3), rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.45))
    deepest = max((s[4] for s in stems), default=0) + 1
    for x0, y0, x1, y1, depth in stems:
        width = max(1, round(big / 60 * (1 - depth / (deepest + 1))))
        pen.line([at(x0, y0), at(x1, y1)], fill=stem, width=width)
    leaf_size = min(max(2.0, species.leaf_size * scale * 0.9), big * 0.07)
    for x, y, heading, _ in tips:
        if rng.random() < 0.85:
            colour = _rgb(species.leaf_hue + rng.uniform(-0.04, 0.04), rng.uniform(0.5, 0.85), rng.uniform(0.4, 0.75))
            px, py = at(x, y)
            along = math.radians(-heading + rng.uniform(-40, 40))
            length, breadth = leaf_size, leaf_size * 0.45
            points = [(px + length * math.cos(along) * t - breadth * math.sin(along) * math.sin(math.pi * t) * side_,
                       py + length * math.sin(along) * t + breadth * math.cos(along) * math.sin(math.pi * t) * side_)
                      for side_ in (1, -1) for t in (np.linspace(0, 1, 8) if side_ == 1 else np.linspace(1, 0, 8))]
            pen.polygon(points, fill=colour)
    if species.flowers:
        chosen = [t for t in tips if rng.random() < 0.25] or tips[-1:]
        radius = min(max(3.0, species.flower_size * scale * 0.5), big * 0.06)
        for x, y, _, _ in chosen[:12]:
            px, py = at(x, y)
            petal = _rgb(species.flower_hue + rng.uniform(-0.02, 0.02), rng.uniform(0.55, 0.9), rng.uniform(0.75, 1.0))
            turn = rng.uniform(0, 2 * math.pi)
            for k in range(species.petals):
                a = turn + 2 * math.pi * k / species.petals
                ox, oy = px + radius * 0.6 * math.cos(a), py + radius * 0.6 * math.sin(a)
                pen.ellipse([ox - radius * 0.5, oy - radius * 0.5, ox + radius * 0.5, oy + radius * 0.5], fill=petal)
            eye = _rgb(species.flower_hue + 0.12, 0.8, 0.55)
            pen.ellipse([px - radius * 0.3, py - radius * 0.3, px + radius * 0.3, py + radius * 0.3], fill=eye)
    return image.resize((side, side), Image.Resampling.LANCZOS)


def generate_plants(folder: Path, count: int, seed: int, species: int = 12) -> list[Path]:
    """Draw ``count`` plants of ``species`` kinds into ``folder`` as PNG, with a note saying
    who made them. Each file is written whole or not at all."""
    from ..provenance import write_atomic

    rng = np.random.default_rng(seed)
    kinds = species_list(species, rng)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        kind = i % species
        image = draw_plant(kinds[kind], np.random.default_rng([seed, i]))
        path = folder / f"plant-{kind:02d}-{i:04d}.png"
        partial = folder / f".{path.name}.partial"
        image.save(partial, format="PNG")
        partial.replace(path)
        written.append(path)
    note = {"made_by": "Sugarglass project (procedural L-system drawings, sugarglass.garden.plants)",
            "seed": seed, "count": count, "species": species}
    write_atomic(folder / "ABOUT.json", (json.dumps(note, indent=2) + "\n").encode("utf-8"))
    return written
