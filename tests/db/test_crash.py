"""The crash test: ``python -m db.worker RUN_ID`` killed with SIGKILL while it simulates and while
it writes a run's samples. After a restart (a new RunService on a new store connection) the run
is interrupted, and no run claims to be done without its complete Parquet file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from db.cleanup import STRAY_AGE, cleanup
from db.config import Settings
from db.entities import Actor
from db.jobs import RunService
from db.samples import SampleFiles
from db.store import Store, open_store
from tests.db.conftest import TEST_BCRYPT_ROUNDS
from tests.db.runs import queue_run, upload

REPO = Path(__file__).resolve().parents[2]
BIG = 4_000_000  # about a second to write: long enough to be caught in the middle


def start_worker(settings: Settings, run_id: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return subprocess.Popen([sys.executable, "-m", "db.worker", str(run_id)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(condition, proc: subprocess.Popen[bytes], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"the worker ended (status {proc.returncode}) before {what}:\n{out}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.002)


def test_a_worker_process_runs_a_run_to_done(store: Store, store_settings: Settings,
                                             actor: Actor) -> None:
    run = queue_run(store, actor, upload(store, actor, store_settings.data_dir), 2000)
    proc = start_worker(store_settings, run.id)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out.decode()
    done = store.get_run(actor, run.id)
    assert done.status == "done"
    assert pq.ParquetFile(done.samples_path).metadata.num_rows == 2000
    again = start_worker(store_settings, run.id)  # only a queued run can be started
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 2 and b"only a queued run" in out


@pytest.mark.parametrize("moment", ["simulating", "writing samples"])
def test_sigkill_leaves_no_done_run_without_its_complete_file(
        moment: str, store: Store, store_settings: Settings, actor: Actor,
        admin_actor: Actor) -> None:
    samples = SampleFiles(store_settings.data_dir)
    workbook = upload(store, actor, store_settings.data_dir)
    finished = queue_run(store, actor, workbook, 1000)
    proc = start_worker(store_settings, finished.id)
    assert proc.wait(120) == 0
    run = queue_run(store, actor, workbook, BIG)
    proc = start_worker(store_settings, run.id)

    def partial_files() -> list[Path]:
        """The engine's file being written inside SampleFiles' temporary file (not yet
        renamed to the run's name), once it holds data."""
        if not samples.runs_dir.is_dir():
            return []
        return [p for p in samples.runs_dir.glob(f".{run.id}.*.tmp-*")
                if p.exists() and p.stat().st_size > 0]

    if moment == "simulating":
        wait_for(lambda: store.get_run(actor, run.id).progress > 0, proc, "a chunk is done")
    else:
        wait_for(lambda: bool(partial_files()), proc, "the samples are being written")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert store.get_run(actor, run.id).status == "running"  # what the dead process left
    assert not samples.exists(run.id)  # never renamed into place
    if moment == "writing samples":
        assert partial_files()  # killed in the middle of the write

    with open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) as restarted:
        service = RunService(restarted, samples, store_settings)
        service.shutdown()
        assert service.interrupted == [run.id]
        interrupted = restarted.get_run(actor, run.id)
        assert interrupted.status == "interrupted" and interrupted.error
        assert interrupted.samples_path is None
        for record in restarted.list_runs(admin_actor):
            if record.status == "done":
                assert record.samples_path == str(samples.path_for(record.id))
                assert pq.ParquetFile(record.samples_path).metadata.num_rows == record.iterations
            else:
                assert not samples.exists(record.id)
        assert [r.id for r in restarted.list_runs(admin_actor) if r.status == "done"] == [
            finished.id]
        leftovers = sorted(p.name for p in samples.runs_dir.iterdir()
                           if p.name != f"{finished.id}.parquet")
        assert bool(leftovers) == (moment == "writing samples")
        later = interrupted.created + STRAY_AGE + timedelta(minutes=5)
        report = cleanup(restarted, samples, store_settings, now=later)
        assert sorted(report.stray_files) == leftovers
        assert [p.name for p in samples.runs_dir.iterdir()] == [f"{finished.id}.parquet"]
