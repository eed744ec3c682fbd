"""The installation: a perpetual run, its checkpoints, and the live page with visitors' words."""
