"""Uploaded workbooks: saving and validating an upload, and what the pages show about one (the
inspect report, computed values, a sheet preview, one cell with its label, the inputs and
outputs the workbook declares itself).

Streamlit-free. Loading and calculating a workbook costs seconds on a large file and every widget
change reruns a page, so the analysis of a stored file is memoised per content hash.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.entities import Actor, WorkbookRecord
from engine.calc import Calculation
from engine.cli import json_value
from engine.errors import WorkbookError
from engine.inspection import InspectReport, inspect_workbook
from engine.loader import load_workbook
from engine.refs import cell_key, index_to_col, split_key
from engine.validate import Limits
from engine.workbook import Workbook
from services.context import AppContext

EXTENSIONS = (".xlsx", ".xlsm")
PREVIEW_ROWS = 50
# The upload's one calculation runs in the app's process: past this, it stops with a sentence
# rather than hold the page (runs themselves go to the worker service).
PREVIEW_TIME_LIMIT_S = 20.0
PREVIEW_COLS = 20


class UploadError(ValueError):
    """An upload the app refuses; the message is one sentence for the user."""


@dataclass(frozen=True)
class DeclaredInput:
    """An input the workbook declares itself: an @RISK distribution call or RAND()."""

    label: str  # "Sheet1!B2", or "Sheet1!B2 RiskNormal#2" for the second call in one cell
    name: str  # RiskName(...) when given, else the label
    distribution: str  # canonical text (engine.montecarlo.spec.describe)


@dataclass(frozen=True)
class Declared:
    """What ``build_model`` finds without caller inputs: declared inputs and RiskOutput cells,
    and a sentence when the workbook alone cannot be simulated (no outputs, no inputs, or a
    declared distribution with impossible parameters)."""

    inputs: list[DeclaredInput] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # cell -> RiskOutput name
    problem: str | None = None


@dataclass(frozen=True)
class CellInfo:
    """One cell as the set-up page shows it next to an address the user typed."""

    key: str  # canonical "Sheet!A1"
    value: Any  # computed value, as JSON shows it (number, text, bool, None, error text)
    label: str | None  # nearest text to the left on the same row: the model's own caption
    formula: str | None


@dataclass
class Analysis:
    """A workbook loaded and calculated once; read-only afterwards."""

    workbook: Workbook
    report: InspectReport
    values: dict[str, Any]  # every formula cell's computed value, keyed "Sheet!A1"
    warnings: list[str]
    declared: Declared

    @property
    def sheets(self) -> list[str]:
        return list(self.workbook.sheets)

    def value_rows(self) -> list[dict[str, str]]:
        """The computed-values table: cell, value, formula."""
        return [{"cell": key, "value": str(json_value(value)),
                 "formula": self.workbook.formulas[split_key(key)].text}
                for key, value in self.values.items()]

    def cell(self, address: str, default_sheet: str | None = None) -> CellInfo:
        """The cell at ``address`` ("Sheet1!B2", "'My Sheet'!B2", or "B2" on
        ``default_sheet``); ValueError with a sentence when it is not a cell of this
        workbook."""
        sheet, row, col = parse_address(address, default_sheet or self.workbook.sheets[0])
        if sheet not in self.workbook.sheets:
            raise ValueError(f"{address.strip()}: the workbook has no sheet {sheet!r} (sheets: "
                             f"{', '.join(self.workbook.sheets)})")
        values = self.workbook.values.get(sheet, {})
        formula = self.workbook.formulas.get((sheet, row, col))
        return CellInfo(cell_key(sheet, row, col), json_value(values.get((row, col))),
                        _label_left_of(values, row, col), formula.text if formula else None)

    def preview(self, sheet: str, rows: int = PREVIEW_ROWS,
                cols: int = PREVIEW_COLS) -> dict[str, list[str]]:
        """The top-left corner of a sheet as columns of text keyed by column letter (row
        numbers are the index), computed values in place of formulas."""
        last_row, last_col = self.workbook.extent(sheet)
        values = self.workbook.values.get(sheet, {})
        n_rows, n_cols = min(last_row, rows), min(last_col, cols)
        return {index_to_col(c): [_text(values.get((r, c))) for r in range(1, n_rows + 1)]
                for c in range(1, n_cols + 1)}


def parse_address(address: str, default_sheet: str) -> tuple[str, int, int]:
    """(sheet, row, col) of a typed address; a bare "B2" is on ``default_sheet``. Dollar signs
    are accepted, as people copy addresses from Excel."""
    text = address.strip().replace("$", "")
    if not text:
        raise ValueError("type a cell address such as Sheet1!B2")
    if "!" not in text:
        text = f"'{default_sheet}'!{text}"
    try:
        return split_key(text)
    except ValueError:
        raise ValueError(f"{address.strip()!r} is not a cell address such as Sheet1!B2 or "
                         "'My Sheet'!B2") from None


def _text(value: Any) -> str:
    shown = json_value(value)
    return "" if shown is None else str(shown)


def _label_left_of(values: dict[tuple[int, int], Any], row: int, col: int) -> str | None:
    for c in range(col - 1, 0, -1):
        value = values.get((row, c))
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def save_upload(ctx: AppContext, actor: Actor, filename: str, data: bytes) -> WorkbookRecord:
    """Validate an upload, store it under the user's folder as ``<sha256><ext>`` and record it.

    The engine reads the whole file before anything is stored, so a file the engine refuses
    (not a workbook, damaged, hostile, over the limits) never reaches the disk. The same file
    uploaded again by the same user returns the existing record (its saved set-ups included)."""
    ext = Path(filename).suffix.lower()
    if ext not in EXTENSIONS:
        raise UploadError(f"{filename} is not an Excel workbook: upload an .xlsx or .xlsm file.")
    try:
        load_workbook(data, filename=filename,
                      limits=Limits(max_bytes=ctx.settings.max_upload_mb * 1024**2))
    except WorkbookError as exc:
        raise UploadError(str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()
    for existing in ctx.store.list_workbooks(actor):
        if existing.owner_id == actor.user_id and existing.content_hash == digest \
                and Path(existing.stored_path).is_file():
            return existing
    folder = ctx.uploads_dir / str(actor.user_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{ext}"
    write_atomically(path, data)
    return ctx.store.add_workbook(actor, Path(filename).name, digest, len(data), path)


def write_atomically(path: Path, data: bytes) -> None:
    """Temporary file in the same folder, fsync, rename: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def analyse_upload(filename: str, data: bytes) -> Analysis:
    """The analysis of bytes not stored yet (the upload page shows it before saving)."""
    try:
        workbook = load_workbook(data, filename=filename)
    except WorkbookError as exc:
        raise UploadError(str(exc)) from None
    return _analyse(workbook)


