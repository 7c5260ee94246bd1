"""Cleanup on both stores: expired uploads go unless a run needs them, leftover samples (temporary
files, the parts or single file of a deleted run) go once old, usage is measured per user over
both layouts and audited; the scheduler repeats and survives failures."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from db.cleanup import STRAY_AGE, CleanupReport, CleanupScheduler, cleanup, expires_at
from db.config import Settings
from db.entities import SYSTEM_ACTOR, Actor
from db.errors import PermissionDenied
from db.samples import SampleFiles
from db.store import Store
from tests.db.runs import queue_run, upload


def age(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()), follow_symlinks=False)


def iterations(start: int, count: int) -> pa.Table:
    """A chunk's samples: iterations start+1..start+count."""
    return pa.table({"iteration": pa.array(range(start + 1, start + count + 1), pa.int64()),
                     "x": pa.array([0.5] * count)})


def test_expired_uploads_go_unless_a_run_needs_them(store: Store, store_settings: Settings,
                                                    actor: Actor, other_actor: Actor,
                                                    admin_actor: Actor,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    data_dir = store_settings.data_dir
    samples = SampleFiles(data_dir)
    now = datetime.now(UTC) + timedelta(days=store_settings.retention_days + 1)
    expired = upload(store, actor, data_dir, "old.xlsx")
    needed = upload(store, actor, data_dir, "used.xlsx")
    queue_run(store, actor, needed)
    kept_longer = upload(store, other_actor, data_dir, "kept.xlsx",
                         retain_until=now + timedelta(days=1))
    short = upload(store, other_actor, data_dir, "short.xlsx",
                   retain_until=datetime.now(UTC) - timedelta(minutes=1))
    assert expires_at(expired, store_settings.retention_days) < now
    assert expires_at(short, store_settings.retention_days) < datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger="db.cleanup"):
        report = cleanup(store, samples, store_settings, now=now)
    assert sorted(r.workbook_id for r in report.removed) == sorted([expired.id, short.id])
    assert report.kept_for_runs == [needed.id]
    assert report.freed_bytes == expired.size_bytes + short.size_bytes
    for gone in (expired, short):
        assert not Path(gone.stored_path).exists()
    remaining = {w.id for w in store.list_workbooks(admin_actor)}
    assert remaining == {needed.id, kept_longer.id}
    assert Path(needed.stored_path).exists() and Path(kept_longer.stored_path).exists()
    assert "old.xlsx" in caplog.text and "short.xlsx" in caplog.text
    entry = next(e for e in store.list_audit(admin_actor) if e.action == "cleanup")
    assert entry.actor_id is None
    assert entry.detail["freed_bytes"] == report.freed_bytes
    assert {r["workbook_id"] for r in entry.detail["removed"]} == {expired.id, short.id}
    assert cleanup(store, samples, store_settings, now=now).removed == []  # nothing left to do


def test_usage_by_user(store: Store, store_settings: Settings, actor: Actor,
                       other_actor: Actor) -> None:
    """Sizes as found on disk, both layouts: a run's folder of parts (a running run's too) and
    the single file of a run from before chunking."""
    data_dir = store_settings.data_dir
    samples = SampleFiles(data_dir)
    mine = [upload(store, actor, data_dir, f"m{i}.xlsx") for i in range(2)]
    theirs = upload(store, other_actor, data_dir, "t.xlsx")
    run = queue_run(store, actor, mine[0])
    parts = [samples.write_part(run.id, start, iterations(start, 1000), {"summary": "{}"})
             for start in (0, 1000, 2000)]
    store.set_run_status(run.id, "done", samples_path=str(samples.run_dir(run.id)))
    running = queue_run(store, actor, mine[1])
    store.set_run_status(running.id, "running")
    first_chunk = samples.write_part(running.id, 0, iterations(0, 500))
    old = queue_run(store, other_actor, theirs)
    legacy = samples.write(old.id, iterations(0, 1000))
    store.set_run_status(old.id, "done", samples_path=str(legacy))
    queue_run(store, other_actor, theirs)  # no samples yet
    report = cleanup(store, samples, store_settings)
    alice, bob = report.usage[actor.user_id], report.usage[other_actor.user_id]
    assert (alice.username, alice.workbooks, alice.runs_with_samples) == ("alice", 2, 2)
    assert alice.workbook_bytes == sum(w.size_bytes for w in mine)
    assert alice.sample_bytes == sum(p.stat().st_size for p in [*parts, first_chunk]) > 0
    assert alice.total_bytes == alice.workbook_bytes + alice.sample_bytes
    assert (bob.workbooks, bob.workbook_bytes, bob.runs_with_samples) == (1, theirs.size_bytes, 1)
    assert bob.sample_bytes == legacy.stat().st_size > 0
    assert report.samples_bytes == samples.usage_bytes() == alice.sample_bytes + bob.sample_bytes
    figures = report.to_dict()["usage"][str(actor.user_id)]
    assert figures["total_bytes"] == alice.total_bytes


def test_disk_usage_counts_chunk_parts(store: Store, store_settings: Settings,
                                       actor: Actor) -> None:
    """The admin page's figure: a samples folder holding only parts is not 0 bytes."""
    samples = SampleFiles(store_settings.data_dir)
    run = queue_run(store, actor, upload(store, actor, store_settings.data_dir))
    part = samples.write_part(run.id, 0, iterations(0, 10_000))
    store.set_run_status(run.id, "done", samples_path=str(samples.run_dir(run.id)))
    report = cleanup(store, samples, store_settings)
    assert report.samples_bytes == part.stat().st_size > 0
    assert report.usage[actor.user_id].sample_bytes == part.stat().st_size
    entry = next(e for e in store.list_audit(SYSTEM_ACTOR) if e.action == "cleanup")
    assert entry.detail["samples_bytes"] == part.stat().st_size


