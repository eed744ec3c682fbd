"""Checkpoints that survive damage: K generations with checksums, fallback, withdrawal in all."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from support import DEMO_WORK, small_demo_work
from sugarglass.errors import CheckpointError
from sugarglass.live import checkpoint as checkpoints
from sugarglass.live.checkpoint import generations, load_checkpoint, load_generation, scrub_sources
from sugarglass.live.hub import LiveHub
from sugarglass.live.loop import Installation
from sugarglass.live.settings import LiveSettings
from sugarglass.provenance.manifest import sha256_file
from sugarglass.store import Store
from sugarglass.work import load_work

SAVED_AT = 15  # the base run checkpoints at ticks 5, 10 and 15: generations 0, 1 and 2
END = 25


def make_work(folder: Path, extra: bool = False, **live) -> Path:
    """The demo work, small and fast; ``extra`` adds a second copy of its posts as source
    "extra-posts", to withdraw while the demo's own source keeps the work runnable."""
    sources = tomllib.loads(DEMO_WORK.read_text(encoding="utf-8"))["sources"]
    if extra:
        sources.append(sources[0] | {"id": "extra-posts"})
    return small_demo_work(folder, {"tick_seconds": 0.001, "checkpoint_every": 5, **live}, sources=sources)


def run(work_file: Path, out: Path, max_ticks: int, **settings) -> Installation:
    work = load_work(work_file)
    installation = Installation(work, work.live.model_copy(update=settings), LiveHub(), out, max_ticks=max_ticks)
    installation.run(threading.Event())
    return installation


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    """A work, its run to tick 15 (three generations), and an unbroken run to the end to compare with."""
    folder = tmp_path_factory.mktemp("base")
    work_file = make_work(folder)
    run(work_file, folder / "saved", SAVED_AT)
    run(work_file, folder / "reference", END)
    return {"work": work_file, "saved": folder / "saved", "reference": folder / "reference"}


@pytest.fixture
def out(base, tmp_path) -> Path:
    """A copy of the base run's folder, to damage."""
    shutil.copytree(base["saved"], tmp_path / "out")
    return tmp_path / "out"


def generation(out: Path, number: int) -> Path:
    return out / "checkpoints" / f"generation-{number:08d}"


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def unloadable_society(target: Path) -> None:
    """A society.npz whose checksum is right but which is no society: written bad, not damaged later."""
    shutil.copyfile(target / "live.npz", target / "society.npz")
    sums = json.loads((target / "checksums.json").read_text())
    sums["sha256"]["society.npz"] = [sha256_file(target / "society.npz")]
    (target / "checksums.json").write_text(json.dumps(sums))


def cut_short_save(target: Path) -> None:
    """What a kill during a save leaves: a newer generation with a society file and no checksums."""
    target.mkdir()
    (target / "society.npz").write_bytes(b"PK\x03\x04 half of a file")


def assert_continues_exactly(base: dict, out: Path, installation: Installation) -> None:
    """The resumed run's levels and final society are the unbroken run's, bit for bit."""
    assert installation.failed is None
    assert (out / "levels.jsonl").read_bytes() == (base["reference"] / "levels.jsonl").read_bytes()
    ours, theirs = load_checkpoint(out / "checkpoints"), load_checkpoint(base["reference"] / "checkpoints")
    assert ours.header["tick"] == theirs.header["tick"] == END
    assert ours.society_path.read_bytes() == theirs.society_path.read_bytes()


