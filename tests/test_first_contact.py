"""A newcomer's first hour: a new work that runs as it stands, a preview in seconds, a folder of
its own for every run, a question before a withdrawal, and outputs that are safe to share."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from PIL import Image
from typer.testing import CliRunner

from support import DEMO_WORK
from sugarglass.cli import app

runner = CliRunner()


def invoke(*args: object, input: str | None = None):
    result = runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
    result.flat = " ".join(result.output.split())
    return result


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo work, copied, with a small canvas so a run takes a second or two."""
    shutil.copytree(DEMO_WORK.parent / "demo", tmp_path / "demo")
    document = tomllib.loads(DEMO_WORK.read_text(encoding="utf-8"))
    document["canvas"].update(width=60, height=80, frames_per_tick=1)
    document["society"]["steps"] = 8
    path = tmp_path / "demo.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def dark_share(png: Path) -> float:
    """Share of pixels a visitor would call black (every channel under 40 of 255)."""
    pixels = np.asarray(Image.open(png).convert("RGB"))
    return float((pixels.max(axis=2) < 40).mean())


def test_init_makes_a_work_that_previews_and_runs_as_it_stands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = invoke("init", "river-piece")
    assert made.exit_code == 0, made.output
    assert "sugarglass run river-piece/work.toml --preview" in made.flat
    work = tmp_path / "river-piece" / "work.toml"
    for path in (work, tmp_path / "river-piece" / "data" / "sample-posts.csv", tmp_path / "river-piece" / "data" / "SAMPLE-CONSENT.md"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    document = tomllib.loads(work.read_text(encoding="utf-8"))
    assert document["name"] == "river-piece"
    assert {"analyzer", "signal", "sources", "society", "couplings", "readout", "canvas", "live", "provenance"} <= set(document)
    text = work.read_text(encoding="utf-8")
    for table in ("[[outputs]]", "[safety]", "FILL IN"):  # commented examples of what is not needed to start
        assert f"# {table}" in text or table in text

    again = invoke("init", "river-piece")
    assert again.exit_code == 2 and "exists" in again.flat
    assert work.read_text(encoding="utf-8") == text  # nothing of the artist's is overwritten

    preview = invoke("run", work, "--preview")
    assert preview.exit_code == 0, preview.output
    folder = tmp_path / "river-piece" / "out" / "river-piece-1-preview"
    assert {"painting.png", "painting.mp4", "manifest.json"} <= {p.name for p in folder.iterdir()}
    still = Image.open(folder / "painting.png")
    assert max(still.size) == 320
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["steps"] == 120 and manifest["canvas"]["width"] == 240  # the preview says it is one
    assert dark_share(folder / "painting.png") < 0.25, "the new work's preview is mostly dark"
    rerun = invoke("run", work, "--preview")  # a preview replaces the last preview
    assert rerun.exit_code == 0 and not (folder.parent / "river-piece-1-preview-2").exists()


def test_uncommenting_the_artists_source_without_filling_it_in_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "piece").exit_code == 0
    work = tmp_path / "piece" / "work.toml"
    lines = work.read_text(encoding="utf-8").splitlines()
    own = next(i for i, line in enumerate(lines) if line.startswith("# Your own words"))
    start = lines.index("# [[sources]]", own)
    end = lines.index("", start)
    lines[start:end] = [line[2:] if line.startswith("# ") else "" for line in lines[start:end]]
    work.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "piece" / "data" / "my-posts.csv").write_text("text,created_at\nhello,2026-12-01T10:00:00Z\n", encoding="utf-8")
    refused = invoke("run", work, "--preview")
    assert refused.exit_code == 2
    assert "granted_by" in refused.flat and "FILL IN" in refused.flat


