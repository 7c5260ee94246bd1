"""Helpers for the job, crash and cleanup tests: small @RISK workbooks stored as uploads, and
runs of them in the store."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl

from db.entities import Actor, RunRecord, WorkbookRecord
from db.store import Store
from engine.version import engine_version

# A1 is uncertain, A2 the output: mean 200, sd 20.
RISK_CELLS = {"A1": "=RiskNormal(100,10)", "A2": "=RiskOutput()+A1*2"}


def save_workbook(path: Path, cells: dict[str, Any] | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for addr, value in (cells or RISK_CELLS).items():
        ws[addr] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def upload(store: Store, actor: Actor, data_dir: Path, name: str = "model.xlsx",
           cells: dict[str, Any] | None = None,
           retain_until: datetime | None = None) -> WorkbookRecord:
    """A workbook saved under ``data_dir/uploads`` and recorded as ``actor``'s upload."""
    path = save_workbook(data_dir / "uploads" / str(actor.user_id) / name, cells)
    data = path.read_bytes()
    return store.add_workbook(actor, name, hashlib.sha256(data).hexdigest(), len(data), path,
                              retain_until=retain_until)


def queue_run(store: Store, actor: Actor, workbook: WorkbookRecord, iterations: int = 1000, *,
              spec: dict[str, Any] | None = None, seed: int = 7, sampling: str = "mc",
              device: str = "cpu") -> RunRecord:
    return store.create_run(actor, workbook.id,
                            spec if spec is not None else {"inputs": {}, "outputs": [],
                                                           "settings": {}},
                            seed, iterations, sampling, device, engine_version())
