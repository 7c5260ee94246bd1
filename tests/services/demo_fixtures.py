"""Helpers shared by the demo, explore and home tests: a real app context on a temporary data
directory, users, and finished runs of the demo workbook (real samples files, so the console
and the pages read what a user would)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from db.entities import Actor, RunRecord
from services.context import AppContext, open_context
from services.demo import demo_file, demo_setup
from services.runs import start_run
from services.workbooks import save_upload
from tests.conftest import WorkerThread, shared_client
from tests.services.run_fixtures import PASSWORD, wait_until_final


@contextmanager
def app_context(data_dir: Path) -> Iterator[AppContext]:
    """The context the app would open on ``data_dir`` (SQLite, in-process cache), closed
    afterwards so the next one (the page's own) starts from what is on disk."""
    ctx = open_context({"DATA_DIR": str(data_dir), "ADMIN_USERNAME": "root",
                        "ADMIN_PASSWORD": PASSWORD})
    worker = WorkerThread(ctx.settings, shared_client())  # what executes its runs
    try:
        yield ctx
    finally:
        worker.close()
        ctx.close()


def make_actor(ctx: AppContext, username: str) -> Actor:
    return Actor.for_user(ctx.store.create_user(username, PASSWORD, display_name=username.title(),
                                                roles=("analyst",)))


def admin_actor(ctx: AppContext) -> Actor:
    return Actor.for_user(ctx.store.get_user("root"))


def finished_demo_run(ctx: AppContext, actor: Actor, iterations: int = 2_000,
                      seed: int = 1) -> RunRecord:
    """A done run of the demo workbook, saved for ``actor`` (fewer iterations than the button
    uses, to keep tests fast)."""
    workbook = save_upload(ctx, actor, "project_cash_flow.xlsx",
                           demo_file(ctx.settings.data_dir).read_bytes())
    run = start_run(ctx, actor, workbook.id,
                    {**demo_setup(), "iterations": iterations, "seed": seed})
    done = wait_until_final(ctx, actor, run.id)
    assert done.status == "done", done.error
    return done