def test_leftover_samples_go_once_old(store: Store, store_settings: Settings,
                                      actor: Actor) -> None:
    samples = SampleFiles(store_settings.data_dir)
    workbook = upload(store, actor, store_settings.data_dir)
    legacy_run, parts_run = queue_run(store, actor, workbook), queue_run(store, actor, workbook)
    kept = samples.write(legacy_run.id, iterations(0, 2))
    kept_part = samples.write_part(parts_run.id, 0, iterations(0, 2))
    runs, folder = samples.runs_dir, samples.run_dir(parts_run.id)
    (folder / ".part-000000000002.7.ab.tmp").write_bytes(b"half")  # a chunk's crashed write
    (folder / ".part-000000000004.7.cd.tmp").write_bytes(b"busy")  # a chunk being written
    for orphan in (993, 994):  # their runs were deleted
        samples.write_part(orphan, 0, iterations(0, 2))
    (samples.run_dir(994) / ".part-000000000002.8.ef.tmp").write_bytes(b"busy")  # still busy
    runs.joinpath(".991.abc.tmp").write_bytes(b"half")  # a single-file run's crashed write
    runs.joinpath(".992.def.tmp").write_bytes(b"busy")  # one in progress
    runs.joinpath("995.parquet").write_bytes(b"PAR1")  # its run was deleted
    runs.joinpath("notes.txt").write_bytes(b"not ours")
    runs.joinpath("scratch").mkdir()  # not a run's folder
    now = datetime.now(UTC)
    old = now - STRAY_AGE - timedelta(minutes=1)
    for path in (runs / ".991.abc.tmp", runs / "995.parquet", runs / "notes.txt", kept,
                 kept_part, folder / ".part-000000000002.7.ab.tmp", runs / "scratch",
                 *samples.parts(993), samples.run_dir(993), *samples.parts(994),
                 samples.run_dir(994)):
        age(path, old)
    report = cleanup(store, samples, store_settings, now=now)
    assert sorted(report.stray_files) == [
        ".991.abc.tmp", f"{parts_run.id}/.part-000000000002.7.ab.tmp", "993/", "995.parquet"]
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        [".992.def.tmp", kept.name, str(parts_run.id), "994", "notes.txt", "scratch"])
    assert sorted(p.name for p in folder.iterdir()) == [".part-000000000004.7.cd.tmp",
                                                        kept_part.name]
    assert samples.parts(994)  # a folder with a write in progress is not a leftover yet
    assert cleanup(store, samples, store_settings, now=now).stray_files == []


def test_files_outside_the_data_directory_are_left_alone(store: Store, store_settings: Settings,
                                                         actor: Actor, tmp_path: Path) -> None:
    outside = upload(store, actor, tmp_path / "elsewhere", "x.xlsx")
    report = cleanup(store, SampleFiles(store_settings.data_dir), store_settings,
                     now=datetime.now(UTC) + timedelta(days=30))
    assert report.removed == [] and Path(outside.stored_path).exists()
    assert "outside the data directory" in report.problems[0]


def test_admins_trigger_it_analysts_cannot(store: Store, store_settings: Settings, actor: Actor,
                                           admin_actor: Actor) -> None:
    samples = SampleFiles(store_settings.data_dir)
    with pytest.raises(PermissionDenied):
        cleanup(store, samples, store_settings, actor=actor)
    cleanup(store, samples, store_settings, actor=admin_actor)
    entry = next(e for e in store.list_audit(admin_actor) if e.action == "cleanup")
    assert entry.actor_id == admin_actor.user_id


def test_the_scheduler_repeats_and_survives_failures(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []
    three = threading.Event()

    def task() -> CleanupReport:
        calls.append(time.monotonic())
        if len(calls) == 3:
            three.set()
        if len(calls) == 2:
            raise RuntimeError("database restarting")
        return CleanupReport(ran_at=datetime.now(UTC))

    scheduler = CleanupScheduler(0.05 / 3600, task)  # every 50 ms
    with caplog.at_level(logging.ERROR, logger="db.cleanup"):
        scheduler.start()
        scheduler.start()  # a second start does not add a thread
        assert three.wait(10)
        scheduler.stop()
    assert "scheduled cleanup failed" in caplog.text
    assert isinstance(scheduler.last_report, CleanupReport)
    count = len(calls)
    time.sleep(0.15)
    assert len(calls) == count  # stopped
    assert calls[1] - calls[0] >= 0.04
    with pytest.raises(ValueError):
        CleanupScheduler(0, task)


def test_the_app_scheduler_cleans_with_the_settings(store: Store, store_settings: Settings,
                                                    actor: Actor) -> None:
    expired = upload(store, actor, store_settings.data_dir,
                     retain_until=datetime.now(UTC) - timedelta(seconds=1))
    scheduler = CleanupScheduler.for_settings(store, SampleFiles(store_settings.data_dir),
                                              store_settings)
    assert scheduler.interval_s == store_settings.cleanup_interval_hours * 3600
    scheduler.start()  # the first pass runs at once
    deadline = time.monotonic() + 10
    while scheduler.last_report is None and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    assert scheduler.last_report is not None
    assert [r.workbook_id for r in scheduler.last_report.removed] == [expired.id]
