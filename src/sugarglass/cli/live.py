"""``sugarglass live``: the installation, for as long as the gallery is open."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from .common import OutOpt, SeedOpt, StoreOpt, WorkArg, console, fail, friendly, load_work


@friendly
def live(
    work_file: WorkArg,
    seed: SeedOpt = None,
    out: OutOpt = None,
    store: StoreOpt = None,
    max_ticks: Annotated[int | None, typer.Option("--max-ticks", min=1, help="Stop after this many ticks in all (resumes count).")] = None,
    no_server: Annotated[bool, typer.Option("--no-server", help="Drive the outputs only: no live page, no visitors.")] = False,
    host: Annotated[str | None, typer.Option(help="Serve on this address (default: the work's live.host).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Serve on this port (default: live.port).")] = None,
) -> None:
    """Run the work forever: new words enter as they come, the painting is served live, and
    every few ticks a checkpoint lets a restart carry on exactly. SIGTERM or Ctrl-C stops it
    cleanly after a final checkpoint."""
    import signal as signals
    import threading

    from ..live.hub import LiveHub
    from ..live.loop import Installation

    work = load_work(work_file)
    seed = work.seed if seed is None else seed
    settings = work.live.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    folder = out or work.base_dir / "out" / f"{work.name}-{seed}-live"
    hub = LiveHub(work.readout.columns, work.readout.rows)
    installation = Installation(work, settings, hub, folder, store or work.store_path, seed, max_ticks)
    stop = threading.Event()
    logging.getLogger("sugarglass").setLevel(logging.INFO)
    if no_server:
        for number in (signals.SIGTERM, signals.SIGINT):
            signals.signal(number, lambda *_: stop.set())
        installation.run(stop)
        console.print(f"stopped at tick {installation.tick}; checkpoint in {installation.checkpoints}")
        return
    from ..live.server import make_app, make_server

    def run_then_close() -> None:
        try:
            installation.run(stop)
        except BaseException:  # noqa: BLE001 - reported by the main thread below
            pass
        finally:
            server.should_exit = True

    thread = threading.Thread(target=run_then_close, name="sugarglass-live")
    from ..affect import make_analyzers

    app = make_app(hub, settings, store or work.store_path, canvas=work.canvas, on_shutdown=stop.set, state_dir=folder,
                   analyzer=make_analyzers(work.analyzer), non_english=work.analyzer.non_english,
                   guess_among=work.analyzer.guess_among)
    server = make_server(app, settings.host, settings.port)
    thread.start()
    try:
        server.run()
    finally:
        stop.set()
        thread.join()
    if installation.failed is not None:
        fail(f"the live run stopped at tick {installation.tick}: {installation.failed}")
    console.print(f"stopped at tick {installation.tick}; checkpoint in {installation.checkpoints}")


