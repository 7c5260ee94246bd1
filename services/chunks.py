"""The tasks the worker service sends to Dask: one chunk of a run, and a run's merge.

Both run in Dask worker processes, on any host that mounts the data directory. A chunk writes
its samples as its own Parquet part with its partial in the part's metadata (one atomic file:
a part exists with its summary or not at all, and a retried chunk replaces it, never doubles
it), and returns the partial. Between slices of its iterations it looks for the run's stop
file, which the worker service writes when the run is cancelled or over its time limit: Dask
cannot interrupt a running task, so the task stops itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distributed import WorkerPlugin

from db.cache import cached, model_key, open_cache, signed_pickle
from db.config import Settings
from db.samples import SampleFiles
from db.secrets import load_or_create_secret
from engine.montecarlo.cluster import ModelRef, compute_chunk, finalize, prepared
from engine.montecarlo.partials import ChunkPartial
from engine.montecarlo.samples import PartsSource, sample_table
from engine.montecarlo.simulate import RunSettings
from engine.version import engine_version

PARTIAL_KEY = "xlsim.partial"
STOP_FILE = "stop"


class ChunkStopped(Exception):
    """The run was stopped (cancelled, over its time limit) while this chunk ran."""


@dataclass(frozen=True)
class Storage:
    """What a task needs to reach the run's files and the workbook cache (picklable)."""

    data_dir: str
    redis_url: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Storage:
        return cls(str(settings.data_dir), settings.redis_url)

    def samples(self) -> SampleFiles:
        return SampleFiles(self.data_dir)

    def load(self, path: str, content_hash: str) -> Any:
        """The loaded workbook, from Redis when another process already read this file with
        this engine (entries are signed pickles, db.cache.signed_pickle)."""
        from engine.loader import load_workbook

        if not self.redis_url:
            return load_workbook(path)
        settings = Settings(data_dir=self.data_dir, redis_url=self.redis_url)
        dumps, loads = signed_pickle(load_or_create_secret(settings.data_dir,
                                                           "cache-signing-key"))
        return cached(open_cache(settings), model_key(content_hash, engine_version()),
                      lambda: load_workbook(path), dumps, loads)


def warm_up(storage: Storage) -> None:
    """Build the demo workbook's model and run one small chunk, so that a fresh worker process
    has loaded the compiled machine before any user waits on it (the first demo run is then
    as fast as the next)."""
    import hashlib

    from services.demo import demo_file

    path = demo_file(storage.data_dir)
    ref = ModelRef(str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    compute_chunk(ref, RunSettings(iterations=2048), 0, 0, 2048, load=storage.load)


class WarmUp(WorkerPlugin):
    """A Dask worker plugin: ``warm_up`` on every worker, those that join later included
    (a worker restarted by its nanny)."""

    name = "xlsim-warm-up"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def setup(self, worker: Any) -> None:
        warm_up(self.storage)


def stop_path(storage: Storage, run_id: int) -> str:
    return str(storage.samples().run_dir(run_id) / STOP_FILE)


def run_ledger_chunk(storage: Storage, run_id: int, ref: ModelRef, settings: RunSettings,
                     index: int, start: int, count: int, with_values: bool = False
                     ) -> tuple[dict[str, Any], Any]:
    """Compute chunk ``index`` of run ``run_id`` and write its part; returns the partial
    (JSON-ready) and, for a run with a stop rule (``with_values``), the chunk's output values
    and error codes, which the rule reads in chunk order."""
    flag = stop_path(storage, run_id)

    def stop() -> None:
        if os.path.exists(flag):
            raise ChunkStopped(f"run {run_id} was stopped")

    stop()
    inputs, vals, errs, partial = compute_chunk(ref, settings, index, start, count, stop=stop,
                                                load=storage.load)
    table = sample_table(prepared(ref, storage.load).model, start, inputs, vals, errs)
    data = partial.to_json()
    storage.samples().write_part(run_id, start, table, {PARTIAL_KEY: json.dumps(data)})
    return data, ((vals, errs) if with_values else None)


def read_partial(storage: Storage, run_id: int, start: int) -> ChunkPartial | None:
    """The partial a finished chunk left in its part, or None when the part is missing."""
    path = storage.samples().part_path(run_id, start)
    if not path.is_file():
        return None
    meta = storage.samples().read_part_metadata(path)
    return ChunkPartial.from_json(json.loads(meta[PARTIAL_KEY])) if PARTIAL_KEY in meta else None


def replay_chunk(storage: Storage, run_id: int, ref: ModelRef, start: int
                 ) -> tuple[dict[str, Any], Any]:
    """What ``run_ledger_chunk`` returned for a chunk that is already on disk, read back from
    its part: a resumed run's stop rule must see every chunk's values again, in order."""
    import numpy as np

    partial = read_partial(storage, run_id, start)
    if partial is None:
        raise ValueError(f"the samples of run {run_id} from iteration {start + 1} are missing")
    model = prepared(ref, storage.load).model
    source = PartsSource([str(storage.samples().part_path(run_id, start))], model)
    pairs = [source.output(0, k) for k in range(len(model.outputs))]
    return partial.to_json(), (np.stack([v for v, _ in pairs]), np.stack([e for _, e in pairs]))


def merge_ledger_run(storage: Storage, run_id: int, ref: ModelRef, settings: RunSettings,
                     partials: Sequence[dict[str, Any]], warnings: Sequence[str] = ()
                     ) -> dict[str, Any]:
    """The run's results from its partials (chunk order) and its parts."""
    chunks = [ChunkPartial.from_json(p) for p in partials]
    model = prepared(ref, storage.load).model
    files = storage.samples()
    source = PartsSource([str(files.part_path(run_id, p.start)) for p in chunks], model)
    return finalize(ref, settings, chunks, source, warnings, load=storage.load)
