"""The named rule sets: every reading of the Sugarscape rules that a preset takes, spelled out.

A preset is a plain dict of option values, so the work file can override any one by name and
`docs/society.md` can list them all. Each option is a reading the sources disagree on (see
`spec/sugarscape.md`, "Known readings that differ") or a quirk of the 2019 software
(`spec/conversions-2019.md`); none is a hidden constant of the kernels.
"""

from __future__ import annotations

from typing import Any

BOOK: dict[str, Any] = {
    # Population and the traits each agent draws (inclusive integer ranges).
    "agents": 200,
    "endowment": (25, 50),
    "metabolism": (1, 5),
    "vision": (1, 5),
    "max_age": (60, 100),
    # Space.
    "torus": False,
    "start_positions": "distinct",
    "start_fill": "full",
    # Movement M.
    "look": "rays",
    "include_own_cell": True,
    "tie_distance": "manhattan",
    "move_goal": "welfare",
    "move_timing": "sequential",
    "harvest": "all",
    "metabolism_rule": "subtract",
    "metabolic_fraction": 0.5,
    "starvation": "sugar-or-spice",
    # Trade T.
    "trade": True,
    "trade_rule": "bargain",
    "trade_partners": "adjacent",
    "partner_order": "random",
    "trade_quantities": "real",
    # Growback G and replacement R.
    "growback": 1.0,
    "growback_rule": "constant",
    "replacement": False,
    "replacement_id": "new",
    "lifespan_rule": "fixed",
}

BOOK_REPLACEMENT: dict[str, Any] = {
    **BOOK,
    "agents": 400,
    "endowment": (10, 40),
    "metabolism": (1, 4),
    "vision": (1, 6),
    "max_age": (60, 100),
    "replacement": True,
}

MESA_G1MT: dict[str, Any] = {
    **BOOK,
    "look": "diamond",
    "include_own_cell": False,  # Mesa keeps only empty cells, and its own cell is not empty
    "tie_distance": "euclidean",
    "trade_partners": "look",
    "partner_order": "scan",
    "trade_quantities": "integer",
    "start_positions": "with-replacement",
}

CONVERSIONS_2019: dict[str, Any] = {
    **BOOK,
    "agents": 100,
    "endowment": (0, 0),
    "metabolism": (1, 1),  # unused by the 'fraction' rule, kept at 1 so MRS stays defined
    "vision": (2, 2),  # the 8 cells at distance 1 and 2 along the four directions
    "max_age": (40, 149),  # lifespan uniform in [40, 150)
    "start_fill": "random-2019",
    "include_own_cell": False,
    "move_goal": "most-sugar",
    "move_timing": "plan-then-move",
    "harvest": "sugar-all-spice-one",
    "metabolism_rule": "fraction",
    "metabolic_fraction": 0.5,
    "starvation": "sugar-exactly-zero",
    "trade_rule": "one-unit-2019",
    "trade_partners": "look",
    "partner_order": "scan",
    "growback_rule": "sentiment-2019",
    "replacement": True,
    "replacement_id": "same",
    "lifespan_rule": "sentiment-2019",
}

PRESETS: dict[str, dict[str, Any]] = {
    "book": BOOK,
    "book-replacement": BOOK_REPLACEMENT,
    "mesa-g1mt": MESA_G1MT,
    "conversions-2019": CONVERSIONS_2019,
}

# The landscape a preset runs on when the work file does not choose one.
PRESET_LANDSCAPE: dict[str, str] = {
    "book": "classic",
    "book-replacement": "classic",
    "mesa-g1mt": "classic",
    "conversions-2019": "uniform",
}
