"""Polling cost between posts: what a live run's social accounts cost while none of them posts.

The goal: polling 200 accounts must cost under 1 % of a core between posts. The stand-ins for
Mastodon and the Bluesky AppView (``tests/social_server.py``) run in a process of their own, so
that only the polling side's CPU is counted here: half the accounts on each network, each with
its posts already read, so every poll asks "anything newer?" and is told no. Each round polls
every account once; its CPU time is this process's (every thread, ``time.process_time``). The
variants, taking turns round by round so that a busy moment falls on all of them:

- ``shared client``: the pollers share one ``httpx.Client``, as a live run could;
- ``client per poller``: what the live loop does today, ``AccountPoller(source, since)``;
- ``live loop path``: as the live loop takes an account in, the cursor read from the store and
  the empty read stored (``ingest_account``: the consent ledger and the unchanged check);
- the references, the same URLs one round asks for, fetched with plain ``httpx.get`` (a
  client made per request) and with one shared ``httpx.Client``, bodies read, nothing parsed.

Run:

    .venv/bin/python benchmarks/polling.py [--accounts 200] [--posts 20] [--rounds 5] [--keep-alive] [--json PATH]

``--keep-alive`` makes the stand-in answer HTTP/1.1 and keep connections open (Nagle's delay
off, as a real server has it), as real instances do; by default it closes each one (HTTP/1.0),
so every request opens a connection. Rounds follow each other at once here, so kept connections
are still open at the next round, which a real server's idle timeout would not allow at 300 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]

from sugarglass.affect import Analyzers, LanguageGuesser, make_analyzers  # noqa: E402
from sugarglass.ingest import ingest_account, ingest_work  # noqa: E402
from sugarglass.sources.accounts import AccountPoller, AccountSource  # noqa: E402
from sugarglass.store import Store  # noqa: E402
from sugarglass.work import BlueskySource, MastodonSource, Work, load_work  # noqa: E402

HOST = "bench.example"
POLL_SECONDS = MastodonSource.model_fields["poll_seconds"].default
OPENINGS = ("Our tenants' meeting", "The allotment work day", "The library sit-in", "The bike repair evening",
            "The food bank shift")
ENDINGS = ("went well, thank you all.", "is moved to next week, sorry.", "needs six more hands.",
           "was cold but cheerful.", "ended with soup for everyone.")
CONSENT = {"granted_by": "Sugarglass project", "basis": "authored", "scope": "keep-text", "licence": "CC0-1.0",
           "granted_at": "2026-11-29", "evidence": "benchmark accounts on a loopback stand-in"}


def post_text(account: int, n: int) -> str:
    return f"{OPENINGS[(account + n) % len(OPENINGS)]} (number {n}) {ENDINGS[(account * 3 + n) % len(ENDINGS)]}"


def serve(conn: Connection, accounts: int, posts: int, keep_alive: bool) -> None:
    """The stand-in's process: fill it, send its URL and each account's newest post id, then
    answer "count" (requests so far), ("paths", start) (those since ``start``) and "stop"."""
    sys.path.insert(0, str(REPO / "tests"))
    from social_server import SocialServer

    server = SocialServer()
    if keep_alive:
        handler = server._httpd.RequestHandlerClass
        handler.protocol_version, handler.disable_nagle_algorithm = "HTTP/1.1", True
    newest = {}
    for i in range(accounts // 2):
        server.add_mastodon_account(f"m{i:03d}")
        newest[f"m{i:03d}"] = [server.add_status(f"m{i:03d}", f"<p>{post_text(i, n)}</p>")["id"] for n in range(posts)][-1]
    for i in range(accounts - accounts // 2):
        server.add_bluesky_actor(f"b{i:03d}.{HOST}")
        newest[f"b{i:03d}"] = [server.add_post(f"b{i:03d}.{HOST}", post_text(i, n))["rkey"] for n in range(posts)][-1]
    conn.send((server.url(), newest))
    while True:
        command = conn.recv()
        if command == "stop":
            server.stop()
            conn.send("stopped")
            return
        if command == "count":
            conn.send(len(server.requests))
        else:
            conn.send([path for path, _ in server.requests[command[1]:]])


class Remote:
    """The stand-in's process, seen from here."""

    def __init__(self, accounts: int, posts: int, keep_alive: bool):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, accounts, posts, keep_alive), daemon=True)
        self.process.start()
        self.url, self.newest = self.conn.recv()

    def ask(self, command):
        self.conn.send(command)
        return self.conn.recv()

    def close(self) -> None:
        self.ask("stop")
        self.process.join(timeout=30)