def test_every_run_gets_a_folder_of_its_own_and_force_replaces_one(demo, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # out/ is beside the work file, whichever folder the shell is in
    first = invoke("run", demo)
    assert first.exit_code == 0, first.output
    out = tmp_path / "out"
    assert (out / "demo-2019" / "painting.png").is_file() and not (elsewhere / "out").exists()
    before = (out / "demo-2019" / "manifest.json").read_bytes()
    second = invoke("run", demo)
    assert second.exit_code == 0 and "demo-2019-2" in second.flat
    assert (out / "demo-2019" / "manifest.json").read_bytes() == before  # the earlier run is untouched
    assert (out / "demo-2019-2" / "painting.png").is_file()

    (out / "demo-2019" / "withdrawn-data.json").write_text("[]\n", encoding="utf-8")  # a stale notice of the old run
    forced = invoke("run", demo, "--force")
    assert forced.exit_code == 0, forced.output
    assert not (out / "demo-2019" / "withdrawn-data.json").exists()
    assert not (out / "demo-2019-3").exists()

    taken = invoke("run", demo, "--out", out / "demo-2019")
    assert taken.exit_code == 2 and "--force" in taken.flat
    foreign = tmp_path / "holiday-photos"
    foreign.mkdir()
    (foreign / "beach.jpg").write_bytes(b"not ours")
    refused = invoke("run", demo, "--out", foreign, "--force")
    assert refused.exit_code == 2 and "did not write" in refused.flat
    assert (foreign / "beach.jpg").read_bytes() == b"not ours"


def test_withdrawal_asks_first_and_yes_skips_the_question(demo):
    assert invoke("ingest", demo).exit_code == 0
    declined = invoke("consent", "withdraw", demo, "campaign-posts", input="n\n")
    assert declined.exit_code == 2 and "cannot be undone" in declined.flat and "was not withdrawn" in declined.flat
    assert "in force" in invoke("consent", "list", demo).flat
    nobody = invoke("consent", "withdraw", demo, "campaign-posts", input="")  # no terminal, no answer: nothing happens
    assert nobody.exit_code == 2 and "in force" in invoke("consent", "list", demo).flat
    agreed = invoke("consent", "withdraw", demo, "campaign-posts", input="y\n")
    assert agreed.exit_code == 0 and "336 posts and 336 feelings deleted" in agreed.flat
    again = invoke("consent", "withdraw", demo, "campaign-posts", "--yes")
    assert again.exit_code == 2 and "withdrawn" in again.flat


def test_every_file_written_carries_a_manifest_and_audit_counts_them_all(demo, tmp_path):
    from sugarglass.provenance.verify import verify

    assert invoke("run", demo).exit_code == 0
    shown = invoke("feelings", demo)
    assert shown.exit_code == 0, shown.output
    signal = tmp_path / "out" / "demo-feelings" / "signal.png"
    assert verify(signal).ok
    exported = invoke("feelings", "export", demo, "--csv", tmp_path / "exports" / "feelings.csv")
    assert exported.exit_code == 0, exported.output
    csv_file = tmp_path / "exports" / "feelings.csv"
    assert (tmp_path / "exports" / "feelings.csv.manifest.json").is_file()
    assert verify(csv_file).ok, [c.detail for c in verify(csv_file).checks if not c.ok]
    assert stat.S_IMODE(csv_file.stat().st_mode) == 0o644

    audited = invoke("audit", demo)
    assert "Outputs are labelled: met" in audited.flat, audited.output
    stray = tmp_path / "out" / "demo-2019" / "notes.txt"
    stray.write_text("written by hand\n", encoding="utf-8")
    audited = invoke("audit", demo)
    assert "Outputs are labelled: not met" in audited.flat and "notes.txt" in audited.flat


def test_kernels_that_are_not_cached_yet_are_announced_once():
    from numba import njit
    from rich.console import Console
    from rich.progress import Progress

    from sugarglass.cli.common import kernels_notice

    @njit
    def fresh(x):  # never compiled before: its compile is what the first run of a kernel looks like
        return x * 2 + 1

    console = Console(record=True, width=200)
    with Progress(console=console) as progress, kernels_notice(progress):
        fresh(3)
        fresh(3.5)
    assert console.export_text().count("compiling the society's and the painting's kernels (first run only") == 1
    console = Console(record=True, width=200)
    with Progress(console=console) as progress, kernels_notice(progress):
        fresh(4)  # compiled already: nothing to say
    assert "compiling" not in console.export_text()


def test_help_is_plain_and_loads_only_the_command_line():
    shown = invoke("--help")
    assert shown.exit_code == 0 and "<bool>" not in shown.output
    assert all(len(line) <= 80 for line in shown.output.splitlines())
    assert "init" in shown.output and "run" in shown.output
    probe = "import sys, sugarglass.cli; print(sorted(m for m in ('numpy', 'numba', 'pydantic', 'sugarglass.work') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_a_coupling_the_rules_never_read_is_a_warning_naming_it_and_the_fix(demo):
    document = tomllib.loads(demo.read_text(encoding="utf-8"))
    document["society"]["preset"] = "book"
    document["couplings"] = {"set": {"max_age": {"expr": "150 - 75 * neg", "min": 60}}}
    demo.write_text(tomli_w.dumps(document), encoding="utf-8")
    result = invoke("run", demo)
    assert result.exit_code == 0, result.output
    assert "couplings.set.max_age cannot act" in result.flat and "book-replacement" in result.flat


def test_a_withdrawn_source_is_left_out_of_the_run_with_a_note_and_its_manifest(demo, tmp_path):
    (tmp_path / "demo" / "visitors-book.csv").write_text(
        "id,created_at,text\nv1,2026-09-03T10:00:00Z,What a hopeful morning by the river\n"
        "v2,2026-09-04T10:00:00Z,The flood wall plans make me so angry\n", encoding="utf-8")
    document = tomllib.loads(demo.read_text(encoding="utf-8"))
    document["sources"].append({**document["sources"][0], "id": "visitors-book", "path": "demo/visitors-book.csv",
                                "description": "two lines from a book by the door"})
    demo.write_text(tomli_w.dumps(document), encoding="utf-8")
    assert invoke("ingest", demo).exit_code == 0
    assert invoke("consent", "withdraw", demo, "visitors-book", "--yes").exit_code == 0
    result = invoke("run", demo)
    assert result.exit_code == 0, result.output
    assert "visitors-book: withdrawn on" in result.flat
    manifest = json.loads((tmp_path / "out" / "demo-2019" / "manifest.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in manifest["sources"]] == ["campaign-posts"]
    ingest = invoke("ingest", demo)
    assert ingest.exit_code == 0 and "visitors-book: withdrawn on" in ingest.flat and "remove it from the work file" in ingest.flat
    from sugarglass.provenance.verify import verify

    assert verify(tmp_path / "out" / "demo-2019" / "manifest.json").ok
