"""First contact: how long `sugarglass --help` and `sugarglass --version` take, against the
version before the command line became a package of lazily imported modules (commit 32e4c31).

Both run in this script, in fresh interpreters, on the same machine: the reference from that
commit's `src/` (extracted with `git archive` into a temporary folder and put first on
PYTHONPATH), the current from the installed package. Each command runs REPEATS times after one
warm-up; the median wall time is printed with the ratio. Run:

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "32e4c31"
REPEATS = 15
COMMANDS = (["--help"], ["--version"], ["run", "--help"])


def reference_tree(folder: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", REFERENCE, "src"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def median_seconds(arguments: list[str], pythonpath: str | None) -> float:
    environment = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else dict(os.environ)
    command = [sys.executable, "-c", "import sys; from sugarglass.cli import app; app(sys.argv[1:], prog_name='sugarglass')", *arguments]
    times = []
    for attempt in range(REPEATS + 1):
        start = time.perf_counter()
        subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if attempt:  # the first run warms the file cache
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    console = Console()
    table = Table(title=f"sugarglass start-up, median of {REPEATS} runs (reference: {REFERENCE})", title_justify="left")
    for column in ("command", "reference s", "now s", "ratio"):
        table.add_column(column, justify="left" if column == "command" else "right")
    with tempfile.TemporaryDirectory() as folder:
        old = str(reference_tree(Path(folder)))
        for arguments in COMMANDS:
            before, now = median_seconds(arguments, old), median_seconds(arguments, None)
            table.add_row("sugarglass " + " ".join(arguments), f"{before:.3f}", f"{now:.3f}", f"{before / now:.1f}x faster")
    console.print(table)
    console.print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
