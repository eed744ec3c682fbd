"""What every command shares: the consoles, the one-line error, the options, the progress bar.

Nothing here imports the rest of Sugarglass at module level, so ``sugarglass --help`` loads only
typer and rich; each command imports what it needs when it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from ..errors import SugarglassError

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..store import Store
    from ..work import Work

# Posts, ids and file names are printed: ":two:" in one must stay text, not become an emoji
# (rich's default), and every user string goes through ``escape`` so "[red]" stays text too.
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

WorkArg = Annotated[Path, typer.Argument(help="The work file (TOML).", show_default=False, metavar="WORK")]
StoreOpt = Annotated[Path | None, typer.Option("--store", help="Use this store file instead of the work's.", metavar="FILE")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder (default: out/<work>-<seed> beside the work file).",
                                             metavar="FOLDER")]
StepsOpt = Annotated[int | None, typer.Option("--steps", "-n", min=1, metavar="TICKS",
                                              help="Ticks to run (default: the work's society.steps).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, metavar="SEED", help="Seed (default: the work's seed).")]
SchedulerOpt = Annotated[str | None, typer.Option("--scheduler", metavar="ADDRESS",
                                                  help="A dask.distributed scheduler, e.g. tcp://10.0.0.5:8786.")]


def friendly(command: Callable) -> Callable:
    """Errors that are the input's fault print as one clear message and exit 2."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SugarglassError as exc:
            fail(str(exc))
        except KeyError as exc:
            fail(str(exc.args[0]))

    return run


def fail(message: str) -> None:
    """Print one error line, the message as plain text whatever brackets or colons it holds."""
    errors.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def open_store(work: Work, store: Path | None) -> Store:
    from ..store import Store

    return Store(store or work.store_path)


def shown(path: Path) -> str:
    """A path as the artist would type it from here: relative when it is below the shell's folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def bar() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )


def print_version(asked: bool) -> None:
    """Eager, so ``sugarglass --version`` answers without a command."""
    if asked:
        from .. import __version__

        console.print(f"sugarglass {__version__}")
        raise typer.Exit()


def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and stop.", is_eager=True,
                                          callback=print_version)] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step, not only warnings.")] = False,
) -> None:
    """Living, data-driven artworks made with consent."""
    from rich.logging import RichHandler

    logger = logging.getLogger("sugarglass")
    if not logger.handlers:
        logger.addHandler(RichHandler(console=errors, show_path=False, markup=False))
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


def load_work(path: Path) -> Work:
    """The work file, validated (imported here, not above: it pulls in the society's kernels)."""
    from ..work import load_work as load

    return load(path)


@contextmanager
def kernels_notice(progress: Progress) -> Iterator[None]:
    """Say once, while numba compiles a kernel that is not in its cache yet, why the bar
    stands still: the first run compiles the society's and the canvas's kernels (about a
    minute on two cores); every later run loads them from the cache in a moment. numba sends
    its compile event only on a cache miss, so a warm run says nothing."""
    from numba.core import event

    said = False

    class Listener(event.Listener):
        def on_start(self, _event: object) -> None:
            nonlocal said
            if not said:
                said = True
                progress.console.print("compiling the society's and the painting's kernels "
                                       "(first run only: later runs load them from the cache)")

        def on_end(self, _event: object) -> None:
            pass

    listener = Listener()
    event.register("numba:compile", listener)
    try:
        yield
    finally:
        event.unregister("numba:compile", listener)
