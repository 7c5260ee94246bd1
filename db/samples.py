"""A run's samples on disk, under ``data_dir/runs``, and how every reader opens them.

A run executes as chunks (fixed iteration ranges) on the cluster's workers, and each chunk writes
its own Parquet *part*: ``runs/<id>/part-<start:012d>.parquet``, ``start`` being the chunk's first
iteration (0-based), zero-padded so that name order is iteration order. A part holds
``iteration`` (1-based), one column per input and per output, and an ``"<output> error"`` text
column only where that output had errors in that chunk, so parts of one run may differ in their
columns: :func:`duckdb_source`, :func:`read_schema` and :func:`iter_batches` read them as one
table, the missing error columns as nulls. Runs from before chunking have one file,
``runs/<id>.parquet``; the run's row's ``samples_path`` names the file for those, the folder for
the others, and every function here that takes a ``samples_path`` accepts both.

Every file is written beside its final name under a temporary name (a leading dot, ``.tmp`` at the
end), flushed to disk, checked to be readable Parquet and only then renamed into place, then the
folder is flushed: a crash at any moment leaves either no file or the whole file, never a
truncated one under a final name. Temporary files are never read and still count in
:meth:`SampleFiles.usage_bytes`; the cleanup removes old ones.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PART = re.compile(r"part-(\d{12})\.parquet")
"""A part's file name; its number is the chunk's first iteration (0-based)."""

_START_LIMIT = 10**12  # twelve digits keep name order and iteration order the same
_OWN_METADATA = b"ARROW:schema"  # pyarrow's copy of the schema, not the caller's metadata


class SampleFiles:
    """The samples folder: paths, atomic writes, deletion and disk usage, by run id."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.runs_dir = self.data_dir / "runs"

    def run_dir(self, run_id: int) -> Path:
        """The folder of run ``run_id``'s parts (the id is checked so no name escapes)."""
        return self.runs_dir / str(_check_id(run_id))

    def part_path(self, run_id: int, start: int) -> Path:
        """Where the chunk starting at iteration ``start`` (0-based) of the run is stored."""
        return self.run_dir(run_id) / _part_name(start)

    def path_for(self, run_id: int) -> Path:
        """The single file of a run from before chunking (``runs/<id>.parquet``)."""
        return self.runs_dir / f"{_check_id(run_id)}.parquet"

    def write_part(self, run_id: int, start: int, table: pa.Table,
                   metadata: dict[str, str] | None = None) -> Path:
        """Write one chunk's samples atomically and return the part's path.

        ``metadata`` goes into the file's footer (key-value metadata), so a chunk's summary and
        its samples are published together by the one rename. Writing a part again (a retried
        chunk) replaces it. Each attempt writes its own temporary file (process id and a random
        token in its name), so two attempts of one chunk racing cannot mix their bytes: the last
        rename wins, whole.
        """
        final = self.part_path(run_id, start)
        if metadata:
            extra = {str(k).encode(): str(v).encode() for k, v in metadata.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
        self._ensure_run_dir(final.parent)
        tmp = final.with_name(f".{final.stem}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        return self._publish(tmp, final, table)

    @staticmethod
    def read_part_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
        """The key-value metadata :meth:`write_part` stored with a part (read from the footer
        alone, not the data), without pyarrow's own schema entry."""
        stored = pq.read_metadata(path).metadata or {}
        return {k.decode(): v.decode() for k, v in stored.items() if k != _OWN_METADATA}

    def parts(self, run_id: int) -> list[Path]:
        """The run's complete parts in iteration order (temporary files are not parts)."""
        return _parts_in(self.run_dir(run_id))

    def write(self, run_id: int, table: pa.Table) -> Path:
        """Write a single-file run (the layout before chunking) atomically; return its path.

        Nothing in the app writes this layout any more; it stays so that tests can make the
        runs stored before chunking, which every reader must still read.
        """
        final = self.path_for(run_id)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.runs_dir / f".{run_id}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
        return self._publish(tmp, final, table)

    def delete(self, run_id: int) -> bool:
        """Remove the run's samples, parts and single file alike; False when there were none
        (deleting twice is not an error)."""
        found = False
        folder = self.run_dir(run_id)
        if folder.is_dir():
            shutil.rmtree(folder)
            found = True
        try:
            self.path_for(run_id).unlink()
            found = True
        except FileNotFoundError:
            pass
        return found

    def delete_parts_from(self, run_id: int, start: int) -> list[Path]:
        """Remove the run's parts that start at or after iteration ``start`` and return them:
        a run its convergence rule stopped early keeps only the chunks up to that point.

        A chunk that is still running may publish its part after this returns (cancelling a
        cluster task does not stop it mid-write), so call it again once every chunk of the run
        has ended, before the run is marked done: readers take every part in the folder.
        """
        first = _check_start(start)
        removed = []
        for part in self.parts(run_id):
            if _start_of(part) >= first:
                part.unlink(missing_ok=True)
                removed.append(part)
        if removed:
            _fsync_dir(self.run_dir(run_id))
        return removed

    def exists(self, run_id: int) -> bool:
        """Whether the run has samples on disk: at least one part, or its single file."""
        return bool(self.parts(run_id)) or self.path_for(run_id).is_file()

    def run_bytes(self, run_id: int) -> int:
        """Bytes the run takes: its folder (temporary files included) and its single file."""
        return _tree_bytes(self.run_dir(run_id)) + _file_bytes(self.path_for(run_id))

    def usage_bytes(self) -> int:
        """Bytes under the samples folder, both layouts and temporary files included."""
        return _tree_bytes(self.runs_dir)

    def _ensure_run_dir(self, folder: Path) -> None:
        if folder.is_dir():
            return
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        folder.mkdir(exist_ok=True)
        _fsync_dir(self.runs_dir)  # the new folder's entry survives a crash with its first part

    @staticmethod
    def _publish(tmp: Path, final: Path, table: pa.Table) -> Path:
        """Write ``table`` to ``tmp``, fsync it, check it is Parquet, rename it to ``final``,
        fsync the folder: the rename is durable before the caller records the file anywhere."""
        try:
            pq.write_table(table, tmp, compression="zstd")
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            pq.ParquetFile(tmp).close()  # refuse to publish a file that is not valid Parquet
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return final


# ------------------------------------------------------------------ reading by samples_path


def sample_files(samples_path: str | os.PathLike[str]) -> list[Path]:
    """The absolute paths of the Parquet files that hold a run's samples, in iteration order:
    the parts of a run folder, or a single-file run's file; empty when there are none."""
    path = Path(samples_path).resolve()
    if path.is_dir():
        return _parts_in(path)
    return [path] if path.is_file() else []


def duckdb_source(samples_path: str | os.PathLike[str]) -> str:
    """A DuckDB table expression for a run's samples: ``read_parquet([...], union_by_name =
    true)`` over the explicit, sorted list of its files (never a glob, so the console's views
    read exactly these files), each path quoted as a SQL string. FileNotFoundError when the
    run has no samples on disk."""
    files = sample_files(samples_path)
    if not files:
        raise FileNotFoundError(f"no samples at {os.fspath(samples_path)}")
    listing = ", ".join(sql_string(str(f)) for f in files)
    return f"read_parquet([{listing}], union_by_name = true)"


def read_schema(samples_path: str | os.PathLike[str]) -> pa.Schema:
    """The columns of a run's samples read as one table, from the footers alone: the first
    part's columns in order, then the columns only later parts have (their error columns).
    FileNotFoundError when the run has no samples on disk; pyarrow's error for an unreadable
    file or parts whose types disagree."""
    files = sample_files(samples_path)
    if not files:
        raise FileNotFoundError(f"no samples at {os.fspath(samples_path)}")
    return pa.unify_schemas([pq.read_schema(f).remove_metadata() for f in files])


def iter_batches(samples_path: str | os.PathLike[str], batch_size: int = 65_536
                 ) -> Iterator[pa.RecordBatch]:
    """The run's rows in iteration order (parts by their start, each in its own order), every
    batch with the columns of :func:`read_schema`; a column a part lacks is null."""
    schema = read_schema(samples_path)
    for path in sample_files(samples_path):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield pa.RecordBatch.from_arrays(
                [batch.column(f.name).cast(f.type) if f.name in batch.schema.names
                 else pa.nulls(batch.num_rows, f.type) for f in schema], schema=schema)


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


# ------------------------------------------------------------------------------- helpers


def _check_id(run_id: int) -> int:
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
        raise ValueError(f"a run id is a non-negative integer, not {run_id!r}")
    return run_id


def _check_start(start: int) -> int:
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < _START_LIMIT:
        raise ValueError(f"a chunk's start is an iteration from 0 to {_START_LIMIT - 1}, "
                         f"not {start!r}")
    return start


def _part_name(start: int) -> str:
    return f"part-{_check_start(start):012d}.parquet"


def _start_of(part: Path) -> int:
    return int(PART.fullmatch(part.name).group(1))


def _parts_in(folder: Path) -> list[Path]:
    try:
        names = [entry.name for entry in os.scandir(folder)
                 if PART.fullmatch(entry.name) and entry.is_file(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted((folder / name for name in names), key=_start_of)


def _file_bytes(path: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(path)
        return info.st_size if stat.S_ISREG(info.st_mode) else 0
    return 0


def _tree_bytes(folder: Path) -> int:
    """Bytes of the plain files under ``folder`` (links not followed); 0 without it. A file
    removed while counting is skipped."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                info = os.lstat(os.path.join(root, name))
                total += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return total


def _fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (POSIX; a no-op where folders cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
