"""Cleanup on both stores: expired uploads go unless a run needs them, leftover sample files go
once old, usage is measured per user and audited; the scheduler repeats and survives failures."""

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
from db.entities import Actor
from db.errors import PermissionDenied
from db.samples import SampleFiles
from db.store import Store
from tests.db.runs import queue_run, upload


def age(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


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
    data_dir = store_settings.data_dir
    samples = SampleFiles(data_dir)
    mine = [upload(store, actor, data_dir, f"m{i}.xlsx") for i in range(2)]
    theirs = upload(store, other_actor, data_dir, "t.xlsx")
    run = queue_run(store, actor, mine[0])
    path = samples.write(run.id, pa.table({"iteration": list(range(1, 1001))}))
    store.set_run_status(run.id, "done", samples_path=str(path))
    queue_run(store, other_actor, theirs)  # no samples yet
    report = cleanup(store, samples, store_settings)
    alice, bob = report.usage[actor.user_id], report.usage[other_actor.user_id]
    assert (alice.username, alice.workbooks, alice.runs_with_samples) == ("alice", 2, 1)
    assert alice.workbook_bytes == sum(w.size_bytes for w in mine)
    assert alice.sample_bytes == path.stat().st_size > 0
    assert alice.total_bytes == alice.workbook_bytes + alice.sample_bytes
    assert (bob.workbooks, bob.workbook_bytes, bob.sample_bytes) == (1, theirs.size_bytes, 0)
    assert report.samples_bytes == samples.usage_bytes()
    figures = report.to_dict()["usage"][str(actor.user_id)]
    assert figures["total_bytes"] == alice.total_bytes


def test_leftover_sample_files_go_once_old(store: Store, store_settings: Settings,
                                           actor: Actor) -> None:
    samples = SampleFiles(store_settings.data_dir)
    run = queue_run(store, actor, upload(store, actor, store_settings.data_dir))
    kept = samples.write(run.id, pa.table({"iteration": [1, 2]}))
    samples.runs_dir.joinpath(".991.abc.tmp").write_bytes(b"half")  # a crashed write
    samples.runs_dir.joinpath(".992.def.tmp").write_bytes(b"busy")  # a write in progress
    samples.runs_dir.joinpath("993.parquet").write_bytes(b"PAR1")  # its run was deleted
    samples.runs_dir.joinpath("notes.txt").write_bytes(b"not ours")
    now = datetime.now(UTC)
    old = now - STRAY_AGE - timedelta(minutes=1)
    for name in (".991.abc.tmp", "993.parquet", "notes.txt", kept.name):
        age(samples.runs_dir / name, old)
    report = cleanup(store, samples, store_settings, now=now)
    assert sorted(report.stray_files) == [".991.abc.tmp", "993.parquet"]
    assert sorted(p.name for p in samples.runs_dir.iterdir()) == [
        ".992.def.tmp", kept.name, "notes.txt"]


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
