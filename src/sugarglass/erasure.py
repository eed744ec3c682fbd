"""Withdrawal everywhere: the store, the checkpoints, and a mark on every output made with it.

Deleting rows is not enough for a promise made to the people whose words these were. A
withdrawal here deletes the posts and feelings (``secure_delete`` overwrites them in the file),
removes what the live checkpoints still hold about the source (feed item ids, watched file
marks), writes a notice into every output folder made with the source, and logs the counts.
A running live installation notices the withdrawal at its next tick and drops the data from
its signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_atomic
from .store import Store, now

NOTICE = "withdrawn-data.json"


@dataclass
class Withdrawal:
    """What a withdrawal did, to report to the person who asked for it."""

    source: str
    posts: int
    feelings: int
    outputs_marked: list[Path] = field(default_factory=list)
    checkpoints_rewritten: list[Path] = field(default_factory=list)


def withdraw_source(store: Store, source_id: str, reason: str = "") -> Withdrawal:
    posts, feelings = store.withdraw(source_id, reason)
    return _everywhere(store, Withdrawal(source_id, posts, feelings), reason or "consent withdrawn")


def withdraw_receipt(store: Store, receipt: str) -> Withdrawal:
    """A visitor's own message, by the code they were given."""
    from .ingest import VISITORS

    posts = store.withdraw_receipt(receipt)
    return _everywhere(store, Withdrawal(VISITORS, posts, posts), "a visitor withdrew their message", one_message=True)


def _everywhere(store: Store, done: Withdrawal, reason: str, one_message: bool = False) -> Withdrawal:
    """Mark every output made with the source. One visitor's message leaves nothing in a live
    run's checkpoints (they hold feed state and file marks, never visitors' words), so only a
    whole source's withdrawal rewrites them."""
    when = now()
    for folder, kind in store.outputs_using(done.source):
        if not folder.is_dir():
            continue
        _mark(folder, done.source, when, reason, one_message)
        done.outputs_marked.append(folder)
        if kind == "live" and not one_message:
            done.checkpoints_rewritten += scrub_checkpoints(folder / "checkpoints", done.source)
    return done


def _mark(folder: Path, source_id: str, when: str, reason: str, one_message: bool = False) -> None:
    """Add this withdrawal to the folder's notice (kept as a list, newest last). Visitors'
    messages withdrawn one by one share one entry that counts them, so that an installation
    visited for months keeps a notice of a few lines, not one per visitor."""
    path = folder / NOTICE
    notices = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    shared = next((n for n in notices if one_message and n["source"] == source_id and "messages" in n), None)
    if shared is not None:
        shared["messages"] += 1
        shared["withdrawn_at"] = when
    else:
        notices.append({"source": source_id, "withdrawn_at": when, "reason": reason,
                        "meaning": "this output was made with data whose consent has since been withdrawn",
                        **({"messages": 1} if one_message else {})})
    write_atomic(path, (json.dumps(notices, indent=2) + "\n").encode("utf-8"))


def notices(folder: Path) -> list[dict]:
    path = folder / NOTICE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def scrub_checkpoints(folder: Path, source_id: str) -> list[Path]:
    """Rewrite every kept generation of a live run's checkpoints in ``folder`` without what it
    held about the source, checksums and all, so that each still loads and no fallback to an
    older generation can bring the source's marks back (see live/checkpoint.py for the order)."""
    from .live.checkpoint import scrub_sources

    return scrub_sources(folder, {source_id})
