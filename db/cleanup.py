"""Removal of expired uploads, and the disk usage figures admins see.

An upload expires at its ``retain_until``, or ``retention_days`` after it was uploaded. An expired
upload is removed only when no run needs it: a kept run must stay reproducible from its workbook.
The row goes first (the store refuses, with Conflict, while runs use the workbook, so a run
created meanwhile still wins), then the file. Temporary sample files left by a crashed write and
the samples of runs that no longer exist (a run's folder of chunk parts, or the single file of a
run from before chunking) are removed too, once old enough that no write can still be in
progress. Every pass is logged and audited with the usage figures.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from db.config import Settings
from db.entities import SYSTEM_ACTOR, Actor, WorkbookRecord
from db.errors import Conflict, NotFound, PermissionDenied
from db.samples import SampleFiles
from db.store import Store

log = logging.getLogger(__name__)

# A sample file is a leftover only when older than this: a write in progress is never removed.
STRAY_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class RemovedUpload:
    workbook_id: int
    owner_id: int
    filename: str
    stored_path: str
    size_bytes: int


@dataclass
class UserUsage:
    """What one user's files take on disk (sizes as found, not as recorded)."""

    user_id: int
    username: str
    workbooks: int = 0
    workbook_bytes: int = 0
    runs_with_samples: int = 0
    sample_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.workbook_bytes + self.sample_bytes


@dataclass
class CleanupReport:
    ran_at: datetime
    removed: list[RemovedUpload] = field(default_factory=list)
    kept_for_runs: list[int] = field(default_factory=list)  # expired, but runs still need them
    stray_files: list[str] = field(default_factory=list)  # leftovers removed, under runs/
    usage: dict[int, UserUsage] = field(default_factory=dict)  # by user id, after the pass
    samples_bytes: int = 0  # the whole samples folder, after the pass
    problems: list[str] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        return sum(r.size_bytes for r in self.removed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able figures, for the audit trail and the admin page."""
        return {"ran_at": self.ran_at.isoformat(), "freed_bytes": self.freed_bytes,
                "removed": [asdict(r) for r in self.removed],
                "kept_for_runs": self.kept_for_runs, "stray_files": self.stray_files,
                "usage": {str(uid): asdict(u) | {"total_bytes": u.total_bytes}
                          for uid, u in self.usage.items()},
                "samples_bytes": self.samples_bytes, "problems": self.problems}


def expires_at(workbook: WorkbookRecord, retention_days: float) -> datetime:
    """When an upload may go: its own ``retain_until``, else the retention after upload."""
    if workbook.retain_until is not None:
        return workbook.retain_until
    return workbook.uploaded + timedelta(days=retention_days)


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def cleanup(store: Store, samples: SampleFiles, settings: Settings, now: datetime | None = None, *,
            actor: Actor | None = None) -> CleanupReport:
    """One pass: remove expired uploads no run needs and leftover sample files, then measure
    disk usage by user. ``actor`` is the admin who triggered it (None for the scheduler); the
    pass is recorded in the audit trail under that actor."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("only an administrator can run the cleanup")
    now = now or datetime.now(UTC)
    report = CleanupReport(ran_at=now)
    data_dir = Path(settings.data_dir)
    for wb in store.list_workbooks(SYSTEM_ACTOR):
        if expires_at(wb, settings.retention_days) > now:
            continue
        if store.runs_needing_workbook(wb.id):
            report.kept_for_runs.append(wb.id)
            continue
        path = Path(wb.stored_path)
        if not _inside(path, data_dir):
            report.problems.append(f"workbook {wb.id} is stored outside the data directory "
                                   f"({path}); left alone")
            continue
        try:
            store.delete_workbook(SYSTEM_ACTOR, wb.id)
        except Conflict:  # a run started on it since we looked
            report.kept_for_runs.append(wb.id)
            continue
        except NotFound:  # deleted by its owner meanwhile
            continue
        size = _size(path) or wb.size_bytes
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            report.problems.append(f"could not remove {path}: {exc}")
        removed = RemovedUpload(wb.id, wb.owner_id, wb.filename, str(path), size)
        report.removed.append(removed)
        log.info("cleanup removed upload %s (%s, owner %s, %s bytes, expired %s)", wb.id,
                 wb.filename, wb.owner_id, size, expires_at(wb, settings.retention_days))
    _remove_stray_samples(store, samples, now, report)
    _measure(store, samples, report)
    log.info("cleanup: %d uploads removed (%d bytes), %d kept for runs, %d stray sample files, "
             "samples folder %d bytes", len(report.removed), report.freed_bytes,
             len(report.kept_for_runs), len(report.stray_files), report.samples_bytes)
    store.audit(None if actor is None else actor.user_id, "cleanup", "files", report.to_dict())
    return report


def _remove_stray_samples(store: Store, samples: SampleFiles, now: datetime,
                          report: CleanupReport) -> None:
    """Temporary files of interrupted writes (single-file runs' beside them, chunk parts' in the
    run's folder), and the samples of runs that no longer exist: a single file, or a folder of
    parts once nothing in it has changed for ``STRAY_AGE``."""
    if not samples.runs_dir.is_dir():
        return
    run_ids = {r.id for r in store.list_runs(SYSTEM_ACTOR)}
    for entry in os.scandir(samples.runs_dir):
        run_id = _run_id_of(entry.name.removesuffix(".parquet"))
        if entry.is_dir(follow_symlinks=False):
            if run_id is None:
                continue
            if run_id not in run_ids:
                if _is_old(_newest_change(Path(entry.path)), now):
                    _remove(Path(entry.path), f"{entry.name}/", report)
                continue
            for inner in os.scandir(entry.path):
                if _is_temporary(inner.name) and inner.is_file(follow_symlinks=False) \
                        and _is_old(_changed(inner), now):
                    _remove(Path(inner.path), f"{entry.name}/{inner.name}", report)
        elif entry.is_file(follow_symlinks=False):
            orphan = (entry.name.endswith(".parquet") and run_id is not None
                      and run_id not in run_ids)
            if (orphan or _is_temporary(entry.name)) and _is_old(_changed(entry), now):
                _remove(Path(entry.path), entry.name, report)


def _run_id_of(name: str) -> int | None:
    return int(name) if name.isascii() and name.isdigit() else None


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and ".tmp" in name


def _is_old(changed: datetime | None, now: datetime) -> bool:
    """Whether a leftover may go: no write can still be in progress after ``STRAY_AGE``."""
    return changed is not None and now - changed >= STRAY_AGE


def _changed(entry: os.DirEntry[str]) -> datetime | None:
    try:
        return datetime.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime, UTC)
    except FileNotFoundError:
        return None


