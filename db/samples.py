"""One Parquet file of samples per run, under ``data_dir/runs/<id>.parquet``.

A run's row in the metadata store may say ``done`` only once its file is complete, so every file is
written beside its final name under a temporary name, flushed to disk, checked to be a readable
Parquet file and only then renamed into place: a crash at any moment leaves either no file or the
whole file, never a truncated one under the run's name. Leftover temporary files from a crash are
ignored by readers (they never match ``<id>.parquet``) and still count in :meth:`usage_bytes`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

Writer = Callable[[str], object]
"""Writes a run's Parquet to the path it is given, e.g. ``lambda p: write_samples(r, m, p)``."""


class SampleFiles:
    """The samples folder: paths, atomic writes, deletion and disk usage."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.runs_dir = self.data_dir / "runs"

    def path_for(self, run_id: int) -> Path:
        """Where run ``run_id``'s samples live; the id is checked so no name escapes the folder."""
        if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
            raise ValueError(f"a run id is a non-negative integer, not {run_id!r}")
        return self.runs_dir / f"{run_id}.parquet"

    def write(self, run_id: int, data: pa.Table | Writer) -> Path:
        """Write the samples atomically and return the final path.

        ``data`` is a table, or a callable that writes the Parquet to the path it receives (the
        engine's ``write_samples``). The file is fsynced and opened as Parquet before the rename,
        and the folder is fsynced after it, so the rename is durable before the caller marks the
        run done.
        """
        final = self.path_for(run_id)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.runs_dir, prefix=f".{run_id}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if isinstance(data, pa.Table):
                pq.write_table(data, tmp, compression="zstd")
            else:
                data(str(tmp))
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            pq.ParquetFile(tmp).close()  # refuse to publish a file that is not valid Parquet
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.runs_dir)
        return final

    def delete(self, run_id: int) -> bool:
        """Remove the run's samples; False when there were none (deleting twice is not an error)."""
        try:
            self.path_for(run_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, run_id: int) -> bool:
        """Whether the run's complete samples file is in place."""
        return self.path_for(run_id).is_file()

    def usage_bytes(self) -> int:
        """Bytes used by the samples folder, temporary files of interrupted writes included."""
        if not self.runs_dir.is_dir():
            return 0
        total = 0
        for entry in os.scandir(self.runs_dir):
            with contextlib.suppress(FileNotFoundError):  # removed while we were counting
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
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
