"""``python -m services.worker``: the worker service, which takes runs from the ledger to done.

It claims queued runs from the store (any number of replicas side by side: claims skip rows
another replica holds), sends their chunks to a Dask cluster (``DASK_SCHEDULER_ADDRESS``, or a
LocalCluster of ``DASK_WORKERS`` processes it starts itself), records each finished chunk in
the ledger, and once every chunk is in, merges the run's results on the cluster and marks it
done. The ledger is the truth, Dask keeps nothing durable:

- it heartbeats the runs it holds; a replica that stops doing so (killed, cut off) loses them
  after ``WORKER_STALE_S``, and whoever claims them next resumes from the unfinished chunks;
- a finished chunk's part on disk carries its partial, so a resumed run needs no recomputation;
- a Dask worker that dies mid-chunk has its task rerun elsewhere by Dask; one that keeps dying
  (its memory limit) fails the run once, with the reason;
- cancel and the time limit reach running chunks through a stop file they look for between
  slices of their iterations; chunks not yet started are cancelled in Dask.

Fairness: free Dask slots go to the held run whose owner has the fewest chunks in flight, then
to the oldest run, so one user's ten runs do not starve another user's one.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from db.config import Settings
from db.entities import SYSTEM_ACTOR, RunRecord
from db.errors import ConfigError
from db.store import Store, open_store
from services.chunks import (
    ChunkStopped,
    Storage,
    WarmUp,
    merge_ledger_run,
    read_partial,
    replay_chunk,
    run_ledger_chunk,
    stop_path,
)
from services.logs import configure_logging
from services.runspec import jsonable, model_ref, run_settings

log = logging.getLogger(__name__)

HEALTH_FILE = Path(tempfile.gettempdir()) / "xlsim-worker.alive"
POLL_S = 0.05  # a round: collect finished chunks, submit the next ones
BEAT_S = 0.5  # at most, between heartbeats (they carry the cancel flags: cancel within 2 s)
CLAIM_S = 0.25  # between looks for queued runs (a write transaction on SQLite)


@dataclass
class HeldRun:
    """A run this replica holds: its chunks' states and what has come back."""

    record: RunRecord
    ref: Any
    settings: Any
    chunks: dict[int, tuple[int, int]]  # idx -> (start, count)
    queued: list[int]  # chunk indexes to submit, lowest first
    partials: dict[int, dict[str, Any]] = field(default_factory=dict)
    values: dict[int, Any] = field(default_factory=dict)  # for the stop rule, by chunk
    futures: dict[int, Any] = field(default_factory=dict)
    rule: Any = None
    rule_next: int = 0
    last: int | None = None  # the last chunk of the run (earlier when the stop rule fired)
    warnings: list[str] = field(default_factory=list)
    merging: Any = None

    @property
    def run_id(self) -> int:
        return self.record.id

    def complete(self) -> bool:
        """Every chunk up to the last is in, the stop rule has seen them, and no task of the
        run can still write a part (those past a stop rule's end included)."""
        last = max(self.chunks) if self.last is None else self.last
        return not self.futures and all(i in self.partials for i in range(last + 1)) and (
            self.rule is None or self.last is not None or self.rule_next > last)


