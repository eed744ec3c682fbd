"""The command line, end to end on a copy of the demo work: real store, real files."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import DEMO_WORK, source
from sugarglass.cli import app

runner = CliRunner()


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(DEMO_WORK.parent / "demo", tmp_path / "demo")
    work = tmp_path / "demo.toml"
    shutil.copy(DEMO_WORK, work)
    return work


def invoke(*args: str):
    """Run the CLI; the output comes back with rich's line wrapping undone."""
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    result.flat = " ".join(result.output.split())
    return result


def test_ingest_feelings_export_consent_and_withdraw(demo, tmp_path):
    first = invoke("ingest", demo)
    assert first.exit_code == 0, first.output
    assert "campaign-posts" in first.flat and "336" in first.flat and "6 duplicate text" in first.flat
    again = invoke("ingest", demo)
    assert again.exit_code == 0 and "file unchanged" in again.flat

    shown = invoke("feelings", demo, "--out", tmp_path / "out")
    assert shown.exit_code == 0, shown.flat
    assert "signal:" in shown.flat and "window 12h" in shown.flat
    assert (tmp_path / "out" / "signal.png").read_bytes().startswith(b"\x89PNG")

    exported = invoke("feelings", "export", demo, "--csv", tmp_path / "feelings.csv")
    assert exported.exit_code == 0, exported.flat
    with (tmp_path / "feelings.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 336
    assert set(rows[0]) == {"source", "post_id", "created_at", "language", "non_english", "compound", "compnorm", "pos", "neg", "neu", "analyzer"}
    assert rows[0]["post_id"] == "p0001" and rows[0]["created_at"].endswith("Z")
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)

    listed = invoke("consent", "list", demo)
    assert listed.exit_code == 0 and "in force" in listed.flat and "CC0-1.0" in listed.flat

    withdrawn = invoke("consent", "withdraw", demo, "campaign-posts", "--reason", "test", "--yes")
    assert withdrawn.exit_code == 0 and "336 posts and 336 feelings deleted" in withdrawn.flat
    skipped = invoke("ingest", demo)  # a withdrawn source is left out with a note, not a stop
    assert skipped.exit_code == 0 and "campaign-posts: withdrawn on" in skipped.flat and "skipped" in skipped.flat
    refused = invoke("ingest", demo, "--source", "campaign-posts")
    assert refused.exit_code == 2 and "was withdrawn" in refused.flat
    nothing = invoke("run", demo, "--steps", "2")
    assert nothing.exit_code == 2 and "every source of demo has been withdrawn" in nothing.flat
    listed = invoke("consent", "list", demo)
    assert "withdrawn" in listed.flat and "336 posts and 336 feelings removed (test)" in listed.flat


def test_errors_are_one_clear_line_and_exit_2(make_work, tmp_path):
    bare = make_work({"id": "a", "kind": "csv", "path": "a.csv"})
    result = invoke("ingest", bare)
    assert result.exit_code == 2
    assert "sources[a].consent: is missing" in result.flat and str(bare) in result.flat
    (tmp_path / "a.csv").write_bytes(b"text\nok\n\xff\n")
    work = make_work(source("a", "csv", "a.csv"))
    result = invoke("ingest", work)
    assert result.exit_code == 2 and "a.csv, line 3: not valid utf-8" in result.flat
    result = invoke("ingest", work, "--source", "zz")
    assert result.exit_code == 2 and "has no source 'zz'" in result.flat
    result = invoke("feelings", work)
    assert result.exit_code == 2 and "run `sugarglass ingest WORK` first" in result.flat
    result = invoke("consent", "withdraw", work, "a")
    assert result.exit_code == 2 and "no source 'a' in the store" in result.flat


def test_simulate_writes_metrics_and_plots(demo, tmp_path):
    result = invoke("simulate", demo, "--steps", "5", "--out", tmp_path / "society")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "society" / "metrics.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("tick,population")
    assert (tmp_path / "society" / "population.png").read_bytes().startswith(b"\x89PNG")
    bad = invoke("simulate", demo, "--steps", "0")
    assert bad.exit_code == 2


def test_version_answers_without_a_command():
    from sugarglass import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"sugarglass {__version__}"


def test_reading_a_work_file_does_not_import_the_renderer():
    # the canvas package loads its parts on first use: `sugarglass --help` and every command
    # that only reads the work file no longer import scipy.interpolate (most of the time `--help` took)
    import subprocess
    import sys

    probe = "import sys, sugarglass.cli; print('scipy.interpolate' in sys.modules, 'sugarglass.canvas.media' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert found == ["False", "False"]


def test_user_strings_print_as_they_are_not_as_markup_or_emoji(make_work, tmp_path, monkeypatch):
    # rich reads "[red]" as a style and ":two:" as an emoji code; a file name, a store path, an
    # activity type in someone's outbox and an error message must all print as written
    monkeypatch.chdir(tmp_path)
    hostile = "a[red]b:two:"
    (tmp_path / f"{hostile}.csv").write_bytes(b"text\nok\n\xff\n")
    outbox = {"type": "OrderedCollection", "orderedItems": [{"type": f"[bold]{hostile}"}]}
    (tmp_path / "outbox.json").write_text(__import__("json").dumps(outbox), encoding="utf-8")
    failing = make_work(source("a", "csv", f"{hostile}.csv"), name="failing")
    result = invoke("ingest", failing.name)
    assert result.exit_code == 2 and f"{hostile}.csv, line 3: not valid utf-8" in result.flat

    skipping = make_work(source("a", "csv", f"{hostile}.csv", on_error="skip"), source("m", "mastodon-outbox", "outbox.json"),
                         name="skipping")
    result = invoke("ingest", skipping.name, "--store", f"{hostile}.sqlite")
    assert result.exit_code == 0, result.output
    assert f"into {hostile}.sqlite" in result.flat
    assert f"skipped {hostile}.csv:3: not valid utf-8" in result.flat
    assert f"1 activity [bold]{hostile}" in result.flat
    assert "2️⃣" not in result.output


def test_an_export_never_hands_a_spreadsheet_a_formula(make_work, tmp_path):
    from support import source

    (tmp_path / "a.csv").write_text('id,text\n"=HYPERLINK(""http://x"")",hope\n"\t=1+1",joy\n"@SUM(A1)",rain\nplain,sun\n',
                                    encoding="utf-8")
    work = make_work(source("a", "csv", "a.csv", id_column="id"))
    assert invoke("ingest", work).exit_code == 0
    exported = invoke("feelings", "export", work, "--csv", tmp_path / "out.csv")
    assert exported.exit_code == 0, exported.flat
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        ids = sorted(row["post_id"] for row in csv.DictReader(handle))
    assert ids == sorted(["'=HYPERLINK(\"http://x\")", "'\t=1+1", "'@SUM(A1)", "plain"])
