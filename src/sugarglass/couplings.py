"""Couplings: how the feelings signal sets the society's parameters, tick by tick.

The artist writes small expressions over the signal's fields (``growback = "1 + 3 * compnorm"``).
They are parsed, checked against the names the signal has and the functions allowed here, and
evaluated over whole arrays of ticks at once by walking the syntax tree: no user text is ever
handed to Python's ``eval``. ``inert_couplings`` names the couplings that the chosen society
rules would never read, so a work that cannot do what its file says is told so before it runs.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from .society.config import SocietyConfig

Array = np.ndarray
Evaluator = Callable[[Mapping[str, Array]], Array]

SIGNAL_NAMES = ("compound", "compnorm", "pos", "neg", "neu", "count", "tick")

_BINARY: dict[type, Callable[[Array, Array], Array]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: np.divide,
    ast.Pow: np.power, ast.Mod: np.mod, ast.FloorDiv: np.floor_divide,
}
_COMPARE: dict[type, Callable[[Array, Array], Array]] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
_FUNCTIONS: dict[str, tuple[Callable[..., Array], int]] = {
    "abs": (np.abs, 1), "sqrt": (np.sqrt, 1), "exp": (np.exp, 1), "log": (np.log, 1),
    "floor": (np.floor, 1), "ceil": (np.ceil, 1), "round": (np.rint, 1),
    "min": (np.minimum, 2), "max": (np.maximum, 2), "clamp": (lambda x, lo, hi: np.clip(x, lo, hi), 3),
}


class CouplingError(ValueError):
    """An expression that cannot be used, naming the parameter, the expression and the reason."""


def compile_expression(text: str, names: tuple[str, ...] = SIGNAL_NAMES, *, target: str = "expression") -> Evaluator:
    """Parse ``text`` into an evaluator over arrays of the given names.

    Allowed: numbers, the names, + - * / // % **, comparisons (true is 1), ``a if cond else b``,
    and the functions abs sqrt exp log floor ceil round min max clamp.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise CouplingError(f"{target} = {text!r}: cannot read it ({exc.msg}, column {exc.offset})") from None

    def build(node: ast.AST) -> Evaluator:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            value = float(node.value)
            return lambda env: np.float64(value)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise CouplingError(
                    f"{target} = {text!r}: unknown name {node.id!r} (the signal has: {', '.join(names)})"
                )
            key = node.id
            return lambda env: env[key]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = build(node.operand)
            return (lambda env: -inner(env)) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = _BINARY[type(node.op)], build(node.left), build(node.right)
            return lambda env: op(left(env), right(env))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            op, left, right = _COMPARE[type(node.ops[0])], build(node.left), build(node.comparators[0])
            return lambda env: op(left(env), right(env)).astype(np.float64)
        if isinstance(node, ast.IfExp):
            test, yes, no = build(node.test), build(node.body), build(node.orelse)
            return lambda env: np.where(test(env) != 0, yes(env), no(env))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name = node.func.id
            if name not in _FUNCTIONS:
                raise CouplingError(f"{target} = {text!r}: unknown function {name!r} (allowed: {', '.join(_FUNCTIONS)})")
            function, arity = _FUNCTIONS[name]
            if len(node.args) != arity:
                raise CouplingError(f"{target} = {text!r}: {name}() takes {arity} argument(s), not {len(node.args)}")
            args = [build(arg) for arg in node.args]
            return lambda env: function(*(arg(env) for arg in args))
        shown = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise CouplingError(f"{target} = {text!r}: {shown!r} is not allowed in a coupling")

    return build(tree.body)


