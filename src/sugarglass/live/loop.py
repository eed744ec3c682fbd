"""The perpetual run: one tick every ``tick_seconds`` for as long as the gallery is open.

Each tick takes in what is new (changed files in watched sources, feeds that are due, visitors'
messages), scores and stores it, lets it steer the society through the couplings, sends the
levels to the hardware and to every viewer, and every ``checkpoint_every`` ticks saves all of
its state so that a restart — after a crash, a power cut or a SIGKILL — continues exactly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..affect import LanguageGuesser, make_analyzer
from ..couplings import compile_couplings
from ..ingest import VISITORS, ingest_feed, ingest_file, ingest_visitor, ingest_work
from ..outputs import Outputs, make_output
from ..readout import Readout
from ..run import params_per_tick, tick_parameters
from ..signal import LiveSignal, Signal, build_signal, neutral_signal
from ..society import measure
from ..store import FEELING_FIELDS, Store
from ..sources.feeds import FeedPoller
from ..work import FeedSource, Work
from .checkpoint import load_checkpoint, save_checkpoint
from .hub import Frame, LiveHub
from .settings import LiveSettings

log = logging.getLogger("sugarglass.live")


class TickLog:
    """``levels.jsonl`` of a live run, one line a tick. On resume it is cut back to the length
    it had at the checkpoint, so the file reads as if the run had never stopped."""

    def __init__(self, path: Path, keep_bytes: int | None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = path.open("a+b")
        if keep_bytes is not None:
            self.handle.truncate(keep_bytes)
        self.handle.seek(0, 2)

    def write(self, tick: int, levels: np.ndarray) -> None:
        self.handle.write(json.dumps({"tick": tick, "levels": levels.tolist()}, separators=(",", ":")).encode() + b"\n")

    def flush(self) -> int:
        """Make the lines so far durable; returns the file's length."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()