class WorkerService:
    """One replica of the worker service over a Dask ``client``; ``tick()`` does one round."""

    def __init__(self, settings: Settings, store: Store, client: Any,
                 worker_id: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.storage = Storage.of(settings)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:" \
                                      f"{uuid.uuid4().hex[:8]}"
        self.held: dict[int, HeldRun] = {}
        self._draining: list[tuple[int, list[Any]]] = []  # stopped runs' last futures
        self._next_beat = self._next_claim = self._next_reconcile = 0.0

    # ------------------------------------------------------------------ the loop

    def serve(self, stop: threading.Event) -> None:
        """Run rounds until ``stop`` is set; a failing round (the store unreachable) is logged
        and retried, never fatal."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the service must outlive a database outage
                log.exception("worker round failed; retrying")
                stop.wait(1.0)
            stop.wait(POLL_S)
        for run in list(self.held.values()):  # stopping: give the runs back at once, so the
            self._abandon(run)                 # next replica need not wait for a stale beat
            try:
                self.store.finish_run(run.run_id, self.worker_id, "queued")
            except Exception:  # noqa: BLE001 - the store is gone: the beat goes stale instead
                log.exception("could not give run %s back", run.run_id)

    def tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + min(self.settings.worker_heartbeat_s, BEAT_S)
            self._beat()
        if now >= self._next_reconcile:  # requeue what a dead replica held, for the pages
            self._next_reconcile = now + self.settings.worker_stale_s / 2
            self.store.reconcile(stale_after_s=self.settings.worker_stale_s)
        if now >= self._next_claim:
            self._next_claim = now + CLAIM_S
            self._claim()
        for run in list(self.held.values()):
            self._collect(run)
        self._submit()
        self._drain()

    def slots(self) -> int:
        """Chunks in flight at once: two per Dask thread, so no worker waits for the next."""
        return 2 * max(1, sum(self.client.nthreads().values()))

    # ------------------------------------------------------------------ ledger

    def _beat(self) -> None:
        HEALTH_FILE.touch()
        if not self.held:
            return
        flags = self.store.heartbeat(self.worker_id, list(self.held))
        for run_id, run in list(self.held.items()):
            if run_id not in flags:
                log.warning("run %s was taken over by another worker", run_id)
                self._abandon(run)
            elif flags[run_id]:
                self._stop(run, "cancelled", "Cancelled by the user.")
            elif self._over_time(run):
                limit = self.settings.run_time_limit_s
                self._stop(run, "failed", f"Stopped: the run took longer than its time limit "
                                          f"of {limit:g} seconds (RUN_TIME_LIMIT_S).")

    def _over_time(self, run: HeldRun) -> bool:
        started = run.record.started
        return started is not None and (datetime.now(UTC) - started).total_seconds() \
            > self.settings.run_time_limit_s

    def _claim(self) -> None:
        while len(self.held) < max(4, self.slots()):
            record = self.store.claim_run(self.worker_id,
                                          stale_after_s=self.settings.worker_stale_s)
            if record is None:
                return
            self._adopt(record)

    def _adopt(self, record: RunRecord) -> None:
        """Take a claimed run over: fresh, or resumed from the chunks a dead holder left."""
        try:
            workbook = self.store.get_workbook(SYSTEM_ACTOR, record.workbook_id)
            if not Path(workbook.stored_path).is_file():
                raise ValueError(f"the workbook file {Path(workbook.stored_path).name} is "
                                 "missing on the server; upload it again")
            settings = run_settings(record)
            chunks = self.store.list_chunks(record.id)
            if not chunks:
                raise ValueError("this run was queued by an older version without chunks; "
                                 "start it again")
        except ValueError as exc:
            self.store.finish_run(record.id, self.worker_id, "failed", error=str(exc))
            return
        Path(stop_path(self.storage, record.id)).unlink(missing_ok=True)
        run = HeldRun(record, model_ref(record, workbook), settings,
                      {c.idx: (c.start, c.count) for c in chunks}, [])
        if record.device == "cuda":
            run.warnings.append("ran on the cluster's CPU workers, not the GPU")
        if settings.stop_tolerance is not None:
            from engine.montecarlo.simulate import StopRule

            run.rule = StopRule(settings)
        for c in chunks:
            partial = read_partial(self.storage, record.id, c.start) if c.state == "done" \
                else None
            if partial is None:
                if c.state == "done":  # its part was lost: compute it again
                    self.store.requeue_chunk(record.id, c.idx)
                run.queued.append(c.idx)
            elif run.rule is not None:  # the stop rule must see its values again, in order
                run.futures[c.idx] = self.client.submit(
                    replay_chunk, self.storage, record.id, run.ref, c.start, pure=False)
            else:
                run.partials[c.idx] = partial.to_json()
        self.held[record.id] = run
        log.info("run %s: %s of %s chunks to compute", record.id, len(run.queued),
                 len(chunks))

    # ------------------------------------------------------------------ chunks

    def _submit(self) -> None:
        free = self.slots() - sum(len(r.futures) for r in self.held.values())
        while free > 0:
            ready = [r for r in self.held.values() if r.queued and r.last is None]
            if not ready:
                return
            busy: dict[int, int] = {}
            for r in self.held.values():
                busy[r.record.owner_id] = busy.get(r.record.owner_id, 0) + len(r.futures)
            run = min(ready, key=lambda r: (busy.get(r.record.owner_id, 0), r.run_id))
            idx = run.queued.pop(0)
            start, count = run.chunks[idx]
            attempt = self.store.start_chunk(run.run_id, idx, self.worker_id)
            run.futures[idx] = self.client.submit(
                run_ledger_chunk, self.storage, run.run_id, run.ref, run.settings, idx, start,
                count, run.rule is not None, pure=False, retries=0,
                key=f"xlsim-run{run.run_id}-chunk{idx}-try{attempt}")
            free -= 1

    def _collect(self, run: HeldRun) -> None:
        for idx, future in list(run.futures.items()):
            if not future.done():
                continue
            del run.futures[idx]
            if future.status == "cancelled":  # lost with the scheduler: compute it again
                self.store.requeue_chunk(run.run_id, idx)
                run.queued.insert(0, idx)
                continue
            error = future.exception() if future.status == "error" else None
            if error is not None:
                self.store.fail_chunk(run.run_id, idx, _message(error, self.settings))
                self._stop(run, "failed", _message(error, self.settings))
                return
            partial, values = future.result()
            if run.last is not None and idx > run.last:
                continue  # computed before the stop rule fired; its part goes
            if idx not in run.partials:
                self.store.finish_chunk(run.run_id, idx, self.worker_id)
            run.partials[idx] = partial
            if values is not None:
                run.values[idx] = values
        self._advance_rule(run)
        if run.merging is None and run.complete():
            last = max(run.chunks) if run.last is None else run.last
            if run.last is not None:
                start, count = run.chunks[last]
                self.storage.samples().delete_parts_from(run.run_id, start + count)
            run.merging = self.client.submit(
                merge_ledger_run, self.storage, run.run_id, run.ref, run.settings,
                [run.partials[i] for i in range(last + 1)], run.warnings, pure=False)
        elif run.merging is not None and run.merging.done():
            self._finish(run)

    def _advance_rule(self, run: HeldRun) -> None:
        """Feed the stop rule the chunks that are in, in chunk order; once it fires, the run
        ends at that chunk and the chunks after it are dropped."""
        while run.rule is not None and run.last is None and run.rule_next in run.values:
            vals, errs = run.values.pop(run.rule_next)
            if run.rule.converged(vals, errs):
                start, count = run.chunks[run.rule_next]
                run.last = run.rule_next
                run.warnings.append(run.rule.message(start + count))
                self.client.cancel([f for i, f in run.futures.items() if i > run.last])
                run.queued.clear()
            run.rule_next += 1

    def _finish(self, run: HeldRun) -> None:
        del self.held[run.run_id]
        future = run.merging
        if future.status != "finished":
            self.store.finish_run(run.run_id, self.worker_id, "failed",
                                  error=_message(future.exception(), self.settings))
            return
        summary = jsonable(future.result())
        summary["device"] = "cpu"
        summary["elapsed_seconds"] = _elapsed(run.record)
        self.store.finish_run(run.run_id, self.worker_id, "done", summary=summary,
                              samples_path=str(self.storage.samples().run_dir(run.run_id)))
        log.info("run %s done", run.run_id)

    def _stop(self, run: HeldRun, status: str, message: str) -> None:
        """End a run now (cancelled, failed): running chunks stop at their next check."""
        self.held.pop(run.run_id, None)
        stop = Path(stop_path(self.storage, run.run_id))
        stop.parent.mkdir(parents=True, exist_ok=True)
        stop.touch()
        pending = [*run.futures.values(), *([run.merging] if run.merging else [])]
        self.client.cancel(pending)
        self.store.finish_run(run.run_id, self.worker_id, status, error=message)
        self._draining.append((run.run_id, pending))
        log.info("run %s %s: %s", run.run_id, status, message)

    def _abandon(self, run: HeldRun) -> None:
        """Let go of a run without ending it (taken over, or this replica stopping)."""
        self.held.pop(run.run_id, None)
        self.client.cancel(list(run.futures.values()))

    def _drain(self) -> None:
        """Remove a stopped run's samples once none of its chunks can still write one."""
        for item in list(self._draining):
            run_id, futures = item
            if all(f.done() for f in futures):
                self._draining.remove(item)
                self.storage.samples().delete(run_id)


def _elapsed(record: RunRecord) -> float | None:
    return None if record.started is None else \
        (datetime.now(UTC) - record.started).total_seconds()


def _message(error: BaseException | None, settings: Settings) -> str:
    """One sentence for the run's page."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        return (f"A chunk of this run was stopped: its Dask worker process died each time it "
                f"ran it, most likely over the memory limit of "
                f"{settings.dask_worker_memory / 2**30:.3g} GiB per worker "
                f"(DASK_WORKER_MEMORY). Try fewer inputs or outputs, or raise the limit.")
    if isinstance(error, ChunkStopped):
        return "The run was stopped."
    from engine.errors import WorkbookError

    if isinstance(error, ValueError | WorkbookError):
        return str(error)
    return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------------- entry point

def start_cluster(settings: Settings) -> tuple[Any, Any]:
    """(client, cluster): the configured scheduler's, or a LocalCluster of worker processes
    (cluster None when connecting to a scheduler)."""
    import dask
    from distributed import Client, LocalCluster

    if settings.dask_scheduler_address:
        return Client(settings.dask_scheduler_address, timeout=60), None
    dask.config.set({"distributed.scheduler.allowed-failures": 2})
    cluster = LocalCluster(n_workers=settings.dask_workers, threads_per_worker=1,
                           processes=True, memory_limit=settings.dask_worker_memory,
                           dashboard_address=None)
    return Client(cluster), cluster


def healthy(max_age_s: float = 30.0) -> bool:
    """Whether a worker service in this container did a round recently."""
    try:
        return time.time() - HEALTH_FILE.stat().st_mtime < max_age_s
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.worker",
                                     description="Execute queued runs on a Dask cluster.")
    parser.add_argument("--health", action="store_true",
                        help="exit 0 when this container's worker service is alive")
    args = parser.parse_args(argv)
    if args.health:
        return 0 if healthy() else 1
    configure_logging()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    store = open_store(settings)
    client, cluster = start_cluster(settings)
    try:
        client.register_plugin(WarmUp(Storage.of(settings)))
        service = WorkerService(settings, store, client)
        log.info("worker %s on %s", service.worker_id, client.scheduler.address)
        service.serve(stop)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
