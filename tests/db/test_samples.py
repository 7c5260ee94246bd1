"""Samples on disk: a run's chunk parts (and the single file of runs from before chunking), atomic
durable writes, ordering, deletion, disk usage, and reading a run's files as one table."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db import samples as samples_module
from db.samples import SampleFiles, duckdb_source, iter_batches, read_schema, sample_files

CHUNK = 262_144
STARTS = [0, CHUNK, 2 * CHUNK]
ITERATIONS = [s + i for s in STARTS for i in range(1, 101)]  # of the parts of ``quoted_run``


def table(n: int = 100, start: int = 0, errors: bool = False) -> pa.Table:
    """A chunk's samples: iterations start+1..start+n, an input and an output, and the output's
    error column when ``errors`` (its first iteration is #DIV/0!)."""
    columns = {"iteration": pa.array(range(start + 1, start + n + 1), pa.int64()),
               "x": pa.array([i * 0.5 for i in range(start, start + n)]),
               "y": pa.array([None if errors and i == 0 else float(i) for i in range(n)],
                             pa.float64())}
    if errors:
        columns["y error"] = pa.array(["#DIV/0!"] + [None] * (n - 1), pa.string())
    return pa.table(columns)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def temporaries(files: SampleFiles) -> list[str]:
    return sorted(str(p.relative_to(files.runs_dir)) for p in files.runs_dir.rglob("*")
                  if p.name.endswith(".tmp") or ".tmp-" in p.name)


# --------------------------------------------------------------------------------- paths


def test_paths_are_inside_the_runs_folder(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    assert files.run_dir(42) == tmp_path / "runs" / "42"
    assert files.part_path(42, 0) == tmp_path / "runs" / "42" / "part-000000000000.parquet"
    assert files.part_path(42, 524_288).name == "part-000000524288.parquet"
    assert files.path_for(42) == tmp_path / "runs" / "42.parquet"  # a single-file run


@pytest.mark.parametrize("bad", [-1, True, "1", "../etc/passwd", 1.0, None])
def test_a_run_id_is_a_non_negative_integer(tmp_path: Path, bad: object) -> None:
    files = SampleFiles(tmp_path)
    for call in (files.run_dir, files.path_for, lambda r: files.part_path(r, 0)):
        with pytest.raises(ValueError, match="run id"):
            call(bad)


@pytest.mark.parametrize("bad", [-1, True, "0", 1.0, 10**12])
def test_a_chunk_start_is_an_iteration_of_at_most_twelve_digits(tmp_path: Path,
                                                                bad: object) -> None:
    files = SampleFiles(tmp_path)
    with pytest.raises(ValueError, match="chunk's start"):
        files.part_path(1, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk's start"):
        files.delete_parts_from(1, bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- write_part


def test_write_part_publishes_the_table_and_its_metadata_together(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    summary = json.dumps({"n": 100, "mean": 24.75, "name": "Coût €"})
    path = files.write_part(7, CHUNK, table(100, CHUNK), {"summary": summary, "v": "1"})
    assert path == files.part_path(7, CHUNK) and files.exists(7)
    assert pq.read_table(path).equals(table(100, CHUNK))
    assert SampleFiles.read_part_metadata(path) == {"summary": summary, "v": "1"}
    assert json.loads(SampleFiles.read_part_metadata(path)["summary"])["name"] == "Coût €"
    assert temporaries(files) == []
    assert names(files.runs_dir) == ["7"]


def test_a_part_without_metadata_has_none(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    assert SampleFiles.read_part_metadata(files.write_part(1, 0, table())) == {}


def test_read_part_metadata_reads_the_footer_alone(tmp_path: Path) -> None:
    """Damaged data pages do not matter to it: it never reads them."""
    path = SampleFiles(tmp_path).write_part(1, 0, table(10_000), {"summary": "{}"})
    data = bytearray(path.read_bytes())
    data[4:2000] = bytes(b ^ 0xFF for b in data[4:2000])
    path.write_bytes(bytes(data))
    with pytest.raises(OSError):
        pq.read_table(path)
    assert SampleFiles.read_part_metadata(path) == {"summary": "{}"}


def test_rewriting_a_part_replaces_it(tmp_path: Path) -> None:
    """A retried chunk: one file, the last attempt's rows and metadata, nothing stale."""
    files = SampleFiles(tmp_path)
    files.write_part(3, 0, table(10), {"summary": "first", "attempt": "1"})
    again = files.write_part(3, 0, table(20), {"summary": "second"})
    assert files.parts(3) == [again]
    assert names(files.run_dir(3)) == [again.name]
    assert pq.read_table(again).num_rows == 20
    assert SampleFiles.read_part_metadata(again) == {"summary": "second"}


def test_racing_attempts_of_one_chunk_never_mix(tmp_path: Path) -> None:
    """Two attempts of one chunk writing at the same moment (a chunk retried while the first
    attempt still runs): each writes its own temporary file, the last rename wins whole."""
    files = SampleFiles(tmp_path)
    tables = {n: table(n) for n in (50_000, 60_000)}
    errors: list[BaseException] = []

    def attempt(n: int, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            files.write_part(9, 0, tables[n], {"rows": str(n)})
        except BaseException as exc:  # reported below
            errors.append(exc)

    for _ in range(10):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=attempt, args=(n, barrier)) for n in tables]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        (part,) = files.parts(9)
        rows = int(SampleFiles.read_part_metadata(part)["rows"])
        assert pq.read_table(part).equals(tables[rows])
        assert temporaries(files) == []


WRITERS = {
    "part": lambda files, n: files.write_part(1, 0, table(n)),
    "single file": lambda files, n: files.write(1, table(n)),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_failing_write_leaves_no_file_and_keeps_the_old_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    files, write = SampleFiles(tmp_path), WRITERS[writer]
    path = write(files, 10)
    real = pq.write_table

    def crash(data: pa.Table, where: str, **kwargs: object) -> None:
        real(data, where, **kwargs)
        raise RuntimeError("worker died")

    monkeypatch.setattr(samples_module.pq, "write_table", crash)
    with pytest.raises(RuntimeError, match="worker died"):
        write(files, 1000)
    with pytest.raises(RuntimeError, match="worker died"):
        files.write_part(1, CHUNK, table(1000))
    assert sample_files(path) == [path.resolve()]
    assert pq.read_table(path).num_rows == 10
    assert temporaries(files) == []


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_truncated_file_is_never_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             writer: str) -> None:
    """A write that leaves half a file (no footer: the disk filled up) is caught before the
    rename."""
    files, real = SampleFiles(tmp_path), pq.write_table

    def half(data: pa.Table, where: str, **kwargs: object) -> None:
        real(data, where, **kwargs)
        written = Path(where).read_bytes()
        Path(where).write_bytes(written[: len(written) // 2])

    monkeypatch.setattr(samples_module.pq, "write_table", half)
    with pytest.raises(pa.ArrowInvalid):
        WRITERS[writer](files, 1000)
    assert not files.exists(1) and temporaries(files) == []


def test_a_part_is_synced_before_its_rename_and_its_folder_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first part also syncs the runs folder, so the run's new folder survives a crash."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        folder = os.readlink(f"/proc/self/fd/{fd}")
        events.append(f"fsync {Path(folder).name}" if os.path.isdir(folder) else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell a folder's descriptor from a file's")
    monkeypatch.setattr(samples_module.os, "fsync", fsync)
    monkeypatch.setattr(samples_module.os, "replace", replace)
    files = SampleFiles(tmp_path)
    files.write_part(4, 0, table())
    assert events == ["fsync runs", "fsync file", "replace", "fsync 4"]
    events.clear()
    files.write_part(4, CHUNK, table())
    assert events == ["fsync file", "replace", "fsync 4"]


# ------------------------------------------------------------------------ parts, deletion


def test_parts_are_in_iteration_order_not_name_or_write_order(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    starts = [0, CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK]
    # unpadded, 1048576 would sort before 262144: the zero padding is what keeps them in order
    assert sorted(str(s) for s in starts) != [str(s) for s in starts]
    for start in (2 * CHUNK, 0, 4 * CHUNK, CHUNK, 3 * CHUNK):
        files.write_part(2, start, table(10, start))
    folder = files.run_dir(2)
    (folder / ".part-000000000000.123.abc.tmp").write_bytes(b"half")  # a write in progress
    (folder / "part-1.parquet").write_bytes(b"PAR1")  # not a part's name
    (folder / "notes.txt").write_text("not ours")
    got = files.parts(2)
    assert got == [files.part_path(2, s) for s in starts]
    assert sorted(p.name for p in got) == [p.name for p in got]  # name order too
    assert sample_files(folder) == [p.resolve() for p in got]
    assert files.parts(3) == []  # no folder at all


def test_delete_parts_from_a_stopping_point(tmp_path: Path) -> None:
    """A run its convergence rule stopped drops the chunks after the stopping point."""
    files = SampleFiles(tmp_path)
    starts = [0, CHUNK, 2 * CHUNK, 3 * CHUNK]
    for start in starts:
        files.write_part(5, start, table(10, start))
        files.write_part(6, start, table(10, start))  # another run: untouched
    removed = files.delete_parts_from(5, 2 * CHUNK)
    assert removed == [files.part_path(5, 2 * CHUNK), files.part_path(5, 3 * CHUNK)]
    assert files.parts(5) == [files.part_path(5, 0), files.part_path(5, CHUNK)]
    assert files.delete_parts_from(5, CHUNK + 1) == []  # nothing starts past it any more
    assert len(files.parts(6)) == 4
    assert files.delete_parts_from(5, 0) == [files.part_path(5, 0), files.part_path(5, CHUNK)]
    assert not files.exists(5)
    assert files.delete_parts_from(77, 0) == []  # a run without samples


def test_delete_removes_both_layouts(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    for start in STARTS:
        files.write_part(1, start, table(10, start))
    files.write(2, table())  # a run from before chunking
    files.write_part(3, 0, table())
    assert files.delete(1) is True and files.delete(2) is True
    assert files.delete(1) is False and files.delete(2) is False
    assert not files.exists(1) and not files.exists(2) and files.exists(3)
    assert names(files.runs_dir) == ["3"]


def test_exists_and_usage_cover_both_layouts(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    assert files.usage_bytes() == 0 and files.run_bytes(1) == 0  # no folder yet
    parts = [files.write_part(1, start, table(1000, start)) for start in STARTS]
    legacy = files.write(2, table(5000))
    parts_bytes = sum(p.stat().st_size for p in parts)
    assert parts_bytes > 0 and files.exists(1) and files.exists(2)
    assert files.run_bytes(1) == parts_bytes
    assert files.run_bytes(2) == legacy.stat().st_size
    assert files.usage_bytes() == parts_bytes + legacy.stat().st_size
    (files.run_dir(1) / ".part-000000786432.1.x.tmp").write_bytes(b"x" * 10)  # killed chunk
    (files.runs_dir / ".3.crash.tmp").write_bytes(b"y" * 7)  # killed single-file write
    assert files.run_bytes(1) == parts_bytes + 10
    assert files.usage_bytes() == parts_bytes + legacy.stat().st_size + 17
    files.run_dir(4).mkdir()  # an empty folder is no samples
    assert not files.exists(4) and not files.exists(3)


# ----------------------------------------------------------------- single-file runs (legacy)


def test_write_a_single_file_run_and_read_it_back(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    path = files.write(7, table())
    assert path == files.path_for(7) and files.exists(7)
    assert pq.read_table(path).equals(table())
    assert sample_files(path) == [path.resolve()]
    assert temporaries(files) == []


# ------------------------------------------------------------------- reading as one table


@pytest.fixture
def quoted_run(tmp_path: Path) -> Path:
    """A run folder of three parts under a data folder whose path has a single quote; only the
    middle part has the output's error column."""
    files = SampleFiles(tmp_path / "o'brien's data")
    for start, errors in ((CHUNK, True), (0, False), (2 * CHUNK, False)):
        files.write_part(1, start, table(100, start, errors), {"summary": "{}"})
    return files.run_dir(1)


def test_duckdb_source_reads_every_part_as_one_table(quoted_run: Path) -> None:
    source = duckdb_source(quoted_run)
    assert source.startswith("read_parquet([") and source.endswith("], union_by_name = true)")
    assert "*" not in source and "o''brien''s data" in source  # explicit files, quotes doubled
    with duckdb.connect() as con:
        rows = con.execute(f'SELECT iteration, "y error" FROM {source}').fetchall()
        columns = [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]
    assert [i for i, _ in rows] == ITERATIONS  # every part, in iteration order
    assert [(i, e) for i, e in rows if e is not None] == [(CHUNK + 1, "#DIV/0!")]
    assert columns == ["iteration", "x", "y", "y error"]


def test_duckdb_source_of_a_single_file_run(tmp_path: Path) -> None:
    path = SampleFiles(tmp_path / "it's").write(3, table(10))
    with duckdb.connect() as con:
        assert con.execute(f"SELECT sum(iteration) FROM {duckdb_source(path)}").fetchall() \
            == [(55,)]


def test_duckdb_source_of_nothing_is_an_error(tmp_path: Path) -> None:
    SampleFiles(tmp_path).run_dir(1).mkdir(parents=True)
    for missing in (tmp_path / "runs" / "1", tmp_path / "runs" / "2", tmp_path / "2.parquet"):
        with pytest.raises(FileNotFoundError):
            duckdb_source(missing)
        with pytest.raises(FileNotFoundError):
            read_schema(missing)


def test_schema_and_batches_unify_the_parts(quoted_run: Path) -> None:
    """The first part's columns, then the error column only a later part has; missing error
    values are nulls; rows in iteration order; the chunks' metadata stays behind."""
    schema = read_schema(quoted_run)
    assert schema.names == ["iteration", "x", "y", "y error"] and not schema.metadata
    batches = list(iter_batches(quoted_run, batch_size=64))
    assert all(b.schema == schema for b in batches)
    got = pa.Table.from_batches(batches)
    assert got["iteration"].to_pylist() == ITERATIONS
    assert got["y error"].null_count == 299
    assert got["y error"][100].as_py() == "#DIV/0!"  # the first row of the second part
