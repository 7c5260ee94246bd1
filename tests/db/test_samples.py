"""Samples files: where they live, atomic durable writes, deletion and disk usage."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db import samples as samples_module
from db.samples import SampleFiles


def table(n: int = 100) -> pa.Table:
    return pa.table({"iteration": pa.array(range(1, n + 1), pa.int64()),
                     "x": pa.array([i * 0.5 for i in range(n)])})


def leftovers(files: SampleFiles) -> list[str]:
    return sorted(p.name for p in files.runs_dir.iterdir() if not p.name.endswith(".parquet"))


def test_path_for_is_inside_the_runs_folder(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    assert files.path_for(42) == tmp_path / "runs" / "42.parquet"


@pytest.mark.parametrize("bad", [-1, True, "1", "../etc/passwd", 1.0, None])
def test_path_for_refuses_anything_but_a_run_id(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="run id"):
        SampleFiles(tmp_path).path_for(bad)  # type: ignore[arg-type]


def test_write_a_table_and_read_it_back(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    assert not files.exists(7)
    path = files.write(7, table())
    assert path == files.path_for(7) and files.exists(7)
    assert pq.read_table(path).equals(table())
    assert leftovers(files) == []


def test_write_with_the_engines_writer(tmp_path: Path, make_xlsx) -> None:
    """The callable form, as the worker uses it: ``lambda p: write_samples(result, model, p)``."""
    from engine.loader import load_workbook
    from engine.montecarlo.model import build_model
    from engine.montecarlo.simulate import RunSettings, simulate, write_samples

    model = build_model(load_workbook(make_xlsx({"A1": 1, "B1": "=A1*2"})),
                        {"Sheet1!A1": "uniform(0,1)"}, ["Sheet1!B1"])
    result = simulate(model, RunSettings(iterations=500, seed=5))
    files = SampleFiles(tmp_path)
    path = files.write(3, lambda p: write_samples(result, model, p))
    got = pq.read_table(path)
    assert got.num_rows == 500 and got.column_names == ["iteration", "Sheet1!A1", "Sheet1!B1"]
    assert leftovers(files) == []


def test_a_failing_writer_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    files.write(1, table(10))

    def crash(path: str) -> None:
        pq.write_table(table(1000), path)
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        files.write(1, crash)
    with pytest.raises(RuntimeError):
        files.write(2, crash)
    assert pq.read_table(files.path_for(1)).num_rows == 10
    assert not files.exists(2)
    assert leftovers(files) == []


def test_a_truncated_file_is_never_published(tmp_path: Path) -> None:
    """A writer that leaves a half-written file (no footer) is caught before the rename."""
    files = SampleFiles(tmp_path)

    def half(path: str) -> None:
        pq.write_table(table(1000), path)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])

    with pytest.raises(pa.ArrowInvalid):
        files.write(5, half)
    assert not files.exists(5) and leftovers(files) == []


def test_the_file_is_synced_before_the_rename_and_the_folder_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(samples_module.os, "fsync", fsync)
    monkeypatch.setattr(samples_module.os, "replace", replace)
    SampleFiles(tmp_path).write(1, table())
    if os.path.isdir("/proc/self/fd"):
        assert events == ["fsync-file", "replace", "fsync-dir"]
    else:
        assert events.index("replace") > 0 and len(events) == 3


def test_delete_and_usage(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    assert files.usage_bytes() == 0  # no folder yet
    a, b = files.write(1, table(100)), files.write(2, table(5000))
    assert files.usage_bytes() == a.stat().st_size + b.stat().st_size
    (files.runs_dir / ".3.crash.tmp").write_bytes(b"x" * 10)  # left by a killed worker
    assert files.usage_bytes() == a.stat().st_size + b.stat().st_size + 10
    assert files.delete(1) is True
    assert files.delete(1) is False
    assert not files.exists(1) and files.exists(2)