class Installation:
    """A work running live. ``run(stop)`` is the whole life of it; call it in its own thread
    (SQLite connections belong to the thread that opened them)."""

    def __init__(self, work: Work, settings: LiveSettings, hub: LiveHub, out_dir: Path,
                 store_path: Path | None = None, seed: int | None = None, max_ticks: int | None = None):
        self.work, self.settings, self.hub = work, settings, hub
        self.out_dir = out_dir
        self.store_path = store_path or work.store_path
        self.seed = work.seed if seed is None else seed
        self.max_ticks = max_ticks
        self.checkpoints = out_dir / "checkpoints"
        self.tick = 0
        self.checkpointed_at: int | None = None
        self.paused = False
        self.failed: BaseException | None = None

    # -- life ------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Prepare (resuming if a checkpoint exists), tick until ``stop`` is set or the tick
        limit is reached, then write a final checkpoint and close everything."""
        with ExitStack() as cleanup:
            try:
                self._prepare(cleanup)
                with self.outputs:
                    next_tick = time.monotonic()
                    while not stop.is_set() and (self.max_ticks is None or self.tick < self.max_ticks):
                        self._tick()
                        # a tick that ran late pushes the next one back rather than bunching ticks up
                        next_tick = max(next_tick + self.settings.tick_seconds, time.monotonic())
                        stop.wait(next_tick - time.monotonic())
            except BaseException as exc:
                self.failed = exc
                log.exception("the live run stopped on an error at tick %d", self.tick)
                raise
            if self.checkpointed_at != self.tick:
                self.checkpoint()

    def _prepare(self, cleanup: ExitStack) -> None:
        from ..canvas import Canvas
        from ..society import Society

        work = self.work
        self.store = cleanup.enter_context(Store(self.store_path))
        self.analyzer = make_analyzer(work.analyzer.name)
        self.guesser = LanguageGuesser()
        ingest_work(work, self.store, analyzer=self.analyzer,
                    sources=[s.id for s in work.sources if not isinstance(s, FeedSource)])  # feeds: polled
        base = self._stored_signal()
        self.apply_couplings = compile_couplings(work.couplings, tick_parameters())
        self.readout = Readout(work.readout)
        saved = load_checkpoint(self.checkpoints)
        if saved is None:
            self.society = Society.from_config(work.society, self.seed, work.base_dir)
            self.canvas = Canvas(work.canvas, self.seed)
            cursor, log_bytes = 0, 0
            self.watched: dict[str, dict[str, list[int]]] = {}
            log.info("starting %s afresh (seed %d)", work.name, self.seed)
        else:
            header = saved.header
            if header["work"] != work.name or header["seed"] != self.seed:
                raise ValueError(f"{self.checkpoints}: checkpoint of {header['work']!r} seed {header['seed']}, not {work.name!r} seed {self.seed}")
            self.society = Society.load(saved.society_path)
            self.canvas = Canvas.from_state({k.removeprefix("canvas."): v for k, v in saved.arrays.items() if k.startswith("canvas.")}, work.canvas)
            self.readout.restore({k.removeprefix("readout."): v for k, v in saved.arrays.items() if k.startswith("readout.")})
            self.tick, cursor, log_bytes = header["tick"], header["cursor"], header["levels_bytes"]
            self.watched = header["watched"]
            self.checkpointed_at = self.tick
            log.info("resuming %s at tick %d from %s", work.name, self.tick, saved.society_path.parent.name)
        self.defaults = self.society.default_params()
        self.signal = LiveSignal(base, work.couplings.when_exhausted, cursor)
        self.levels_log = TickLog(self.out_dir / "levels.jsonl", log_bytes)
        cleanup.callback(self.levels_log.close)
        self.pollers = {s.id: FeedPoller(s) for s in work.sources if isinstance(s, FeedSource)}
        for source_id, poller in self.pollers.items():
            cleanup.callback(poller.close)
            if saved is not None and source_id in saved.header.get("feeds", {}):
                poller.restore(saved.header["feeds"][source_id])
        self.outputs = Outputs([make_output(c, self.out_dir) for c in work.outputs])
        self.hub.overlay.work, self.hub.overlay.seed = work.name, self.seed
        self._update_source_counts()
        self.withdrawals_seen = len(self.store.withdrawals())
        if saved is None:
            self.store.record_output(self.out_dir, None, work.name, [*work.signal_sources, VISITORS], kind="live")

    # -- one tick --------------------------------------------------------------------------------

    def _tick(self) -> None:
        for command in self.hub.take_commands():
            self.paused = command.action == "pause"
            log.info("%s at tick %d", command.action, self.tick)
        self.hub.overlay.paused = self.paused
        self._follow_withdrawals()
        fresh, ripples = self._take_in()
        if self.paused:
            return
        values = self.signal.next(fresh)
        env = {name: np.array([value]) for name, value in values.items()} | {"tick": np.array([float(self.tick)])}
        columns = self.apply_couplings(env)
        params = params_per_tick(columns, self.defaults)[0] if columns else self.defaults
        self.society.step(params)
        metrics = {k: float(v) for k, v in measure(self.society).items() if k != "tick"}
        levels = self.readout(self.society)
        self.outputs.send(self.tick, levels, metrics)
        self.levels_log.write(self.tick, levels)
        self.canvas.step(levels)
        step = max(1, self.work.canvas.cells_per_pitch // 4)
        field = self.canvas.colour_temperature[::step, ::step].astype(np.float32)
        self.hub.publish(Frame(self.tick, levels, field, ripples), metrics)
        overlay = self.hub.overlay
        overlay.tick, overlay.population = self.tick, int(metrics["population"])
        overlay.price = metrics["price_geomean"]
        self.tick += 1
        if fresh is not None or ripples:
            log.info(json.dumps({"tick": self.tick - 1, "fresh_posts": 0 if fresh is None else len(fresh["compound"]),
                                 "ripples": len(ripples), "population": overlay.population}))
        elif self.tick % self.settings.heartbeat_ticks == 0:
            log.info(json.dumps({"tick": self.tick - 1, "population": overlay.population, "lit": int((levels > 0).sum())}))
        if self.tick % self.settings.checkpoint_every == 0:
            self.checkpoint()

    def _take_in(self) -> tuple[dict[str, np.ndarray] | None, tuple[int, ...]]:
        """Ingest what is new; returns the new feelings (None if nothing came) and the elements
        where visitors' words ripple."""
        ingest_ids: list[int] = []
        for source_id in self.settings.watch:
            source = self.work.source(source_id)
            marks = self.watched.setdefault(source_id, {})
            path = self.work.resolve(source.path)
            files = [path] if not path.is_dir() else sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            for file in files:
                try:
                    stat = file.stat()
                except FileNotFoundError:
                    continue
                mark = [stat.st_mtime_ns, stat.st_size]
                if marks.get(str(file)) == mark:
                    continue
                try:
                    result = ingest_file(self.work, source, file, self.store, self.analyzer, self.guesser,
                                         id_prefix=f"{file.name}:" if path.is_dir() else "")
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the installation
                    log.error("watched %s: %s", file, exc)
                    continue
                finally:
                    marks[str(file)] = mark
                if result.added:
                    ingest_ids.append(result.ingest_id)
        for source_id, poller in self.pollers.items():
            now = time.time()
            if not poller.due(now):
                continue
            fetched = poller.poll(now)
            if fetched is None:
                continue
            try:
                result = ingest_feed(self.work, self.work.source(source_id), self.store, self.analyzer, self.guesser,
                                     fetched, poller.report)
            except Exception as exc:  # noqa: BLE001 - a feed's fault must not stop the installation
                log.error("feed %s: %s", source_id, exc)
                continue
            if result.added:
                ingest_ids.append(result.ingest_id)
        ripples: list[int] = []
        for message in self.hub.take_visitors():
            try:
                result = ingest_visitor(self.work, self.store, self.analyzer, self.guesser,
                                        message.receipt, message.text, message.scope, message.received_at)
            except Exception as exc:  # noqa: BLE001
                log.error("a visitor's message could not be stored: %s", exc)
                continue
            if result.added:
                ingest_ids.append(result.ingest_id)
                ripples.append(int(result.file_sha256[:8], 16) % self.work.readout.elements)
        if not ingest_ids:
            return None, tuple(ripples)
        self._update_source_counts()
        parts = [self.store.feelings_of_ingest(i) for i in ingest_ids]
        return {name: np.concatenate([p[name] for p in parts]) for name in FEELING_FIELDS}, tuple(ripples)

    def _stored_signal(self) -> Signal:
        feelings = self.store.feelings(self.work.signal_sources)
        if len(feelings) == 0:
            log.warning("no stored feelings: the run follows a neutral signal until words come")
            return neutral_signal()
        return build_signal(feelings, self.work.signal)

    def _follow_withdrawals(self) -> None:
        """A withdrawal made elsewhere (the admin page, the command line) reaches this run at
        the next tick: the stored signal is rebuilt without the data, and a checkpoint is
        written at once so that no earlier one is the newest."""
        count = len(self.store.withdrawals())
        if count == self.withdrawals_seen:
            return
        self.withdrawals_seen = count
        self.signal = LiveSignal(self._stored_signal(), self.signal.rule, self.signal.cursor)
        self._update_source_counts()
        log.info(json.dumps({"tick": self.tick, "withdrawal": "signal rebuilt without the withdrawn data"}))
        self.checkpoint()

    def _update_source_counts(self) -> None:
        self.hub.overlay.sources = {source: c["posts"] for source, c in self.store.counts().items()}

    # -- state -------------------------------------------------------------------------------------

    def checkpoint(self) -> Path:
        """Save everything needed to continue exactly from this tick."""
        arrays = {f"canvas.{k}": v for k, v in self.canvas.state().items()}
        arrays |= {f"readout.{k}": v for k, v in self.readout.state().items()}
        header = {
            "work": self.work.name, "seed": self.seed, "tick": self.tick, "cursor": self.signal.cursor,
            "levels_bytes": self.levels_log.flush(), "watched": self.watched,
            "feeds": {source_id: poller.state() for source_id, poller in self.pollers.items()},
        }
        path = save_checkpoint(self.checkpoints, self.society, arrays, header)
        self.checkpointed_at = self.tick
        log.info(json.dumps({"tick": self.tick, "checkpoint": path.name}))
        return path


__all__ = ["Installation", "TickLog", "VISITORS"]
