"""Shared fixtures: real .xlsx files built with openpyxl, optionally patched at the XML level."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest


def split_cell_key(key: str) -> tuple[str, str]:
    """``"Sheet2!B3"`` -> ("Sheet2", "B3"); a bare address is on Sheet1."""
    sheet, _, addr = key.rpartition("!")
    return sheet or "Sheet1", addr


def rezip(data: bytes, changes: dict[str, Callable[[bytes], bytes] | bytes]) -> bytes:
    """The package with parts rewritten (a function of the old bytes), replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            change = changes.get(name)
            old = src.read(name)
            dst.writestr(name, change(old) if callable(change) else (change or old))
        for name, change in changes.items():
            if name not in src.namelist():
                dst.writestr(name, change)
    return out.getvalue()


MakeXlsx = Callable[..., Path]


@pytest.fixture
def make_xlsx(tmp_path: Path) -> MakeXlsx:
    """Factory: ``make_xlsx({"A1": 1, "Data!B2": "=A1"}, setup=fn, patch={part: fn}, name=...)``.

    ``setup(workbook)`` runs before saving (tables, names, array formulas); ``patch`` rewrites
    parts of the saved package (shared formulas, macros) the way Excel would have written them.
    Sheets are created in the order their cells first appear, after Sheet1.
    """

    def make(cells: dict[str, Any] | None = None, *, name: str = "book.xlsx",
             setup: Callable[[openpyxl.Workbook], None] | None = None,
             patch: dict[str, Callable[[bytes], bytes] | bytes] | None = None) -> Path:
        wb = openpyxl.Workbook()
        wb.active.title = "Sheet1"
        for key, value in (cells or {}).items():
            sheet, addr = split_cell_key(key)
            if sheet not in wb.sheetnames:
                wb.create_sheet(sheet)
            wb[sheet][addr] = value
        if setup is not None:
            setup(wb)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
        if patch:
            data = rezip(data, patch)
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make
