"""Helpers for the runs and results tests: an app context on a temporary data folder, and a
finished run of a small @RISK workbook executed by the context's real worker pool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

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
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = open_context({"DATA_DIR": str(tmp_path / "data"), "ADMIN_USERNAME": "root",
                            "ADMIN_PASSWORD": PASSWORD})
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
