"""Archives for the scale tests: every case the serial rules treat specially, in each format."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

CONSENT = {
    "granted_by": "Test Collective", "basis": "explicit", "scope": "keep-text", "licence": "CC-BY-4.0",
    "granted_at": date(2026, 1, 1), "evidence": "https://example.org/consent/test",
}
DEMO = Path(__file__).resolve().parents[2] / "works" / "demo" / "campaign-posts.csv"


def posts(n: int = 240, repeat_ids: bool = True) -> list[dict]:
    """Demo texts with the awkward cases mixed in: repeated texts, empty texts, non-English,
    newlines inside texts (quoted CSV fields), missing times, and (a bad record each) ids that
    repeat the row before."""
    with DEMO.open(encoding="utf-8", newline="") as handle:
        demo = [row["text"] for row in csv.DictReader(handle)]
    rows = []
    for i in range(n):
        text = f"{demo[i % len(demo)]} #{i // 7}"
        if i % 23 == 5:
            text = rows[i - 3]["text"]  # duplicate text
        if i % 31 == 7:
            text = "@someone https://example.org"  # empty after cleaning
        if i % 29 == 11:
            text = "Nous sommes en grève demain devant la mairie, venez nombreux"
        if i % 17 == 3:
            text = f"first line {i}\nsecond line, with \"quotes\" and a comma\n\nfourth"
        post_id = f"p{i - 1}" if repeat_ids and i % 41 == 40 else f"p{i}"  # an id that repeats the row before
        rows.append({"id": post_id, "created_at": "" if i % 13 == 0 else f"2026-09-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                     "text": text})
    return rows


def write_csv(path: Path, rows: list[dict], bad_line_after: int | None = None) -> Path:
    """A CSV; ``bad_line_after`` inserts a row with too many fields after that many rows."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "text"])
        for i, row in enumerate(rows):
            if i == bad_line_after:
                writer.writerow(["broken", "2026-09-01", "a row", "with one field too many"])
            writer.writerow([row["id"], row["created_at"], row["text"]])
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i % 19 == 0:
                handle.write("\n")
            if i == 50:
                handle.write("{not json\n")
    return path


def write_parquet(path: Path, rows: list[dict], row_group_size: int = 40) -> Path:
    table = pa.table({
        "id": [r["id"] for r in rows],
        "text": [None if i == 9 else r["text"] for i, r in enumerate(rows)],  # a null text: a bad record
        "created_at": [r["created_at"] or None for r in rows],
    })
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_work(folder: Path, sources: list[dict], name: str = "scaled", **top) -> Path:
    """A work file naming the sources (each given its consent)."""
    path = folder / f"{name}.toml"
    document = {"name": name, "seed": 3, **top, "sources": [{**s, "consent": CONSENT} for s in sources]}
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def store_rows(store) -> list[tuple]:
    """Everything the store holds about posts and their feelings, in row order."""
    return store.db.execute(
        "SELECT p.id, p.source_id, p.post_id, p.seq, p.created_at, p.text_key, p.text, p.language, p.non_english,"
        " f.compound, f.compnorm, f.pos, f.neg, f.neu FROM posts p JOIN feelings f ON f.post = p.id ORDER BY p.id"
    ).fetchall()


def ingest_rows(store) -> list[tuple]:
    return store.db.execute("SELECT source_id, file_sha256, read, added, bad, left_out FROM ingests ORDER BY id").fetchall()