def account_sources(url: str, ids: list[str]) -> list[AccountSource]:
    out = []
    for source_id in ids:
        if source_id.startswith("m"):
            out.append(MastodonSource.model_validate({"id": source_id, "kind": "mastodon", "account": f"@{source_id}@{HOST}",
                                                      "instance": url, "consent": CONSENT}))
        else:
            out.append(BlueskySource.model_validate({"id": source_id, "kind": "bluesky", "actor": f"{source_id}.{HOST}",
                                                     "service": url, "consent": CONSENT}))
    return out


def work_file(folder: Path, sources: list[AccountSource]) -> Path:
    """A work of these accounts, for the live loop's path, which stores through a work."""
    lines = ['name = "polling"']
    for source in sources:
        where = (f'account = "{source.account}"\ninstance = "{source.instance}"' if isinstance(source, MastodonSource)
                 else f'actor = "{source.actor}"\nservice = "{source.service}"')
        lines += [f'[[sources]]\nid = "{source.id}"\nkind = "{source.kind}"\n{where}', "[sources.consent]",
                  *(f'{key} = {value}' if key == "granted_at" else f'{key} = "{value}"' for key, value in CONSENT.items())]
    path = folder / "polling.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fixed(cursor: str) -> Callable[[], str]:
    """The account's newest post, as the store would give it once that post is stored."""
    return lambda: cursor


def quiet(fetched, source: AccountSource) -> None:
    """A poll between posts must read fine and find nothing."""
    if fetched is None or fetched.posts or fetched.refused:
        raise AssertionError(f"{source.id}: expected a read with nothing new, got {fetched!r}")


def poll_round(pollers: list[AccountPoller]) -> None:
    for poller in pollers:
        quiet(poller.poll(time.time()), poller.source)


def live_round(pollers: list[AccountPoller], work: Work, store: Store, analyzer: Analyzers, guesser: LanguageGuesser) -> None:
    for poller in pollers:
        fetched = poller.poll(time.time())
        quiet(fetched, poller.source)
        result = ingest_account(work, poller.source, store, analyzer, guesser, fetched, poller.report)
        if not result.unchanged:
            raise AssertionError(f"{poller.source.id}: an empty read changed the store: {result!r}")


def get_each(urls: list[str]) -> None:
    for url in urls:
        httpx.get(url).raise_for_status()


def get_shared(client: httpx.Client, urls: list[str]) -> None:
    for url in urls:
        client.get(url).raise_for_status()


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) that ``run`` took."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(accounts: int, posts: int, rounds: int, keep_alive: bool) -> dict:
    """Every figure this benchmark prints, as ``--json`` writes them."""
    load_before = os.getloadavg()
    with ExitStack() as stack:
        remote = Remote(accounts, posts, keep_alive)
        stack.callback(remote.close)
        sources = account_sources(remote.url, sorted(remote.newest))
        client = stack.enter_context(httpx.Client())
        shared = [AccountPoller(s, fixed(remote.newest[s.id]), client) for s in sources]
        own: list[AccountPoller] = []
        setup_cpu, _ = timed(lambda: own.extend(AccountPoller(s, fixed(remote.newest[s.id])) for s in sources))

        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sugarglass-polling-")))
        work = load_work(work_file(folder, sources))
        store = stack.enter_context(Store(work.store_path))
        ingest_work(work, store)
        if {s.id: store.source_cursor(s.id) for s in sources} != remote.newest:
            raise AssertionError("the first ingest did not leave every account's cursor at its newest post")
        analyzer, guesser = make_analyzers(work.analyzer), LanguageGuesser(work.analyzer.guess_among)
        live = [AccountPoller(s, (lambda source_id=s.id: store.source_cursor(source_id))) for s in sources]
        for poller in own + live:
            stack.callback(poller.close)

        start = remote.ask("count")
        poll_round(shared)
        urls = [remote.url + path for path in remote.ask(("paths", start))]
        variants: dict[str, Callable[[], None]] = {
            "shared client": lambda: poll_round(shared),
            "client per poller": lambda: poll_round(own),
            "live loop path": lambda: live_round(live, work, store, analyzer, guesser),
            "httpx.get (reference)": lambda: get_each(urls),
            "one httpx.Client (reference)": lambda: get_shared(client, urls),
        }
        runs: dict[str, dict[str, list]] = {name: {"cpu_s": [], "wall_s": [], "requests": []} for name in variants}
        for round_ in range(rounds + 1):  # round 0 warms every variant up and is not kept
            for name, run in variants.items():
                before = remote.ask("count")
                cpu, wall = timed(run)
                if round_:
                    runs[name]["cpu_s"].append(cpu)
                    runs[name]["wall_s"].append(wall)
                    runs[name]["requests"].append(remote.ask("count") - before)
    figures = {name: summary(run, accounts) for name, run in runs.items()}
    for figure in figures.values():
        figure["vs_httpx_get"] = figure["cpu_s_per_round"] / figures["httpx.get (reference)"]["cpu_s_per_round"]
        figure["vs_one_client"] = figure["cpu_s_per_round"] / figures["one httpx.Client (reference)"]["cpu_s_per_round"]
    return {"accounts": accounts, "mastodon": accounts // 2, "bluesky": accounts - accounts // 2, "posts_per_account": posts,
            "rounds": rounds, "keep_alive": keep_alive, "poll_seconds": POLL_SECONDS, "urls_per_round": len(urls),
            "setup_cpu_s_clients_per_poller": setup_cpu, "variants": figures,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "httpx": httpx.__version__,
                        "load_before": load_before, "load_after": os.getloadavg()}}