def _newest_change(folder: Path) -> datetime | None:
    """The latest modification of the folder or anything in it (a chunk being written)."""
    try:
        times = [folder.lstat().st_mtime]
        for entry in os.scandir(folder):
            with contextlib.suppress(FileNotFoundError):
                times.append(entry.stat(follow_symlinks=False).st_mtime)
    except FileNotFoundError:
        return None
    return datetime.fromtimestamp(max(times), UTC)


def _remove(path: Path, name: str, report: CleanupReport) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        report.problems.append(f"could not remove {path}: {exc}")
        return
    report.stray_files.append(name)
    log.info("cleanup removed leftover samples %s", path)


def _measure(store: Store, samples: SampleFiles, report: CleanupReport) -> None:
    """Usage by user, workbooks and samples as found on disk: a run's samples are its folder of
    parts (a running run's too) and the single file of a run from before chunking."""
    names = {u.id: u.username for u in store.list_users(SYSTEM_ACTOR)}

    def usage(user_id: int) -> UserUsage:
        if user_id not in report.usage:
            report.usage[user_id] = UserUsage(user_id, names.get(user_id, f"user {user_id}"))
        return report.usage[user_id]

    for wb in store.list_workbooks(SYSTEM_ACTOR):
        u = usage(wb.owner_id)
        u.workbooks += 1
        u.workbook_bytes += _size(wb.stored_path)
    for run in store.list_runs(SYSTEM_ACTOR):
        size = samples.run_bytes(run.id)
        if size:
            u = usage(run.owner_id)
            u.runs_with_samples += 1
            u.sample_bytes += size
    report.samples_bytes = samples.usage_bytes()


class CleanupScheduler:
    """Runs ``task`` (a cleanup pass) at start and then every ``interval_hours`` in a daemon
    thread; a failing pass is logged and the schedule goes on. ``last_report`` holds the latest
    result for the admin page."""

    def __init__(self, interval_hours: float, task: Callable[[], CleanupReport]) -> None:
        if not interval_hours > 0:
            raise ValueError(f"the cleanup interval must be positive, got {interval_hours}")
        self.interval_s = interval_hours * 3600
        self.task = task
        self.last_report: CleanupReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, store: Store, samples: SampleFiles, settings: Settings
                     ) -> CleanupScheduler:
        """The app's scheduler: ``cleanup`` every ``settings.cleanup_interval_hours``."""
        return cls(settings.cleanup_interval_hours, lambda: cleanup(store, samples, settings))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="xlsim-cleanup", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_report = self.task()
            except Exception:  # the next pass may well succeed (a database restart)
                log.exception("scheduled cleanup failed")
            self._stop.wait(self.interval_s)

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
