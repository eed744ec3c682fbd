"""The garden: a small generative model trained only on the artist's own images, the plants it
grows, and the passes that rearrange and degrade them. Importing this package imports no torch;
the modules that need it (model, train, grow, passes...) import it themselves.
"""

from .config import GardenConfig, GardenWork, load_garden

__all__ = ["GardenConfig", "GardenWork", "load_garden"]
