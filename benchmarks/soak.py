"""An accelerated soak: a month of gallery ticks as fast as the machine runs them, with visitors,
a feed, withdrawals, a viewer and checkpoints, watching the installation's memory and open files.

The installation is the real thing — `sugarglass live` in its own process, serving on 127.0.0.1 —
run on a copy of the demo work with ticks as fast as they go. This script plays the gallery: a
visitor writes through the form every `--visit-every` ticks (one a minute of gallery time by
default), one in twenty withdraws with the receipt, a loopback RSS feed gains an item at every
poll, and one WebSocket viewer watches every frame. Once a gallery hour it samples the process's
resident memory and open file descriptors from /proc. Goal: flat after warm-up, under 1 MB of
growth per gallery hour. Run:

    .venv/bin/python benchmarks/soak.py [--days 30] [--gallery-tick-seconds 1]

It prints a table a gallery day, the growth after warm-up and the rates at which ticks, frames
and checkpoints kept up, and draws `docs/soak.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import tomli_w
import websockets
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
console = Console(emoji=False, highlight=False)
WORDS = ("hope", "river", "tired", "together", "angry", "grateful", "flood", "garden", "lost", "bright")


class Feed:
    """An RSS feed on loopback that has one more item every time it is fetched."""

    def __init__(self) -> None:
        self.items = 0
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path != "/feed.xml":  # no tdmrep.json: the publisher reserves nothing
                    self.send_error(404)
                    return
                feed.items += 1
                entries = "".join(
                    f"<item><title>update {i}</title><link>{feed.url.rsplit('/', 1)[0]}/{i}</link><guid>item-{i}</guid>"
                    f"<description>The {WORDS[i % 10]} campaign update number {i}: we keep going.</description></item>"
                    for i in range(max(0, feed.items - 20), feed.items)
                )
                body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>soak</title>{entries}</channel></rss>'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_work(folder: Path, feed_url: str, port: int, ticks: int) -> Path:
    shutil.copytree(REPO / "works" / "demo", folder / "demo")
    document = tomllib.loads((REPO / "works" / "demo.toml").read_text(encoding="utf-8"))
    document["sources"].append({
        "id": "soak-feed", "kind": "feed", "url": feed_url, "poll_seconds": 30, "on_error": "skip",
        "check_item_pages": False,
        "consent": {"granted_by": "the soak benchmark", "basis": "authored", "scope": "score", "licence": "CC0-1.0",
                    "granted_at": "2026-01-01", "evidence": "benchmarks/soak.py writes this feed itself"},
    })
    document["live"] = {"tick_seconds": 1e-6, "checkpoint_every": 60, "port": port, "heartbeat_ticks": 3600,
                        "visitor_limit": 10 * ticks, "withdraw_limit": 10 * ticks}
    path = folder / "soak.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def process_sample(pid: int) -> tuple[float, int, int]:
    """Resident memory (MB), open file descriptors and threads of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status)[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


@dataclass
class Gallery:
    """What the visitors and the viewer did, counted as they did it."""

    url: str
    receipts: list[str] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)
    refused: int = 0
    frames: int = 0
    last_frame_tick: float = -1.0

    def visit(self, client: httpx.Client, number: int) -> None:
        page = client.get(f"{self.url}/visit").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)[1]
        words = " ".join(WORDS[(number * k) % 10] for k in (1, 3, 7))
        response = client.post(f"{self.url}/api/visit", data={"text": f"I feel {words} today", "scope": "score", "csrf": token},
                               headers={"Origin": self.url, "Sec-Fetch-Site": "same-origin"})
        if response.status_code != 200:
            self.refused += 1
            return
        receipt = response.json()["receipt"]
        self.receipts.append(receipt)
        if number % 20 == 19:
            page = client.get(f"{self.url}/withdraw").text
            token = re.search(r'name="csrf" value="([^"]+)"', page)[1]
            done = client.post(f"{self.url}/api/withdraw", data={"receipt": receipt, "csrf": token},
                               headers={"Origin": self.url, "Sec-Fetch-Site": "same-origin"})
            if done.status_code == 200:
                self.withdrawn.add(receipt)

    def watch(self, stop: threading.Event) -> None:
        async def viewer() -> None:
            async with websockets.connect(self.url.replace("http", "ws") + "/ws", max_size=None) as ws:
                while not stop.is_set():
                    try:
                        message = await asyncio.wait_for(ws.recv(), 1.0)
                    except TimeoutError:
                        continue
                    self.frames += 1
                    self.last_frame_tick = float(np.frombuffer(message[8:16], "<f8")[0])

        try:
            asyncio.run(viewer())
        except (OSError, websockets.ConnectionClosed):
            pass  # the installation stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=30.0, help="gallery days to run")
    parser.add_argument("--gallery-tick-seconds", type=float, default=1.0, help="a tick's length in the gallery")
    parser.add_argument("--visit-every", type=int, default=60, help="ticks between visitors")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "soak.png")
    options = parser.parse_args()
    per_hour = round(3600 / options.gallery_tick_seconds)
    ticks = round(options.days * 24 * per_hour)
    folder = Path(tempfile.mkdtemp(prefix="sugarglass-soak-"))
    feed, port = Feed(), free_port()
    work = make_work(folder, feed.url, port, ticks)
    out = folder / "out"
    log = (folder / "live.log").open("wb")
    child = subprocess.Popen([sys.executable, "-m", "sugarglass", "live", str(work), "--out", str(out), "--max-ticks", str(ticks)],
                             cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    gallery = Gallery(f"http://127.0.0.1:{port}")
    client = httpx.Client(timeout=30)
    deadline = time.monotonic() + 120
    while True:
        try:
            client.get(f"{gallery.url}/api/state").raise_for_status()
            break
        except httpx.HTTPError:
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the installation did not start; see {folder / 'live.log'}") from None
            time.sleep(0.2)
    stop = threading.Event()
    threading.Thread(target=gallery.watch, args=(stop,), daemon=True).start()
    samples: list[dict] = []
    started, tick, visitors = time.monotonic(), 0, 0
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("soak", total=ticks, status="")
        while child.poll() is None:
            try:
                tick = client.get(f"{gallery.url}/api/state").json()["tick"] + 1
            except httpx.HTTPError:
                break  # the server has stopped at the tick limit
            while visitors < tick // options.visit_every:
                gallery.visit(client, visitors)
                visitors += 1
            if tick >= len(samples) * per_hour:
                rss, fds, threads = process_sample(child.pid)
                samples.append({"hour": tick / per_hour, "wall_s": time.monotonic() - started, "rss_mb": rss, "fds": fds,
                                "threads": threads, "tick": tick, "frames": gallery.frames,
                                "store_mb": sum(p.stat().st_size for p in folder.glob("demo.sqlite*")) / 2**20,
                                "levels_mb": sum(p.stat().st_size for p in out.glob("levels.jsonl")) / 2**20})
                progress.update(task, completed=tick, status=f"{rss:.0f} MB, {fds} files, {visitors} visitors")
            time.sleep(0.05)
    child.wait(timeout=600)
    stop.set()
    wall = time.monotonic() - started
    log.close()
    report(options, samples, gallery, ticks, wall, folder, child.returncode, feed.items)


def growth(samples: list[dict], key: str) -> float:
    """Least-squares slope per gallery hour over the samples after the first tenth (warm-up)."""
    kept = samples[max(1, len(samples) // 10):]
    if len(kept) < 3:
        return float("nan")
    hours = np.array([s["hour"] for s in kept])
    return float(np.polyfit(hours, np.array([s[key] for s in kept], dtype=float), 1)[0])


def report(options: argparse.Namespace, samples: list[dict], gallery: Gallery, ticks: int, wall: float, folder: Path,
           code: int | None, feed_fetches: int) -> None:
    from sugarglass.store import Store, receipt_digest

    checkpoint = json.loads((folder / "out" / "checkpoints" / "current.json").read_text())
    with Store(folder / "demo.sqlite") as store:
        stored = {row[0] for row in store.db.execute("SELECT receipt_sha256 FROM receipts")}
        feed_posts = store.counts().get("soak-feed", {}).get("posts", 0)
    kept = [r for r in gallery.receipts if r not in gallery.withdrawn]
    missing = sum(receipt_digest(r) not in stored for r in kept)
    lingering = sum(receipt_digest(r) in stored for r in gallery.withdrawn)
    table = Table(title=f"soak: {options.days:g} gallery days of {options.gallery_tick_seconds:g} s ticks", title_justify="left")
    for name in ("day", "wall", "RSS MB", "open files", "threads", "store MB", "levels.jsonl MB"):
        table.add_column(name, justify="right")
    per_day = 24  # samples are a gallery hour apart
    for s in samples[::per_day] + ([samples[-1]] if samples and (len(samples) - 1) % per_day else []):
        table.add_row(f"{s['hour'] / 24:.2f}", f"{s['wall_s'] / 60:.1f} min", f"{s['rss_mb']:.1f}", str(s["fds"]),
                      str(s["threads"]), f"{s['store_mb']:.1f}", f"{s['levels_mb']:.0f}")
    console.print(table)
    load = os.getloadavg()
    rss_growth, fd_growth = growth(samples, "rss_mb"), growth(samples, "fds")
    console.print(f"exit code {code}; {ticks:,} ticks in {wall / 60:.1f} min wall: {ticks / wall:,.0f} ticks/s "
                  f"({ticks / wall * options.gallery_tick_seconds:,.0f}x gallery speed); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
                  f"on {os.cpu_count()} CPUs")
    console.print(f"memory after warm-up: {rss_growth * 1024:+.1f} kB per gallery hour (goal < 1024 kB); "
                  f"open files {fd_growth:+.3f} per gallery hour; RSS {samples[0]['rss_mb']:.0f} -> {samples[-1]['rss_mb']:.0f} MB")
    console.print(f"frames seen by the viewer: {gallery.frames:,} of {ticks:,} ticks ({gallery.frames / ticks:.1%}; "
                  "a slow viewer keeps only the newest frame); "
                  f"checkpoints: generation {checkpoint['generation']:,} at tick {checkpoint['tick']:,}")
    console.print(f"visitors: {len(gallery.receipts):,} receipts ({gallery.refused} refused), {len(gallery.withdrawn)} withdrawn; "
                  f"receipts missing from the store: {missing}; withdrawn still stored: {lingering}; "
                  f"feed: {feed_fetches} fetches, {feed_posts} posts stored")
    plot(samples, options.plot)
    console.print(f"drawn: {options.plot.relative_to(REPO) if options.plot.is_relative_to(REPO) else options.plot}")
    shutil.rmtree(folder, ignore_errors=True)


def plot(samples: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = [s["hour"] / 24 for s in samples]
    figure, (memory, files) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    memory.plot(days, [s["rss_mb"] for s in samples], color="#b0413e")
    memory.set_ylabel("resident memory, MB")
    memory.set_ylim(bottom=0)
    files.plot(days, [s["fds"] for s in samples], color="#3e6bb0", label="open files")
    files.plot(days, [s["threads"] for s in samples], color="#6b8e23", label="threads")
    files.set_ylabel("count")
    files.set_ylim(bottom=0)
    files.legend(loc="lower right")
    files.set_xlabel("gallery days")
    figure.suptitle("sugarglass live under an accelerated soak")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    path.chmod(0o644)


if __name__ == "__main__":
    main()
