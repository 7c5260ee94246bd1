"""Runs executed off the UI thread, with progress, cancellation and a per-user limit.

One function, ``execute_run``, takes a queued run to its end (done, failed or cancelled); the
thread pool of ``RunService`` and the process runner ``python -m db.worker RUN_ID`` both call it,
so the crash test exercises the code the app uses. The order of its steps is what makes crashes
safe: the samples are written atomically (``SampleFiles.write``: temporary file, fsync, rename)
BEFORE the run's row says done, so a process killed at any moment leaves either no file or a
complete one, and a row that is queued or running, which the next start marks interrupted.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import tomllib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from db.cache import Cache, cached, model_key, signed_pickle
from db.config import Settings
from db.entities import Actor, RunRecord
from db.errors import StoreError
from db.samples import SampleFiles
from db.secrets import load_or_create_secret
from db.store import Store
from engine.errors import WorkbookError

log = logging.getLogger(__name__)

# Share of the progress bar given to the iterations; writing the samples takes the rest.
SIMULATION_SHARE = 0.9
# Settings a run's spec may carry besides the run's own columns (iterations, seed, sampling).
SPEC_SETTINGS = ("correlations", "percentiles", "target", "var_level", "stop_tolerance",
                 "stop_confidence")
_COLUMN_SETTINGS = ("iterations", "seed", "sampling", "device")


class Cancelled(Exception):
    """Raised by the progress callback between chunks to stop a run; ``status`` is what the
    run becomes (cancelled by a user, interrupted by a shutdown)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class LimitReached(StoreError):
    """The owner already has as many runs queued or running as allowed."""


@functools.cache
def engine_version() -> str:
    """The installed package's version, or the one in pyproject.toml when running from a
    checkout that was never installed (the version keys cached models and is stored per run)."""
    try:
        return metadata.version("xlsim")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        with pyproject.open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])


def run_settings(record: RunRecord, device: str = "cpu") -> Any:
    """The engine's RunSettings for a run: iterations, seed and sampling from the run's columns
    (what the run list shows is what ran), everything else from ``spec["settings"]``; ``device``
    is the resolved one ("cpu" or "cuda", from ``select_device(record.device)``)."""
    from engine.montecarlo.simulate import RunSettings

    extra = dict((record.spec or {}).get("settings") or {})
    unknown = sorted(set(extra) - set(SPEC_SETTINGS) - set(_COLUMN_SETTINGS))
    if unknown:
        raise ValueError(f"unknown run setting {', '.join(unknown)} (allowed: "
                         f"{', '.join(SPEC_SETTINGS)})")
    kwargs = {k: extra[k] for k in SPEC_SETTINGS if extra.get(k) is not None}
    if "correlations" in kwargs:
        pairs: dict[tuple[str, str], float] = {}
        for item in kwargs["correlations"]:
            if len(item) != 3:
                raise ValueError(f"a correlation is [input, input, coefficient], got {item!r}")
            pairs[(str(item[0]), str(item[1]))] = float(item[2])
        kwargs["correlations"] = pairs
    if "percentiles" in kwargs:
        kwargs["percentiles"] = tuple(float(p) for p in kwargs["percentiles"])
    return RunSettings(iterations=int(record.iterations), seed=int(record.seed),
                       sampling=record.sampling, device=device, **kwargs)


