"""The [garden] table: the demo loads, and every bad key is named with the file."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import tomli_w
from garden_support import write_work

from sugarglass.errors import ConsentError, WorkFileError
from sugarglass.garden.config import load_garden
from sugarglass.garden.dataset import load_dataset

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_work_loads_and_names_the_project_as_author():
    work = load_garden(REPO / "works" / "garden.toml")
    assert work.garden.size == 64 and work.garden.dataset.generate == "plants"
    assert work.garden.dataset.consent.basis == "authored"
    assert "Sugarglass project" in work.garden.dataset.consent.granted_by
    assert [p.kind for p in work.garden.passes] == ["regrow", "collage", "material", "pixel-sort", "posterise", "jpeg"]


def test_loading_a_garden_work_imports_no_torch():
    code = ("import sys; from sugarglass.garden import load_garden; import sugarglass.cli.garden; "
            f"load_garden({str(REPO / 'works' / 'garden.toml')!r}); print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def _edit(path: Path, change) -> Path:
    import tomllib

    document = tomllib.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, words", [
    (lambda d: d["garden"]["dataset"].pop("consent"), ["garden.dataset.consent: is missing", "consent record"]),
    (lambda d: d["garden"]["dataset"]["consent"].update(basis="visitor"), ["garden.dataset.consent", "does not cover training on images"]),
    (lambda d: d["garden"].update(size=48), ["garden.size"]),
    (lambda d: d["garden"].update(colour="green"), ["garden.colour: is not a known key"]),
    (lambda d: d["garden"]["train"].update(batch=1), ["garden.train.batch"]),
    (lambda d: d["garden"].update(passes=[{"kind": "melt"}]), ["garden.passes[0:melt]", "kind must be one of"]),
    (lambda d: d["garden"].update(passes=[{"kind": "jpeg", "quality": 0}]), ["garden.passes[0:jpeg].quality"]),
    (lambda d: d["garden"].update(passes=[{"kind": "material", "texture": "rust.png"}]), ["garden.passes[0:material]", "needs a consent record"]),
    (lambda d: d["garden"].update(passes=[{"kind": "pixel-sort", "low": 0.9, "high": 0.1}]), ["low must not be above high"]),
    (lambda d: d.pop("garden"), ["garden: is missing"]),
])
def test_bad_keys_are_named_with_the_file(tmp_path, change, words):
    path = _edit(write_work(tmp_path, tmp_path / "plants"), change)
    with pytest.raises(WorkFileError) as error:
        load_garden(path)
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_unreadable_work_files_are_named(tmp_path):
    with pytest.raises(WorkFileError, match="no such file"):
        load_garden(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ", encoding="utf-8")
    with pytest.raises(WorkFileError, match="not valid TOML"):
        load_garden(bad)


def test_a_dataset_is_refused_before_any_image_is_read_unless_consent_is_in_force(tmp_path):
    folder = tmp_path / "plants"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not an image")  # would be a counted skip if it were read
    expired = _edit(write_work(tmp_path, folder), lambda d: d["garden"]["dataset"]["consent"].update(expires=date(2026, 2, 1)))
    with pytest.raises(ConsentError, match="expired"):
        load_dataset(load_garden(expired), tmp_path / "cache")
    later = _edit(write_work(tmp_path, folder), lambda d: d["garden"]["dataset"]["consent"].update(granted_at=date(2999, 1, 1)))
    with pytest.raises(ConsentError, match="not yet in force"):
        load_dataset(load_garden(later), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
