"""The perpetual run: one tick every ``tick_seconds`` for as long as the gallery is open.

Each tick stores what is new (changed files in watched sources, feeds and accounts that are due,
what Jetstream has said of an account since the last tick), then takes
in everything stored since the last tick — visitors' messages among it, stored by the form before
it gave their receipts — lets it steer the society through the couplings, sends the levels to the
hardware (behind the safety limits) and to every viewer, and every ``checkpoint_every`` ticks
saves all of its state, including its place in the store, so that a restart — after a crash, a
power cut or a SIGKILL — continues exactly and takes in what came meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..affect import LanguageGuesser, make_analyzers
from ..couplings import compile_couplings, inert_couplings
from ..errors import SugarglassError
from ..ingest import VISITORS, ingest_account, ingest_feed, ingest_file, ingest_work, source_files, store_posts
from ..outputs import guarded, make_output
from ..provenance.embed import sidecar_path
from ..readout import Readout
from ..run import params_per_tick, tick_parameters
from ..signal import LiveSignal, Signal, build_signal, neutral_signal
from ..society import measure
from ..store import Store
from ..sources.accounts import AccountPoller
from ..sources.feeds import FeedFetch, FeedPoller
from ..sources.jetstream import Heard, JetstreamListener
from ..sources.report import ReadReport
from ..work import BlueskySource, FeedSource, PolledSource, Work
from .checkpoint import load_checkpoint, save_checkpoint, without_sources
from .hub import Frame, LiveHub
from .notify import Notifier
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


class GrowingFiles:
    """The SHA-256 of files the run appends to (its levels, a level output), kept up to date by
    hashing only what was added since the last look, so labelling them at every checkpoint costs
    what the file grew, not what it holds after a month. A file cut back (a resume) is hashed
    again from the start."""

    def __init__(self) -> None:
        self.seen: dict[Path, tuple[int, object]] = {}

    def digest(self, path: Path) -> tuple[int, str]:
        """(length now, SHA-256 of those bytes)."""
        size = path.stat().st_size
        offset, hasher = self.seen.get(path, (0, None))
        if hasher is None or size < offset:
            offset, hasher = 0, hashlib.sha256()
        with path.open("rb") as handle:
            handle.seek(offset)
            remaining = size - offset
            while remaining > 0 and (chunk := handle.read(min(remaining, 1 << 20))):
                hasher.update(chunk)
                remaining -= len(chunk)
        self.seen[path] = (size - remaining, hasher)
        return size - remaining, hasher.hexdigest()


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
        self.notify = Notifier()
        self.growing = GrowingFiles()
        self.analyzer_record: dict | None = None
        hub.ready = False  # the visitor form waits until the run knows where it is in the store

    # -- life ------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Prepare (resuming if a checkpoint exists), tick until ``stop`` is set or the tick
        limit is reached, then write a final checkpoint and close everything."""
        with ExitStack() as cleanup:
            try:
                self._prepare(cleanup)
                cleanup.callback(self.notify.close)
                with self.outputs:
                    self.hub.ready = True
                    self.notify.ready(f"ticking from tick {self.tick}")
                    next_tick = time.monotonic()
                    while not stop.is_set() and (self.max_ticks is None or self.tick < self.max_ticks):
                        self._tick()
                        self.notify.alive(f"tick {self.tick}")
                        # a tick that ran late pushes the next one back rather than bunching ticks up
                        next_tick = max(next_tick + self.settings.tick_seconds, time.monotonic())
                        self._wait(stop, next_tick)
            except SugarglassError as exc:  # the input's fault, e.g. no usable checkpoint: the caller says it in one line
                self.failed = exc
                raise
            except BaseException as exc:
                self.failed = exc
                log.exception("the live run stopped on an error at tick %d", self.tick)
                raise
            self.notify.stopping(f"stopping at tick {self.tick}")
            if self.checkpointed_at != self.tick:
                self.checkpoint()

    def _wait(self, stop: threading.Event, until: float) -> None:
        """Wait for the next tick, still saying "alive" to the service manager and repeating the
        levels to the hardware (whose receivers switch off when the host falls silent) when
        ticks are further apart than either allows."""
        beat = min(self.notify.interval or math.inf, self.outputs.heartbeat_seconds)
        while not stop.is_set():
            left = until - time.monotonic()
            if left <= 0 or stop.wait(min(left, beat)):
                return
            if until - time.monotonic() > 0:
                self.notify.alive()
                self.outputs.heartbeat()

    def _prepare(self, cleanup: ExitStack) -> None:
        from ..canvas import Canvas
        from ..society import Society, load_society

        work = self.work
        self.store = cleanup.enter_context(Store(self.store_path))
        self.analyzer = make_analyzers(work.analyzer)
        self.guesser = LanguageGuesser(work.analyzer.guess_among)
        # a source withdrawn from the admin page stays out of every restart, rather than stopping
        # the installation until someone edits the work file
        withdrawn = {s.id: when for s in work.sources if (when := self.store.withdrawn_at(s.id))}
        for source_id, when in withdrawn.items():
            log.warning("source %r was withdrawn on %s: this run leaves it out", source_id, when)
        sources = [s for s in work.sources if s.id not in withdrawn]
        self.watching = [s for s in self.settings.watch if s in {source.id for source in sources}]
        ingest_work(work, self.store, analyzer=self.analyzer,
                    sources=[s.id for s in sources if not isinstance(s, PolledSource)])  # feeds, accounts: polled
        base = self._stored_signal()
        self.apply_couplings = compile_couplings(work.couplings, tick_parameters())
        for warning in inert_couplings(work.couplings, work.society):
            log.warning(warning)
        self.readout = Readout(work.readout)
        # a damaged generation is passed over for the one before; a checkpoint older than a
        # withdrawal never brings back the withdrawn source's feed state or file marks
        saved = load_checkpoint(self.checkpoints, open_society=load_society)
        if saved is not None:
            saved.header = without_sources(saved.header, self._withdrawn())
        if saved is None:
            self.society = Society.from_config(work.society, self.seed, work.base_dir)
            self.canvas = Canvas(work.canvas, self.seed)
            cursor, log_bytes = 0, 0
            self.watched: dict[str, dict[str, list[int]]] = {}
            log.info("starting %s afresh (seed %d)", work.name, self.seed)
            self._keep_earlier_levels()
        else:
            header = saved.header
            if header["work"] != work.name or header["seed"] != self.seed:
                raise ValueError(f"{self.checkpoints}: checkpoint of {header['work']!r} seed {header['seed']}, not {work.name!r} seed {self.seed}")
            self.society = saved.society
            self.canvas = Canvas.from_state({k.removeprefix("canvas."): v for k, v in saved.arrays.items() if k.startswith("canvas.")}, work.canvas)
            self.readout.restore({k.removeprefix("readout."): v for k, v in saved.arrays.items() if k.startswith("readout.")})
            self.tick, cursor, log_bytes = header["tick"], header["cursor"], header["levels_bytes"]
            self.watched = header["watched"]
            self.checkpointed_at = self.tick
            log.info("resuming %s at tick %d from %s", work.name, self.tick, saved.society_path.parent.name)
        self.defaults = self.society.default_params()
        self.signal = LiveSignal(base, work.couplings.when_exhausted, cursor)
        # the newest ingest already in the signal: whatever is stored after it (by this run, the
        # visitor form or a command-line ingest) enters at the next tick, after a restart too; the
        # store keeps it as well, for a start without a checkpoint
        kept = self.store.live_cursor(self.out_dir)
        if saved is not None and "taken_upto" in saved.header:
            self.taken_upto = int(saved.header["taken_upto"])
        else:
            self.taken_upto = self.store.last_ingest() if kept is None else kept
            self.store.set_live_cursor(self.out_dir, self.taken_upto)
        self.levels_log = TickLog(self.out_dir / "levels.jsonl", log_bytes)
        cleanup.callback(self.levels_log.close)
        self.pollers = {s.id: FeedPoller(s) if isinstance(s, FeedSource) else AccountPoller(s, self._cursor_of(s.id))
                        for s in sources if isinstance(s, PolledSource)}
        self.listeners: dict[str, JetstreamListener] = {}
        cleanup.callback(self._close_listeners)
        for source in sources:  # a restart listens at once, from the stored cursor, whenever the next poll is due
            known = self.store.account_signals(source.id) if isinstance(source, BlueskySource) and source.jetstream else None
            if known and not known["refused"] and known["signals"].get("did"):
                self._listen(source, known["signals"]["did"])
        for source_id, poller in self.pollers.items():
            cleanup.callback(poller.close)
            if saved is not None and source_id in saved.header.get("feeds", {}):
                poller.restore(saved.header["feeds"][source_id])
        self.outputs = guarded([make_output(c, self.out_dir) for c in work.outputs], work.safety, work.canvas,
                               self.settings.tick_seconds)
        if saved is not None and self.outputs.limiter is not None and any(k.startswith("safety.") for k in saved.arrays):
            self.outputs.limiter.restore({k.removeprefix("safety."): v for k, v in saved.arrays.items() if k.startswith("safety.")})
        self.hub.overlay.work, self.hub.overlay.seed = work.name, self.seed
        self._update_source_counts()
        self.withdrawals_seen = self.store.last_withdrawal()
        if saved is None:
            self.store.record_output(self.out_dir, None, work.name, [*work.signal_sources, VISITORS], kind="live")

    def _keep_earlier_levels(self) -> None:
        """A run starting afresh over an earlier one's levels (its checkpoints moved aside, or
        killed before its first) keeps them under a dated name instead of overwriting them."""
        earlier = self.out_dir / "levels.jsonl"
        if earlier.is_file() and earlier.stat().st_size:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(earlier.stat().st_mtime))
            kept = earlier.with_name(f"levels-until-{stamp}.jsonl")
            earlier.replace(kept)
            if sidecar_path(earlier).is_file():  # its manifest goes with it
                sidecar_path(earlier).replace(sidecar_path(kept))
            log.warning("an earlier run's levels.jsonl is kept as levels-until-%s.jsonl", stamp)

    # -- one tick --------------------------------------------------------------------------------

    def _tick(self) -> None:
        for command in self.hub.take_commands():
            self.paused = command.action == "pause"
            log.info("%s at tick %d", command.action, self.tick)
        self.hub.overlay.paused = self.paused
        self._follow_withdrawals()
        if self.paused:  # the hardware rests; what is stored meanwhile enters at the first tick after
            self.outputs.rest(self.tick)
            return
        fresh, ripples = self._take_in()
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
        """Ingest changed watched files and due feeds, then read everything stored since the
        last tick; returns the new feelings (None if nothing came) and the elements where
        visitors' words ripple. Visitors' messages are already in the store: the form stores
        them before it gives a receipt."""
        for source_id in self.watching:
            self._ingest_watched(source_id)
        for source_id, poller in self.pollers.items():
            now = time.time()
            if not poller.due(now):
                continue
            fetched = poller.poll(now)
            if fetched is None:
                continue
            source = self.work.source(source_id)
            try:
                if isinstance(fetched, FeedFetch):
                    ingest_feed(self.work, source, self.store, self.analyzer, self.guesser, fetched, poller.report)
                else:
                    result = ingest_account(self.work, source, self.store, self.analyzer, self.guesser, fetched, poller.report)
                    if result.skipped:
                        log.warning(result.note)
                        if source_id in self.listeners:  # it said no: nothing more is heard from it
                            self.listeners.pop(source_id).close()
                    elif isinstance(source, BlueskySource) and source.jetstream and source_id not in self.listeners:
                        self._listen(source, fetched.signals["did"])
            except Exception as exc:  # noqa: BLE001 - a source's fault must not stop the installation
                log.error("%s %s: %s", source.kind, source_id, exc)
        for source_id, listener in self.listeners.items():
            events = listener.take()
            try:
                self._store_heard(self.work.source(source_id), events)
            except Exception as exc:  # noqa: BLE001 - a busy store or a full disk: heard again at the next tick
                listener.give_back(events)
                log.error("jetstream %s: %s", source_id, exc)
        fresh = self.store.fresh_feelings(self.taken_upto, [*self.work.signal_sources, VISITORS])
        self.taken_upto = fresh.upto
        ripples = tuple(int(mark[:8], 16) % self.work.readout.elements for mark in fresh.visitors)
        if not len(fresh):
            return None, ripples
        counts = self.hub.overlay.sources
        self.hub.overlay.sources = {s: counts.get(s, 0) + fresh.sources.get(s, 0) for s in counts.keys() | fresh.sources.keys()}
        return fresh.feelings, ripples

    def _cursor_of(self, source_id: str):
        return lambda: self.store.source_cursor(source_id)

    def _listen(self, source: BlueskySource, did: str) -> None:
        """Hear the account through Jetstream from now on, from where the store says the last
        stored event was (so a restart replays what it missed), or from now on a first start:
        the poll that came before has read the account up to now."""
        kept = self.store.source_cursor(f"{source.id}#jetstream")
        self.listeners[source.id] = JetstreamListener(source, did, int(kept) if kept else None)
        log.info("jetstream %s: listening for %s", source.id, did)

    def _store_heard(self, source: BlueskySource, events: list[Heard]) -> None:
        """What Jetstream said since the last tick: posts their author deleted removed from the
        store first, then the new posts stored with the last event's time as the cursor, in one
        transaction (a post both made and deleted since the last tick is never stored). Killed
        between the two, the cursor has not moved, and the restart hears both again. An account
        whose last word in the ledger is a refusal has nothing it says stored."""
        if not events:
            return
        said = self.store.account_signals(source.id)
        if said is not None and said["refused"]:
            return
        if any(e.account_deleted for e in events):
            self.store.withdraw(source.id, reason=f"{source.actor}: the account was deleted (heard through Jetstream)")
            log.warning("jetstream %s: the account %s was deleted; its posts are withdrawn", source.id, source.actor)
            return
        deleted = [e.deleted for e in events if e.deleted is not None]
        posts = [e.post for e in events if e.post is not None and e.post.id not in deleted]
        last = str(events[-1].time_us)
        if deleted:
            removed = self.store.delete_posts(source.id, deleted, "deleted by their author (heard through Jetstream)")
            log.info(json.dumps({"tick": self.tick, "source": source.id, "deleted_by_author": removed}))
        if posts:
            digest = hashlib.sha256(f"jetstream {source.id} {posts[0].id} {last}".encode()).hexdigest()
            store_posts(self.work, source, self.store, self.analyzer, self.guesser, digest, posts,
                        ReadReport(f"{source.actor} (Jetstream)", "skip"), cursor=(f"{source.id}#jetstream", last))
        else:
            with self.store.transaction():
                self.store.set_source_cursor(f"{source.id}#jetstream", last)

    def _close_listeners(self) -> None:
        for listener in self.listeners.values():
            listener.close()

    def _ingest_watched(self, source_id: str) -> None:
        source = self.work.source(source_id)
        marks = self.watched.setdefault(source_id, {})
        path = self.work.resolve(source.path)
        for file in source_files(path):
            try:
                stat = file.stat()
            except FileNotFoundError:
                continue
            mark = [stat.st_mtime_ns, stat.st_size]
            if marks.get(str(file)) == mark:
                continue
            try:
                ingest_file(self.work, source, file, self.store, self.analyzer, self.guesser,
                            id_prefix=f"{file.name}:" if path.is_dir() else "")
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the installation
                log.error("watched %s: %s", file, exc)
            finally:
                marks[str(file)] = mark

    def _stored_signal(self) -> Signal:
        feelings = self.store.feelings(self.work.signal_sources)
        if len(feelings) == 0:
            log.warning("no stored feelings: the run follows a neutral signal until words come")
            return neutral_signal()
        return build_signal(feelings, self.work.signal)

    def _follow_withdrawals(self) -> None:
        """A withdrawal made elsewhere (the admin page, the command line, a visitor's receipt)
        reaches this run at the next tick. A withdrawn source's feed stops being polled and its
        files stop being watched; if it was part of the stored signal the signal is rebuilt
        without it, and a checkpoint is written at once so that no earlier one is the newest.
        A visitor's withdrawn message is gone from the store already and was never part of the
        stored signal, so it needs neither; a post its author deleted (heard through Jetstream)
        may be, so its source's signal is rebuilt too."""
        latest = self.store.last_withdrawal()
        if latest == self.withdrawals_seen:
            return
        gone = self.store.withdrawn_since(self.withdrawals_seen)
        deleted = self.store.deleted_since(self.withdrawals_seen) & set(self.work.signal_sources)
        self.withdrawals_seen = latest
        self._update_source_counts()
        if not gone and not deleted:
            return
        for source_id in gone & self.pollers.keys():
            self.pollers.pop(source_id).close()
        for source_id in gone & self.listeners.keys():
            self.listeners.pop(source_id).close()
        self.watching = [s for s in self.watching if s not in gone]
        self.signal = LiveSignal(self._stored_signal(), self.signal.rule, self.signal.cursor)
        log.info(json.dumps({"tick": self.tick, "withdrawn": sorted(gone), "withdrawal": "signal rebuilt without the withdrawn data"}))
        self.checkpoint()

    def _update_source_counts(self) -> None:
        self.hub.overlay.sources = {source: c["posts"] for source, c in self.store.counts().items()}

    # -- state -------------------------------------------------------------------------------------

    def checkpoint(self) -> Path:
        """Save everything needed to continue exactly from this tick."""
        arrays = {f"canvas.{k}": v for k, v in self.canvas.state().items()}
        arrays |= {f"readout.{k}": v for k, v in self.readout.state().items()}
        if self.outputs.limiter is not None:  # the plate's warmth and each element's on-time go on after a restart
            arrays |= {f"safety.{k}": v for k, v in self.outputs.limiter.state().items()}
        header = {
            "work": self.work.name, "seed": self.seed, "tick": self.tick, "cursor": self.signal.cursor,
            "levels_bytes": self.levels_log.flush(), "watched": self.watched, "taken_upto": self.taken_upto,
            "feeds": {source_id: poller.state() for source_id, poller in self.pollers.items()},
        }
        header = without_sources(header, self._withdrawn())  # a source withdrawn while this run ran
        path = save_checkpoint(self.checkpoints, self.society, arrays, header, keep=self.settings.checkpoint_keep)
        self.store.set_live_cursor(self.out_dir, self.taken_upto)
        try:
            self._label_growing()
        except (SugarglassError, OSError) as exc:  # the last sidecar still vouches for what it covered
            log.warning("the levels' manifest was not renewed at tick %d: %s", self.tick, exc)
        self.checkpointed_at = self.tick
        log.info(json.dumps({"tick": self.tick, "checkpoint": path.name}))
        return path

    def _withdrawn(self) -> set[str]:
        return self.store.withdrawn_since(0)

    def _label_growing(self) -> None:
        """Every file the run appends to gets a sidecar manifest vouching for what it holds at
        this checkpoint: the sources in the store now, every setting, the tick reached."""
        from ..provenance import build_manifest
        from ..provenance.embed import label_growing
        from ..run import analyzer_record, settings_sections

        stored = {row["source"] for row in self.store.consents() if not row["withdrawn_at"]}
        sources = [s for s in [*self.work.signal_sources, VISITORS] if s in stored]
        if self.analyzer_record is None:
            self.analyzer_record = analyzer_record(self.work)
        manifest = build_manifest(
            work=self.work, sources=self.store.provenance(sources), analyzer=self.analyzer_record, seed=self.seed,
            steps=self.tick, provenance=self.work.provenance,
            sections={**settings_sections(self.work), "live": {"tick": self.tick, **self.settings.model_dump(mode="json")}})
        for path in [self.levels_log.path, *(self.out_dir / c.path for c in self.work.outputs if getattr(c, "kind", "") == "levels")]:
            if path.is_file():
                length, digest = self.growing.digest(path)
                label_growing(path, manifest, length, digest)


__all__ = ["GrowingFiles", "Installation", "TickLog", "VISITORS"]