def summary(run: dict[str, list], accounts: int) -> dict:
    """A variant's rounds: the median round (and the least disturbed) and what it makes of a core."""
    cpu = statistics.median(run["cpu_s"])
    return {"cpu_s_per_round": cpu, "cpu_s_min": min(run["cpu_s"]), "wall_s_per_round": statistics.median(run["wall_s"]),
            "cpu_ms_per_account": cpu / accounts * 1e3, "requests_per_account": statistics.median(run["requests"]) / accounts,
            "core_share_at_poll_seconds": cpu / POLL_SECONDS, "core_share_at_60s": cpu / 60, "rounds": run}


def report(console: Console, figures: dict) -> None:
    load = " ".join(f"{x:.2f}" for x in figures["machine"]["load_before"])
    after = " ".join(f"{x:.2f}" for x in figures["machine"]["load_after"])
    console.print(f"{figures['accounts']} accounts ({figures['mastodon']} Mastodon, {figures['bluesky']} Bluesky), "
                  f"{figures['posts_per_account']} posts each, nothing new; stand-in in another process, "
                  f"{'keep-alive' if figures['keep_alive'] else 'a connection per request'}; "
                  f"{figures['machine']['cpus']} CPUs, load {load} before, {after} after")
    poll = figures["poll_seconds"]
    table = Table(title=f"one round: every account polled once (median of {figures['rounds']} rounds, after a warm-up)",
                  title_justify="left")
    for column in ("variant", "CPU s", "least", "wall s", "CPU ms/acct", "req/acct"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, f in figures["variants"].items():
        table.add_row(name, f"{f['cpu_s_per_round']:.3f}", f"{f['cpu_s_min']:.3f}", f"{f['wall_s_per_round']:.3f}",
                      f"{f['cpu_ms_per_account']:.2f}", f"{f['requests_per_account']:.2f}")
    console.print(table)
    table = Table(title="share of one core, polling every account each period; CPU against the references",
                  title_justify="left")
    for column in ("variant", f"every {poll:g} s", "every 60 s", "× httpx.get", "× one client"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, f in figures["variants"].items():
        table.add_row(name, f"{f['core_share_at_poll_seconds']:.3%}", f"{f['core_share_at_60s']:.3%}",
                      f"{f['vs_httpx_get']:.3f}", f"{f['vs_one_client']:.2f}")
    console.print(table)
    console.print(f"making {figures['accounts']} pollers with a client each: "
                  f"{figures['setup_cpu_s_clients_per_poller']:.2f} CPU s once, at start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200, help="accounts polled, half on each network")
    parser.add_argument("--posts", type=int, default=20, help="posts each account already has")
    parser.add_argument("--rounds", type=int, default=5, help="rounds measured, after one warm-up")
    parser.add_argument("--keep-alive", action="store_true", help="the stand-in keeps connections open (HTTP/1.1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to PATH as JSON")
    args = parser.parse_args(argv)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)  # every request is to the stand-in on loopback
    figures = measure(args.accounts, args.posts, args.rounds, args.keep_alive)
    report(Console(), figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
