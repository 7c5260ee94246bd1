"""Helpers for the runs and results tests: an app context on a temporary data folder, a
finished run of a small @RISK workbook executed by the context's real worker pool, and
``as_parts`` to make sure a run's samples are stored as chunk parts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db.entities import Actor, RunRecord
from services.context import AppContext, open_context
from services.runs import start_run
from tests.db.runs import upload

# A1 ~ normal(100, 10), named Price, and A3 ~ uniform(0, 5) drive the output "Profit",
# A2 = 2*A1 + A3 (mean 202.5).
CELLS = {"A1": "=RiskNormal(100,10,RiskName(\"Price\"))", "A3": "=RiskUniform(0,5)",
         "A2": "=RiskOutput(\"Profit\")+A1*2+A3"}
PASSWORD = "correct horse"


@pytest.fixture
def ctx(tmp_path: Path, start_worker) -> Iterator[AppContext]:
    """An app context with a worker service (on the session's Dask cluster) executing its
    runs, as ``make run`` has one."""
    context = open_context({"DATA_DIR": str(tmp_path / "data"), "ADMIN_USERNAME": "root",
                            "ADMIN_PASSWORD": PASSWORD})
    start_worker(context.settings)
    yield context
    context.close()


@pytest.fixture
def actor(ctx: AppContext) -> Actor:
    return Actor.for_user(ctx.store.create_user("alice", PASSWORD, roles=("analyst",)))


def wait_until_final(ctx: AppContext, actor: Actor, run_id: int, timeout: float = 120
                     ) -> RunRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = ctx.store.get_run(actor, run_id)
        if not record.active:
            return record
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


def finished_run(ctx: AppContext, actor: Actor, iterations: int = 20_000, *, seed: int = 7,
                 target: float | None = 200.0) -> RunRecord:
    workbook = upload(ctx.store, actor, ctx.settings.data_dir, cells=CELLS)
    setup = {"inputs": {}, "outputs": [], "settings": {"target": target},
             "iterations": iterations, "seed": seed, "sampling": "lhs", "device": "cpu"}
    record = wait_until_final(ctx, actor, start_run(ctx, actor, workbook.id, setup).id)
    assert record.status == "done", record.error
    return record


def as_parts(ctx: AppContext, run: RunRecord, chunk: int = 8_192) -> RunRecord:
    """``run`` with its samples stored as parts of ``chunk`` iterations
    (``runs/<id>/part-*.parquet``), so that a small run is still several parts.

    Whatever the worker wrote (one part for a run shorter than its chunks, or the single file of
    the layout before chunking) is read back with pyarrow alone and written again as parts of
    ``chunk`` iterations, each with an error column only where its chunk had errors, as the
    engine writes them; the run's row then points at the folder.
    """
    path = Path(run.samples_path)
    files = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    ctx.samples.delete(run.id)
    for start in range(0, table.num_rows, chunk):
        part = table.slice(start, chunk)
        part = part.drop_columns([name for name in part.column_names if name.endswith(" error")
                                  and part[name].null_count == part.num_rows])
        ctx.samples.write_part(run.id, start, part, {"summary": "{}"})
    moved = ctx.store.set_run_status(run.id, "done",
                                     samples_path=str(ctx.samples.run_dir(run.id)))
    assert len(ctx.samples.parts(run.id)) == -(-table.num_rows // chunk) > 0
    return moved
