"""Training state saved whole and atomically, and read back exactly.

One ``.pt`` file holds both networks, the EMA generator, both optimisers, the step, the three
seeded generators (data order, latents, augmentation), torch's and numpy's global RNG states,
the model's shape and the captions' vocabulary. It is serialised in memory, written to a
temporary file beside the target, fsynced and renamed, so a crash mid-save leaves the previous
checkpoint whole. It is always read onto the CPU: the weights move to the networks' device as
they are loaded, and the random generators' states must stay CPU tensors (a GPU resume failed
when they were moved).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import SugarglassError
from ..provenance import write_atomic

FORMAT = "sugarglass-garden-checkpoint/2"
EARLIER = {"sugarglass-garden-checkpoint/1": "a plain DCGAN without captions"}


class CheckpointError(SugarglassError):
    """A checkpoint cannot be used: damaged, not a garden checkpoint, or of another model."""


def numpy_state() -> dict:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def set_numpy_state(state: dict) -> None:
    np.random.set_state((state["kind"], state["keys"].numpy().astype(np.uint32), state["position"],
                         state["has_gauss"], state["cached"]))


def save_checkpoint(path: Path, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, dicts) to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    write_atomic(path, buffer.getvalue())
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself made durable
    finally:
        os.close(folder)
    return path


def load_checkpoint(path: Path, model: dict | None = None) -> dict:
    """The state saved at ``path``, on the CPU; with ``model`` (architecture, size, latent,
    width), refuse a checkpoint of any other shape with a message that says both."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here (train the garden first: sugarglass garden train)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- torch raises many kinds for a damaged file
        raise CheckpointError(f"{path}: not a readable checkpoint, damaged or cut short ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and state.get("format") in EARLIER:
        raise CheckpointError(f"{path}: made by an earlier garden model ({EARLIER[state['format']]}), whose weights this "
                              "one cannot use; train again: sugarglass garden train WORK --fresh (or into another --out)")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a garden checkpoint")
    if model is not None and state["model"].get("architecture") != model.get("architecture"):
        raise CheckpointError(f"{path}: made by another garden model ({state['model'].get('architecture')}) than this "
                              f"version trains ({model.get('architecture')}); train again: sugarglass garden train WORK "
                              "--fresh (or into another --out)")
    if model is not None and state["model"] != model:
        saved, wanted = state["model"], model
        raise CheckpointError(
            f"{path}: trained for {saved['size']} px images, latent {saved['latent']}, width {saved['width']}; "
            f"this work asks for {wanted['size']} px, latent {wanted['latent']}, width {wanted['width']}. "
            "Train into another folder (--out), or set the work's garden size, latent and width back."
        )
    return state
