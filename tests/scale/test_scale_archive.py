"""Archive scoring on a two-worker cluster on loopback gives the store a serial ingest gives."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from distributed import LocalCluster
from pydantic import ValidationError
from scale_support import (
    ingest_rows,
    posts,
    store_rows,
    write_csv,
    write_jsonl,
    write_parquet,
    write_work,
)

from sugarglass.affect import Analyzers, LanguageGuesser
from sugarglass.errors import ReadError
from sugarglass.ingest import file_sha256, ingest_work, store_posts
from sugarglass.scale import ClusterError, ParquetSource, ScaleConfig
from sugarglass.scale.archive import ingest_archive
from sugarglass.scale.cluster import open_client
from sugarglass.scale.parquet import read_parquet
from sugarglass.scale.archive import ingest_parallel
from sugarglass.sources import ReadReport
from sugarglass.store import Store
from sugarglass.work import load_work


@pytest.fixture(scope="module")
def scheduler():
    """Two single-threaded worker processes on loopback, for every test of this module."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        yield cluster.scheduler_address


def summary(results) -> list[tuple]:
    return [(r.source, r.read, r.added, r.bad, r.left_out, r.unchanged, r.report.problems if r.report else None)
            for r in results]


def test_parallel_store_equals_serial(tmp_path: Path, scheduler: str):
    rows = posts()
    write_csv(tmp_path / "a.csv", rows, bad_line_after=100)
    write_jsonl(tmp_path / "b.jsonl", rows)
    (tmp_path / "inbox").mkdir()
    write_csv(tmp_path / "inbox" / "one.csv", rows[:60])
    write_csv(tmp_path / "inbox" / "two.csv", rows[40:130])
    work = load_work(write_work(tmp_path, [
        {"id": "table", "kind": "csv", "path": "a.csv", "on_error": "skip"},
        {"id": "lines", "kind": "jsonl", "path": "b.jsonl", "on_error": "skip"},
        {"id": "inbox", "kind": "csv", "path": "inbox", "on_error": "skip"},
    ], analyzer={"non_english": "skip"}))
    with Store(tmp_path / "serial.sqlite") as serial:
        expected = summary(ingest_work(work, serial))
        expected_rows, expected_ingests = store_rows(serial), ingest_rows(serial)
    with Store(tmp_path / "parallel.sqlite") as parallel:
        got = summary(ingest_parallel(work, parallel, scheduler=scheduler, partition_rows=7))
        assert store_rows(parallel) == expected_rows
        assert ingest_rows(parallel) == expected_ingests
    assert got == expected
    problems = [reason for _, reason in expected[0][6] + expected[1][6]]
    assert "row has 4 fields, the header has 3" in problems and any("not valid JSON" in p for p in problems)
    assert expected[0][4]["not English"] > 0


def test_parquet_partitions_equal_the_serial_reader(tmp_path: Path, scheduler: str):
    path = write_parquet(tmp_path / "posts.parquet", posts(200), row_group_size=45)
    work = load_work(write_work(tmp_path, [{"id": "other", "kind": "csv", "path": "unused.csv"}]))
    source = ParquetSource(id="archive", kind="parquet", path=path, on_error="skip", consent=work.sources[0].consent)
    with Store(tmp_path / "serial.sqlite") as serial:
        report = ReadReport(path, "skip")
        result = store_posts(work, source, serial, Analyzers(), LanguageGuesser(), file_sha256(path),
                             read_parquet(source, path, report), report)
        expected = (summary([result]), store_rows(serial), ingest_rows(serial))
    with Store(tmp_path / "parallel.sqlite") as parallel, open_client(scheduler) as client:
        got = ingest_archive(work, parallel, client, partition_rows=20, sources=[source])
        assert (summary(got), store_rows(parallel), ingest_rows(parallel)) == expected
    assert (10, "text is NoneType, not a string") in result.report.problems and result.added > 150