DAMAGE = {
    "truncated live.npz": (lambda out: truncate(generation(out, 2) / "live.npz"), "generation-00000002/live.npz: checksum mismatch"),
    "flipped byte in live.npz": (lambda out: flip(generation(out, 2) / "live.npz"), "generation-00000002/live.npz: checksum mismatch"),
    "truncated society.npz": (lambda out: truncate(generation(out, 2) / "society.npz"), "generation-00000002/society.npz: checksum mismatch"),
    "flipped byte in society.npz": (lambda out: flip(generation(out, 2) / "society.npz"), "generation-00000002/society.npz: checksum mismatch"),
    "missing society.npz": (lambda out: (generation(out, 2) / "society.npz").unlink(), "generation-00000002/society.npz: missing"),
    "missing live.npz": (lambda out: (generation(out, 2) / "live.npz").unlink(), "generation-00000002/live.npz: missing"),
    "checksums not JSON": (lambda out: (generation(out, 2) / "checksums.json").write_text("{\"sha"), "generation-00000002/checksums.json: unreadable"),
    "checksums of the wrong shape": (lambda out: (generation(out, 2) / "checksums.json").write_text("[1, 2]"), "generation-00000002/checksums.json: not a checksum list"),
    "society passes its checksum but does not load": (lambda out: unloadable_society(generation(out, 2)), "generation-00000002/society.npz: passes its checksum but does not load"),
    "current.json names a missing generation": (lambda out: shutil.rmtree(generation(out, 2)), "checkpoints/current.json names generation 2, which is missing"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_newest_generation_falls_back_to_the_one_before(base, out, damage, caplog):
    do, warning = DAMAGE[damage]
    do(out)
    with caplog.at_level(logging.INFO, logger="sugarglass.live"):
        installation = run(base["work"], out, END)
    assert warning in caplog.text
    if "current.json" not in warning:
        assert "resuming from generation 1 (tick 10)" in caplog.text
    assert "resuming demo at tick 10 from generation-00000001" in caplog.text, "not a fresh start"
    assert_continues_exactly(base, out, installation)


@pytest.mark.parametrize("pointer", ['{"generation": 2', "\x00\x01 not json", '{"generation": "2"}', "[2]", '{"generation": true}',
                                     '{"generation": 7}'])
def test_current_json_is_only_a_hint(base, out, pointer, caplog):
    (out / "checkpoints" / "current.json").write_text(pointer)
    with caplog.at_level(logging.INFO, logger="sugarglass.live"):
        saved = load_checkpoint(out / "checkpoints")
        assert saved.header["tick"] == SAVED_AT, "the newest intact generation, whatever current.json says"
        installation = run(base["work"], out, END)
    assert "checkpoints/current.json" in caplog.text
    assert "resuming demo at tick 15 from generation-00000002" in caplog.text
    assert_continues_exactly(base, out, installation)
    assert json.loads((out / "checkpoints" / "current.json").read_text())["generation"] == 4, "rewritten whole by the next save"


def test_a_save_cut_short_by_a_kill_is_passed_over_then_replaced(base, out, caplog):
    cut_short_save(generation(out, 3))
    with caplog.at_level(logging.WARNING, logger="sugarglass.live"):
        installation = run(base["work"], out, END)
    assert "generation-00000003/checksums.json: missing" in caplog.text
    assert "resuming from generation 2 (tick 15)" in caplog.text
    assert_continues_exactly(base, out, installation)
    kept = generations(out / "checkpoints")
    assert [n for n, _ in kept] == [4, 3, 2], "the cut-short generation 3 was written again, whole"
    assert [load_generation(path).header["tick"] for _, path in kept] == [25, 20, 15]


def test_all_generations_damaged_is_one_line_that_says_what_to_do(base, out):
    for number in range(3):
        flip(generation(out, number) / ("live.npz" if number % 2 else "society.npz"))
    work = load_work(base["work"])
    installation = Installation(work, work.live, LiveHub(), out, max_ticks=END)
    with pytest.raises(CheckpointError) as caught:
        installation.run(threading.Event())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"no usable checkpoint in {out / 'checkpoints'} (3 damaged: ")
    assert "checkpoints/generation-00000002/society.npz: checksum mismatch" in message
    assert "checkpoints/generation-00000001/live.npz: checksum mismatch" in message
    assert message.endswith("move the folder aside to start afresh, or restore it from a backup")
    assert installation.failed is caught.value
    assert len(generations(out / "checkpoints")) == 3, "nothing is removed: a technician may still rescue them"


def test_nothing_to_resume_from_means_starting_afresh(tmp_path, caplog):
    folder = tmp_path / "checkpoints"
    assert load_checkpoint(folder) is None, "no folder"
    folder.mkdir()
    assert load_checkpoint(folder) is None, "an empty folder"
    cut_short_save(folder / "generation-00000000")
    assert load_checkpoint(folder) is None, "only a first save cut short"
    (folder / "current.json").write_text('{"generation": 0}')
    with pytest.raises(CheckpointError, match="1 damaged"):
        load_checkpoint(folder)  # once a checkpoint was named current, losing it is not a fresh start
    shutil.rmtree(folder / "generation-00000000")
    with caplog.at_level(logging.WARNING, logger="sugarglass.live"):
        assert load_checkpoint(folder) is None, "no generation folders at all"
    assert "no generation folders at all; starting afresh" in caplog.text


def test_only_the_newest_k_generations_are_kept(base, tmp_path):
    assert LiveSettings().checkpoint_keep == 3
    assert [n for n, _ in generations(base["saved"] / "checkpoints")] == [2, 1, 0]
    with pytest.raises(ValueError):
        LiveSettings(checkpoint_keep=0)
    out = tmp_path / "out"
    run(base["work"], out, END, checkpoint_keep=2)
    assert [n for n, _ in generations(out / "checkpoints")] == [4, 3]
    run(base["work"], out, END + 5, checkpoint_keep=1)
    assert [n for n, _ in generations(out / "checkpoints")] == [5]


# -- withdrawal --------------------------------------------------------------------------------


@pytest.fixture
def watched(tmp_path) -> tuple[Path, Path]:
    """A run that watches the extra posts' file: every generation holds the file's marks. Returns
    the work file to resume with once they are withdrawn (the artist takes the source out)."""
    work_file = make_work(tmp_path, extra=True, watch=["extra-posts"])
    out = tmp_path / "out"
    run(work_file, out, SAVED_AT)
    assert all(holds_source(path) for _, path in generations(out / "checkpoints"))
    return make_work(tmp_path), out


def holds_source(target: Path) -> bool:
    return "extra-posts" in load_generation(target).header["watched"]


def test_a_withdrawal_scrubs_every_kept_generation_and_each_still_loads(watched):
    from sugarglass.erasure import withdraw_source

    work_file, out = watched
    with Store(load_work(work_file).store_path) as store:
        done = withdraw_source(store, "extra-posts", "asked to by the authors")
    kept = generations(out / "checkpoints")
    assert sorted(done.checkpoints_rewritten) == sorted(path / "live.npz" for _, path in kept) and len(kept) == 3
    assert not any(holds_source(path) for _, path in kept)
    installation = run(work_file, out, SAVED_AT + 5)
    assert installation.failed is None and installation.tick == SAVED_AT + 5


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


@pytest.mark.parametrize("kill_at", range(9))  # three writes a generation, three generations
def test_a_kill_mid_scrub_leaves_every_generation_loadable_and_the_newest_scrubbed_first(watched, kill_at, monkeypatch):
    _, out = watched
    folder = out / "checkpoints"
    real, calls = checkpoints.write_atomic, []

    def write_atomic(path, data):
        if len(calls) == kill_at:
            raise Killed
        calls.append(path)
        return real(path, data)

    monkeypatch.setattr(checkpoints, "write_atomic", write_atomic)
    with pytest.raises(Killed):
        scrub_sources(folder, {"extra-posts"})
    monkeypatch.undo()
    holds = [holds_source(path) for _, path in generations(folder)]  # raises if one is damaged
    assert len(holds) == 3 and holds == sorted(holds), "scrubbed newest first: no fallback reaches back past a scrubbed one"
    scrub_sources(folder, {"extra-posts"})  # the withdrawal run again finishes the job
    assert not any(holds_source(path) for _, path in generations(folder))


def test_a_damaged_generation_that_cannot_be_scrubbed_is_removed(watched):
    _, out = watched
    flip(generation(out, 1) / "live.npz")
    cut_short_save(generation(out, 3))
    rewritten = scrub_sources(out / "checkpoints", {"extra-posts"})
    assert rewritten == [generation(out, 2) / "live.npz", generation(out, 0) / "live.npz"]
    assert [n for n, _ in generations(out / "checkpoints")] == [2, 0]


def test_a_checkpoint_older_than_a_withdrawal_never_brings_its_marks_back(watched):
    work_file, out = watched
    with Store(load_work(work_file).store_path) as store:
        store.withdraw("extra-posts", "withdrawn from the store, the checkpoints not yet scrubbed")
    run(work_file, out, SAVED_AT + 5)
    newest = generations(out / "checkpoints")[0][1]
    assert load_generation(newest).header["tick"] == SAVED_AT + 5
    assert not holds_source(newest), "the resumed run dropped the marks on loading, and writes none back"


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("serve", [["--no-server"], ["--port", "0"]])
def test_the_live_command_says_no_usable_checkpoint_in_one_line(base, out, serve):
    for number in range(3):
        truncate(generation(out, number) / "live.npz")
    done = subprocess.run(
        [sys.executable, "-m", "sugarglass", "live", str(base["work"]), "--out", str(out), "--max-ticks", "30", *serve],
        cwd=base["work"].parent, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "no usable checkpoint in" in done.stderr and "restore it from a backup" in done.stderr
    error = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(error) == 1 and "3 damaged" in error[0], done.stderr