class Coupling(BaseModel):
    """One parameter's expression, with optional clamps applied after evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expr: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Coupling:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


PRESETS: dict[str, dict[str, Coupling]] = {
    # The 2019 work: the row's compound drives regrowth (only when positive) and its negative
    # share shortens the lives of agents born from then on; the engine's conversions-2019 rules
    # turn these into "regrow a random integer below ceil(9 * compound)" and
    # "max_age = 150 - floor(75 * negative)".
    "conversions-2019": {
        "compound": Coupling(expr="compound", min=-1.0, max=1.0),
        "negative": Coupling(expr="neg", min=0.0, max=1.0),
    },
    # A gentle coupling for the book's rules: feeling sets how fast sugar and spice grow back.
    "growback": {
        "growback": Coupling(expr="0.5 + 1.5 * compnorm", min=0.0, max=4.0),
    },
}


class CouplingsConfig(BaseModel):
    """The ``[couplings]`` table: a preset, expressions by parameter, and what to do when the
    signal runs out before the run does (``cycle`` it as in 2019, ``hold`` the last tick, or
    ``stop`` the run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Literal["none", "conversions-2019", "growback"] = "none"
    when_exhausted: Literal["cycle", "hold", "stop"] = "cycle"
    set: dict[str, Coupling | str] = Field(default_factory=dict)

    @field_validator("set")
    @classmethod
    def _parse(cls, value: dict[str, Coupling | str]) -> dict[str, Coupling | str]:
        for name, coupling in value.items():
            compile_expression(coupling if isinstance(coupling, str) else coupling.expr, target=f"couplings.set.{name}")
        return value

    def couplings(self) -> dict[str, Coupling]:
        """The preset's couplings with the work's own on top."""
        chosen = dict(PRESETS.get(self.preset, {}))
        for name, coupling in self.set.items():
            chosen[name] = Coupling(expr=coupling) if isinstance(coupling, str) else coupling
        return chosen


@dataclass(frozen=True, slots=True)
class Schedule:
    """Per-tick parameter values for a whole run: ``values[name][t]`` for t in range(steps)."""

    steps: int
    values: dict[str, Array]
    signal_index: Array

    def at(self, tick: int) -> dict[str, float]:
        return {name: float(column[tick]) for name, column in self.values.items()}


def signal_index(signal_length: int, steps: int, when_exhausted: str) -> Array:
    """Which signal tick feeds each run tick; ``stop`` shortens the run to the signal."""
    if signal_length <= 0:
        raise CouplingError("the signal is empty")
    ticks = np.arange(steps if when_exhausted != "stop" else min(steps, signal_length))
    if when_exhausted == "cycle":
        return ticks % signal_length
    return np.minimum(ticks, signal_length - 1)


def compile_couplings(config: CouplingsConfig, parameters: tuple[str, ...],
                      names: tuple[str, ...] = SIGNAL_NAMES) -> Callable[[Mapping[str, Array]], dict[str, Array]]:
    """All of a work's couplings as one function from signal arrays to clamped parameter arrays.

    ``parameters`` are the names the society accepts per tick; a coupling naming another is an
    error that lists them. A NaN or infinite result is an error naming the parameter and the
    first tick (array position) where it happens.
    """
    compiled = []
    for name, coupling in config.couplings().items():
        if name not in parameters:
            raise CouplingError(f"couplings.set.{name}: the society has no per-tick parameter {name!r} "
                                f"(it has: {', '.join(parameters)})")
        low = -math.inf if coupling.min is None else coupling.min
        high = math.inf if coupling.max is None else coupling.max
        compiled.append((name, coupling.expr, compile_expression(coupling.expr, names, target=f"couplings.set.{name}"), low, high))

    def apply(env: Mapping[str, Array]) -> dict[str, Array]:
        shape = np.shape(env["tick"])
        values: dict[str, Array] = {}
        for name, expr, evaluate, low, high in compiled:
            with np.errstate(all="ignore"):
                column = np.clip(np.broadcast_to(np.asarray(evaluate(env), dtype=np.float64), shape), low, high)
            bad = ~np.isfinite(column)
            if bad.any():
                at = int(np.ravel(env["tick"])[np.argmax(np.ravel(bad))])
                raise CouplingError(f"couplings.set.{name} = {expr!r} is not a finite number at tick {at}")
            values[name] = column
        return values

    return apply


def schedule(config: CouplingsConfig, fields: Mapping[str, Array], steps: int, parameters: tuple[str, ...]) -> Schedule:
    """Evaluate every coupling over the whole run at once; arrays in, arrays out."""
    length = len(next(iter(fields.values())))
    index = signal_index(length, steps, config.when_exhausted)
    env = {name: np.asarray(values, dtype=np.float64)[index] for name, values in fields.items()}
    env["tick"] = np.arange(len(index), dtype=np.float64)
    apply = compile_couplings(config, parameters, tuple(env))
    return Schedule(steps=len(index), values=apply(env), signal_index=index)


# -- couplings the rules never read -------------------------------------------------------------

LIFESPANS = ("max_age", "max_age_min", "max_age_max")
GROWBACK = ("growback", "sugar_growback", "spice_growback")


def inert_couplings(config: CouplingsConfig, society: SocietyConfig) -> list[str]:
    """One plain sentence for each coupling the society's rules would never act on, naming the
    coupling, the rule that idles it and the fix; empty when every coupling can act.

    A coupling that cannot act is not an error (the run is still a valid run) but it is almost
    never what the artist meant: a lifespan coupling without replacement shapes no life, and the
    painting of a society that only dies goes dark. Names the society has no parameter for are
    left to ``compile_couplings``, which refuses them.
    """
    chosen = config.couplings()
    sentences = []
    for name in chosen:
        check = CONDITIONS.get(name)
        reason = check(society) if check else None
        if reason:
            where = f"couplings.set.{name}" if name in config.set else f"the {name} coupling of couplings preset {config.preset!r}"
            sentences.append(f"{where} cannot act: {reason}")
    return sentences


def _rule(society: SocietyConfig, option: str) -> str:
    """Where an option's value comes from, as the artist would look for it."""
    value = getattr(society.rules, option)
    shown = str(value).lower() if isinstance(value, bool) else f'"{value}"'
    if option in society.options:
        return f"[society.options] sets {option} = {shown}"
    return f"society preset {society.preset!r} has {option} = {shown}"


def _replacement_fix(society: SocietyConfig) -> str:
    also = " or use preset 'book-replacement'" if society.preset in ("book", "mesa-g1mt") else ""
    return f"set [society.options] replacement = true{also}"


def _lifespan(society: SocietyConfig) -> str | None:
    if society.rules.replacement:
        return None
    return (f"{_rule(society, 'replacement')}, so nobody is born or dies of age and the lifespans it "
            f"sets never start; {_replacement_fix(society)}")


def _negative(society: SocietyConfig) -> str | None:
    if society.rules.lifespan_rule != "sentiment-2019":
        return (f"{_rule(society, 'lifespan_rule')} and only the 2019 lifespan rule reads it; couple max_age "
                'instead, or set [society.options] lifespan_rule = "sentiment-2019"')
    if not society.rules.replacement:
        return (f"{_rule(society, 'replacement')}, so nobody is born and the shorter lives it sets never "
                f"start; {_replacement_fix(society)}")
    return None


def _compound(society: SocietyConfig) -> str | None:
    if society.rules.growback_rule == "sentiment-2019":
        return None
    return (f"{_rule(society, 'growback_rule')} and only the 2019 regrowth reads it; couple growback instead, "
            'or set [society.options] growback_rule = "sentiment-2019"')


def _growback(resources: tuple[str, ...]):
    """The check for a growback coupling of these resources ("sugar", "spice" or both)."""

    def check(society: SocietyConfig) -> str | None:
        if society.rules.growback_rule != "constant":
            return (f"{_rule(society, 'growback_rule')}, under which regrowth follows the feeling's compound, "
                    "not a rate; couple compound instead (as couplings preset 'conversions-2019' does), or set "
                    '[society.options] growback_rule = "constant"')
        land = society.landscape
        if land.resolved_kind(society.preset) != "uniform":
            return None  # the classic map has both; a map file is not read before the run
        empty = [r for r in resources if getattr(land, f"{r}_capacity") == 0]
        if len(empty) < len(resources):
            return None
        fields = " and ".join(f"{r}_capacity = 0" for r in empty)
        return (f"the landscape is uniform with {fields}, so there is nothing to grow back; give "
                f"[society.landscape] a {' and '.join(empty)} capacity above 0, or drop the coupling")

    return check


# Every per-tick parameter a coupling may set (the engine's and run.ALIASES), with the check of
# whether the rules read it; tests/test_couplings.py keeps this in step with the engine.
CONDITIONS = {
    **dict.fromkeys(LIFESPANS, _lifespan),
    "negative": _negative,
    "compound": _compound,
    "growback": _growback(("sugar", "spice")),
    "sugar_growback": _growback(("sugar",)),
    "spice_growback": _growback(("spice",)),
}