def jsonable(value: Any) -> Any:
    """The run's results as plain JSON: numpy scalars and arrays become Python values, and NaN
    or infinities become null (PostgreSQL's jsonb refuses them)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load_model_workbook(path: str, content_hash: str, cache: Cache | None,
                        signing_key: bytes) -> Any:
    """The loaded workbook, from the cache when another run (or process) already read this file
    with this engine. The compiled model itself holds closures and cannot be stored, so the
    cache keeps the loaded workbook, which is what costs seconds on large files; entries are
    signed pickles (db.cache.signed_pickle)."""
    from engine.loader import load_workbook

    if cache is None:
        return load_workbook(path)
    dumps, loads = signed_pickle(signing_key)
    return cached(cache, model_key(content_hash, engine_version()),
                  lambda: load_workbook(path), dumps, loads)


def execute_run(store: Store, samples: SampleFiles, record: RunRecord, workbook_path: str,
                content_hash: str, *, stop: Callable[[], Cancelled | None] = lambda: None,
                cache: Cache | None = None) -> str:
    """Take a queued run to its end and return the status it ended with.

    ``stop()`` is asked between chunks; a Cancelled it returns ends the run with its status.
    Every failure is recorded on the run with its message; nothing is raised, since the caller
    is a pool thread or a worker process with nobody to tell.
    """
    # The compiler and the machine (numba) load on the first run, not when the app imports us.
    from engine.montecarlo.device import select_device
    from engine.montecarlo.model import build_model
    from engine.montecarlo.simulate import simulate, write_samples

    run_id = record.id

    def check() -> None:
        reason = stop()
        if reason is not None:
            raise reason

    def progress(done: int, total: int) -> None:
        check()
        store.update_progress(run_id, SIMULATION_SHARE * done / total)

    written = False
    try:
        check()
        store.set_run_status(run_id, "running", progress=0.0)
        settings = run_settings(record, select_device(record.device))
        if not Path(workbook_path).is_file():  # removed by hand or lost with a volume
            raise ValueError(f"the workbook file {Path(workbook_path).name} is missing on the "
                             "server; upload it again")
        key = b"" if cache is None else load_or_create_secret(samples.data_dir, "cache-signing-key")
        workbook = load_model_workbook(workbook_path, content_hash, cache, key)
        spec = record.spec or {}
        model = build_model(workbook, spec.get("inputs") or None, spec.get("outputs") or None)
        result = simulate(model, settings, progress=progress)
        check()
        path = samples.write(run_id, lambda p: write_samples(result, model, str(p)))
        written = True
        summary = jsonable(result.to_dict())
        summary["device"] = result.device
        store.set_run_status(run_id, "done", progress=1.0, summary=summary,
                             samples_path=str(path))
        return "done"
    except Cancelled as exc:
        status, error = exc.status, str(exc)
    except Exception as exc:  # the run fails; the message is what the user will read
        if isinstance(exc, ValueError | StoreError | WorkbookError):
            error = str(exc)
        else:
            log.exception("run %s failed", run_id)
            error = f"{type(exc).__name__}: {exc}"
        status = "failed"
    if written:  # the row could not say done: a file nobody points to must not stay behind
        samples.delete(run_id)
    try:
        store.set_run_status(run_id, status, error=error)
    except Exception:  # the store itself is gone: the next start marks the run interrupted
        log.exception("run %s ended %s (%s) but the store could not record it", run_id, status,
                      error)
    return status


class RunService:
    """Runs submitted by users, executed by a pool of ``settings.workers`` threads (the engine
    does its heavy work in compiled code that releases the GIL, so threads run in parallel and
    share the cache and the store's connections).

    At construction every run left queued or running by a previous process is marked
    interrupted (``self.interrupted`` lists them): nothing else can be executing them.
    """

    def __init__(self, store: Store, samples: SampleFiles, settings: Settings, *,
                 cache: Cache | None = None) -> None:
        self.store = store
        self.samples = samples
        self.settings = settings
        self.cache = cache
        self.interrupted: list[int] = store.mark_interrupted()
        if self.interrupted:
            log.warning("runs interrupted by the previous shutdown or crash: %s",
                        ", ".join(map(str, self.interrupted)))
        self._pool = ThreadPoolExecutor(max_workers=settings.workers,
                                        thread_name_prefix="xlsim-run")
        self._lock = threading.Lock()
        self._futures: dict[int, Future[str]] = {}
        self._stops: dict[int, Cancelled] = {}  # why a run in self._futures must stop

    def submit(self, actor: Actor, run_id: int) -> Future[str]:
        """Start a queued run of ``actor``'s (or any, for an admin); the future's result is
        the status it ends with.

        The owner's limit counts runs running anywhere (the store) and runs waiting in this
        service's queue; a run that was created but never submitted does not count, so two tabs
        creating runs at once cannot refuse each other. Over the limit, the run is cancelled
        with the reason and LimitReached raised, so a refused run stays out of later counts."""
        record = self.store.get_run(actor, run_id)
        workbook = self.store.get_workbook(actor, record.workbook_id)
        limit = self.settings.max_concurrent_runs_per_user
        with self._lock:  # two submits of one user must not both pass the check
            if record.status != "queued" or run_id in self._futures:
                raise StoreError(f"run {run_id} is {record.status}: only a queued run can be "
                                 "started")
            others = sum(1 for r in self.store.list_runs(actor)
                         if r.owner_id == record.owner_id and r.id != run_id
                         and (r.status == "running" or r.id in self._futures))
            if others >= limit:
                message = (f"not started: {others} runs are already queued or running, and "
                           f"the limit is {limit} at a time")
                self.store.set_run_status(run_id, "cancelled", error=message)
                raise LimitReached(message)
            future = self._pool.submit(
                execute_run, self.store, self.samples, record, workbook.stored_path,
                workbook.content_hash, stop=lambda: self._stops.get(run_id), cache=self.cache)
            self._futures[run_id] = future
        future.add_done_callback(lambda _f: self._forget(run_id))
        self.store.audit(actor.user_id, "run.start", f"run {run_id}",
                         {"run_id": run_id, "owner_id": record.owner_id})
        return future

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._futures.pop(run_id, None)
            self._stops.pop(run_id, None)

    def cancel(self, actor: Actor, run_id: int) -> bool:
        """Ask a run to stop; it ends cancelled at its next chunk (a queued one at once).
        False when the run has already ended or runs in another process."""
        record = self.store.get_run(actor, run_id)
        with self._lock:
            future = self._futures.get(run_id)
            if future is not None:
                self._stops[run_id] = Cancelled("cancelled", "cancelled by the user")
        if future is not None:
            if future.cancel():  # never started: nobody else will record it
                self.store.set_run_status(run_id, "cancelled", error="cancelled by the user")
        elif record.status == "queued":
            self.store.set_run_status(run_id, "cancelled", error="cancelled by the user")
        else:
            return False
        self.store.audit(actor.user_id, "run.cancel", f"run {run_id}", {"run_id": run_id})
        return True

    def delete_run(self, actor: Actor, run_id: int) -> RunRecord:
        """Delete a run and its samples file (the store refuses while it is queued or running;
        ownership is checked there)."""
        record = self.store.delete_run(actor, run_id)
        self.samples.delete(run_id)
        return record

    def active(self) -> list[int]:
        """Runs this service is executing or about to."""
        with self._lock:
            return sorted(self._futures)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking runs; running ones end interrupted at their next chunk, queued ones stay
        queued and are marked interrupted at the next start."""
        with self._lock:
            for run_id in self._futures:
                self._stops[run_id] = Cancelled("interrupted", "the server stopped before the "
                                                "run finished")
        self._pool.shutdown(wait=wait, cancel_futures=True)
