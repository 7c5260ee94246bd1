"""What the Home page lists: the user's recent runs with their status and the user's
workbooks, as rows ready for a table (Streamlit-free, unit-tested).

Home shows the acting user's OWN runs and workbooks even for an admin (whose store reads return
everyone's): it is "my work"; the Administration page is where an admin sees everybody's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.entities import Actor, RunRecord, WorkbookRecord
from services import formatting as fmt
from services.context import AppContext
from services.runs import progress_of

RECENT_RUNS = 10


def own_runs(ctx: AppContext, actor: Actor) -> list[RunRecord]:
    """The actor's runs, newest first."""
    return [r for r in ctx.store.list_runs(actor) if r.owner_id == actor.user_id]


def own_workbooks(ctx: AppContext, actor: Actor) -> list[WorkbookRecord]:
    """The actor's workbooks whose file is still stored (expired uploads are gone), newest
    first."""
    return [w for w in ctx.store.list_workbooks(actor)
            if w.owner_id == actor.user_id and Path(w.stored_path).is_file()]


def run_rows(runs: list[RunRecord], names: dict[int, str]) -> list[dict[str, Any]]:
    """One table row per run: what it ran, how far it got, and what went wrong if it failed."""
    rows = []
    for run in runs:
        progress = progress_of(run)
        rows.append({
            "Run": run.id,
            "Workbook": names.get(run.workbook_id, fmt.MISSING),
            "Status": run.status,
            "Progress": progress.fraction,
            "Iterations": fmt.integer(run.iterations),
            "Started": f"{run.created:%Y-%m-%d %H:%M} UTC",
            "Took": fmt.duration(progress.elapsed_s) if not run.active else fmt.MISSING,
            "Message": run.error or "",
        })
    return rows


def workbook_rows(workbooks: list[WorkbookRecord], runs: list[RunRecord]
                  ) -> list[dict[str, Any]]:
    """One table row per workbook, with its size and how many of the given runs used it."""
    used: dict[int, int] = {}
    for run in runs:
        used[run.workbook_id] = used.get(run.workbook_id, 0) + 1
    return [{"Workbook": w.filename,
             "Size": f"{fmt.number(w.size_bytes / 1024, 1)} KB",
             "Uploaded": f"{w.uploaded:%Y-%m-%d %H:%M} UTC",
             "Runs": fmt.integer(used.get(w.id, 0))} for w in workbooks]