def analyse(record: WorkbookRecord) -> Analysis:
    """The analysis of a stored workbook, memoised per file and content."""
    return _analyse_file(record.stored_path, record.content_hash)


@functools.lru_cache(maxsize=4)
def _analyse_file(path: str, content_hash: str) -> Analysis:
    if not Path(path).is_file():
        raise UploadError(f"The workbook file {Path(path).name} is missing on the server "
                          "(expired or removed): upload it again.")
    try:
        return _analyse(load_workbook(path))
    except WorkbookError as exc:
        raise UploadError(str(exc)) from None


def _analyse(workbook: Workbook) -> Analysis:
    calc = Calculation(workbook, time_limit_s=PREVIEW_TIME_LIMIT_S)
    report = inspect_workbook(workbook, calc)
    results = calc.run()
    values = {cell_key(*cell): v for cell, v in results.items()}
    return Analysis(workbook, report, values, calc.warnings, declared_of(workbook))


def declared_of(workbook: Workbook) -> Declared:
    """Inputs and outputs the workbook declares (@RISK, RAND, RiskOutput).

    ``build_model`` refuses a workbook without outputs before it reports its inputs, so for one
    without RiskOutput marks it is asked again with a probe output (a cell of no consequence) to
    list the inputs anyway (an empty cell below the first sheet's used rows): the user then
    picks outputs on the set-up page."""
    from engine.montecarlo.lower import SimulationError
    from engine.montecarlo.model import build_model
    from engine.montecarlo.spec import describe

    try:
        model = build_model(workbook)
        outputs = dict(model.output_names)
        problem = None
    except SimulationError as exc:
        if not str(exc).startswith("no outputs"):
            return Declared(problem=str(exc))
        outputs, problem = {}, str(exc)
        try:
            sheet = workbook.sheets[0]
            probe = cell_key(sheet, workbook.extent(sheet)[0] + 1, 1)
            model = build_model(workbook, outputs=[probe])
        except SimulationError as again:
            return Declared(problem=f"{exc}; {again}")
    inputs = [DeclaredInput(site.label, site.name, describe(site.distribution))
              for site in model.inputs]
    return Declared(inputs, outputs, problem)