def test_a_grown_file_adds_only_its_new_posts(tmp_path: Path, scheduler: str):
    rows = posts(150)
    work = load_work(write_work(tmp_path, [{"id": "table", "kind": "csv", "path": "a.csv", "on_error": "skip"}]))
    stores = {}
    for name, ingest in (("serial", lambda s: ingest_work(work, s)),
                         ("parallel", lambda s: ingest_parallel(work, s, scheduler=scheduler, partition_rows=11))):
        write_csv(tmp_path / "a.csv", rows[:90])
        with Store(tmp_path / f"{name}.sqlite") as store:
            first = ingest(store)
            again = ingest(store)
            write_csv(tmp_path / "a.csv", rows)
            grown = ingest(store)
            stores[name] = (summary(first + again + grown), store_rows(store), ingest_rows(store))
    assert stores["parallel"] == stores["serial"]
    assert stores["parallel"][0][1][5] is True  # the unchanged file was not read again
    assert stores["parallel"][0][2][4]["already stored"] > 0


def test_a_corrupt_row_fails_the_whole_file_naming_its_line(tmp_path: Path, scheduler: str):
    write_csv(tmp_path / "good.csv", posts(40, repeat_ids=False))
    write_csv(tmp_path / "bad.csv", posts(200, repeat_ids=False), bad_line_after=170)
    work = load_work(write_work(tmp_path, [
        {"id": "good", "kind": "csv", "path": "good.csv"},
        {"id": "bad", "kind": "csv", "path": "bad.csv"},
    ]))
    with Store(tmp_path / "serial.sqlite") as serial, pytest.raises(ReadError) as serial_error:
        ingest_work(work, serial)
    with Store(tmp_path / "parallel.sqlite") as store:
        with pytest.raises(ReadError) as error:
            ingest_parallel(work, store, scheduler=scheduler, partition_rows=10)
        assert str(error.value) == str(serial_error.value)
        assert error.value.path == tmp_path / "bad.csv" and error.value.line > 170
        assert "row has 4 fields" in str(error.value)
        counts = store.counts()
        assert set(counts) == {"good"}  # the file before it landed whole; nothing of the bad one did
        assert store.db.execute("SELECT count(*) FROM ingests WHERE source_id = 'bad'").fetchone()[0] == 0


def test_a_header_without_text_fails_before_any_work(tmp_path: Path, scheduler: str):
    (tmp_path / "a.csv").write_text("id,body\n1,hello\n", encoding="utf-8")
    work = load_work(write_work(tmp_path, [{"id": "table", "kind": "csv", "path": "a.csv"}]))
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ReadError, match=r"a\.csv, line 1: no text column"):
            ingest_parallel(work, store, scheduler=scheduler)
        assert store.counts() == {}


def test_an_unreachable_scheduler_is_an_error_before_anything_is_read(tmp_path: Path):
    write_csv(tmp_path / "a.csv", posts(20))
    work = load_work(write_work(tmp_path, [{"id": "table", "kind": "csv", "path": "a.csv"}]))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ClusterError, match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
            ingest_parallel(work, store, scheduler=f"tcp://127.0.0.1:{port}")
        with pytest.raises(ClusterError, match="not a Dask scheduler address"):
            ingest_parallel(work, store, scheduler="localhost:8786")
        assert store.consents() == [] and store.counts() == {}
    with pytest.raises(ValidationError, match="scheduler\n.*'localhost:8786' is not a Dask scheduler address"):
        ScaleConfig(scheduler="localhost:8786")  # the work file's [scale] table says so under its key


def test_parquet_reader_reads_typed_times_and_names_bad_rows(tmp_path: Path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    when = dt.datetime(2026, 9, 1, 12, 30, 15, 123456, tzinfo=dt.timezone.utc)
    pq.write_table(pa.table({"post": [7, 8], "body": ["we won", None], "at": pa.array([when, when], pa.timestamp("us", "UTC"))}),
                   tmp_path / "p.parquet")
    source = ParquetSource(id="p", kind="parquet", path=tmp_path / "p.parquet", text_column="body", id_column="post",
                           time_column="at", consent=load_work(write_work(tmp_path, [
                               {"id": "x", "kind": "csv", "path": "x.csv"}])).sources[0].consent)
    report = ReadReport(source.path, "skip")
    [post] = read_parquet(source, source.path, report)
    assert (post.id, post.text, post.created_at, post.line) == ("7", "we won", when, 1)
    assert report.problems == [(2, "text is NoneType, not a string")]
    with pytest.raises(ReadError, match=r"p\.parquet, line 2: text is NoneType"):
        list(read_parquet(source, source.path, ReadReport(source.path, "fail")))


def test_without_an_address_a_local_cluster_on_loopback_is_started_and_stopped():
    with open_client(None, workers=1) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert client.submit(sum, [1, 2], pure=False).result() == 3
    assert client.status == "closed"
