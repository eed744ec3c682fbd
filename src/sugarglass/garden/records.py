"""What the garden tells the world about its outputs: the consent gate, the manifest every
image and video carries, and the store entries that let a withdrawal find them later.

Generated images are ``trainedAlgorithmicMedia``; collages and material overlays, which put
generated plants together with other pictures, ``compositeWithTrainedAlgorithmicMedia``.
"""

from __future__ import annotations

from pathlib import Path

from ..provenance import build_manifest, label, write_manifest
from .config import GardenWork



def admit(work: GardenWork, register: bool = False) -> None:
    """Refuse the dataset unless its consent is in force and it was never withdrawn; with
    ``register``, record the source and its consent in the work's store (training does)."""
    from ..store import Store

    dataset = work.garden.dataset
    dataset.check_consent()
    with Store(work.store_path) as store:
        store.check_not_withdrawn(dataset.id)
        if register:
            with store.transaction():
                store.register(dataset.id, "image-folder", str(work.dataset_folder), dataset.consent)


def garden_manifest(work: GardenWork, source: dict, *, seed: int, step: int, section: dict, composite: bool = False,
                    models: list[dict] = ()) -> dict:
    """The manifest of a garden output: the work, the dataset with its consent record (and any
    third-party model that touched the pictures, each a source with its own record), the seed,
    the training step, and ``section`` (model, checkpoint hash, passes...)."""
    return build_manifest(work=work, sources=[source, *models], analyzer={}, seed=seed, steps=step,
                          sections={"garden": section}, provenance=work.provenance,
                          kind="composite" if composite else "model")


def garden_model(work: GardenWork, trained) -> dict:
    """The artist's own model as a manifest names it: what it is and the one dataset it learnt."""
    return {"kind": "garden", "name": f"{work.name} garden model ({trained.state['model']['architecture']})",
            "checkpoint_sha256": trained.sha256, "step": trained.step,
            "trained_on": [{"id": trained.state["dataset"]["id"], "sha256": trained.state["dataset"]["sha256"]}],
            "trained_only_on_the_artists_data": True}


def label_all(folder: Path, files: list[Path], manifest: dict, work: GardenWork) -> Path:
    """Embed the manifest in every file, write ``manifest.json`` listing them, and tell the
    store, so ``sugarglass consent withdraw`` can find this folder later."""
    from ..store import Store

    sidecars = [side for path in files if (side := label(path, manifest)) is not None]
    listing = write_manifest(folder / "manifest.json", manifest, files + sidecars)
    with Store(work.store_path) as store:
        store.record_output(folder, listing, work.name, [work.garden.dataset.id], kind="garden")
    return listing
