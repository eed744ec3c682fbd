"""The canvas: a heated plate under thermochromic liquid crystal, rendered as stills and video.

Levels in (one per element, 0..3000, per society tick), frames out. Knows nothing of agents.
See `docs/canvas.md` for the model and every parameter.
"""

from .config import LEVEL_MAX, CanvasConfig, CanvasInputError
from .crystal import ColourTable, colour_table, hue_degrees
from .media import VideoWriter, write_png
from .painting import Canvas, palette, render_levels
from .plate import Plate

__all__ = [
    "LEVEL_MAX",
    "Canvas",
    "CanvasConfig",
    "CanvasInputError",
    "ColourTable",
    "Plate",
    "VideoWriter",
    "colour_table",
    "hue_degrees",
    "palette",
    "render_levels",
    "write_png",
]
