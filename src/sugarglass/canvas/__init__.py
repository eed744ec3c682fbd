"""The canvas: a heated plate under thermochromic liquid crystal, rendered as stills and video.

Levels in (one per element, 0..3000, per society tick), frames out. Knows nothing of agents.
See `docs/canvas.md` for the model and every parameter.
"""

from importlib import import_module

# Where each name lives; loaded on first use, so reading a work file (which needs only the
# config) does not import scipy and the numba kernels (a second and a half of every command).
_HOMES = {
    "LEVEL_MAX": "config", "CanvasConfig": "config", "CanvasInputError": "config",
    "ColourTable": "crystal", "colour_table": "crystal", "hue_degrees": "crystal",
    "VideoWriter": "media", "write_png": "media",
    "Canvas": "painting", "palette": "painting", "render_levels": "painting",
    "Plate": "plate",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
