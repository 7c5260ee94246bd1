"""Reading .xlsx/.xlsm files into a :class:`~engine.workbook.Workbook` through openpyxl.

The package is validated first (engine.validate) so nothing hostile reaches the XML parsers.
Cached values are never used for formula cells: only constants and formulas are read.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
from typing import Any

from openpyxl.cell.text import Text
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from engine.api import constant
from engine.errors import WorkbookError, XLError
from engine.refs import parse_range
from engine.validate import Limits, PackageReport, validate_workbook
from engine.workbook import FormulaCell, Table, Workbook


def load_workbook(source: str | os.PathLike | bytes, limits: Limits | None = None,
                  filename: str | None = None) -> Workbook:
    """Validate and read a workbook; raises WorkbookError with one sentence for the user."""
    report = validate_workbook(source, limits or Limits(), filename=filename)
    stream: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops
            book = _read(stream)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise WorkbookError(f"The workbook could not be read ({exc}); it may be damaged: "
                            "open and save it again in Excel.") from exc
    name = filename or (os.fspath(source) if not isinstance(source, bytes) else "upload.xlsx")
    return _convert(book, report, os.path.basename(str(name)))


class _RawReader(ExcelReader):
    """openpyxl's reader, keeping cell contents as the file stores them: numbers in date formats
    stay serial numbers (openpyxl would turn serial 60, Excel's 1900-02-29, into 59 and round
    fractions to the millisecond), and shared strings keep their ``_xHHHH_`` escapes for
    :func:`_unescape` to decode exactly once (openpyxl half-decodes ``_x005F_``)."""

    def read_strings(self) -> None:
        ct = self.package.find(SHARED_STRINGS)
        if ct is None:
            return
        tag = f"{{{SHEET_MAIN_NS}}}si"
        with self.archive.open(ct.PartName[1:]) as src:
            for _, node in iterparse(src):
                if node.tag == tag:
                    self.shared_strings.append(Text.from_tree(node).content)
                    node.clear()

    def read(self) -> None:
        self.read_manifest()
        self.read_strings()
        self.read_workbook()
        self.read_properties()
        self.read_theme()
        apply_stylesheet(self.archive, self.wb)
        self.wb._date_formats = set()
        self.read_worksheets()
        self.parser.assign_names()
        self.archive.close()


def _read(stream: Any) -> Any:
    reader = _RawReader(stream, read_only=False, keep_vba=False, data_only=False,
                        keep_links=True, rich_text=False)
    reader.read()
    return reader.wb


def _convert(book: Any, report: PackageReport, name: str) -> Workbook:
    wb = Workbook(sheets=[ws.title for ws in book.worksheets], source=name,
                  has_macros=report.has_macros)
    calc = book.calculation
    if calc is not None and calc.iterate:
        wb.iterate = True
        wb.max_iterations = int(calc.iterateCount or 100)
        wb.max_change = float(calc.iterateDelta or 0.001)
    if getattr(book, "epoch", None) is not None and book.epoch.year == 1904:
        wb.warnings.append("the workbook uses the 1904 date system; dates are computed in the "
                           "1900 system")
    for dn_name, dn in book.defined_names.items():
        wb.names[(None, dn_name.upper())] = dn.attr_text
    for ws in book.worksheets:
        for dn_name, dn in ws.defined_names.items():
            wb.names[(ws.title, dn_name.upper())] = dn.attr_text
        for table in ws.tables.values():
            ref = parse_range(table.ref, ws.title)
            wb.tables[table.name.upper()] = Table(
                name=table.name, sheet=ws.title, ref=ref,
                columns=[c.name for c in table.tableColumns],
                header_rows=1 if table.headerRowCount is None else int(table.headerRowCount),
                totals_rows=int(table.totalsRowCount or 0))
        _read_cells(ws, wb)
    return wb


_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    """Text as typed: the file format writes control characters as ``_xHHHH_``."""
    if "_x" not in text:
        return text
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _read_cells(ws: Any, wb: Workbook) -> None:
    sheet = ws.title
    values = wb.sheet_values(sheet)
    formulas = wb.formulas
    arrays: list[FormulaCell] = []
    for (row, col), cell in ws._cells.items():
        v = cell.value
        if v is None:
            continue
        t = type(v)
        if t is str:
            if cell.data_type == "f":
                formulas[(sheet, row, col)] = FormulaCell(sheet, row, col, v)
            elif cell.data_type == "e":
                values[(row, col)] = XLError.from_code(v) or XLError("#N/A")
            else:
                values[(row, col)] = _unescape(v)
        elif t is float or t is int or t is bool:
            values[(row, col)] = constant(v)
        elif t is ArrayFormula:
            area = parse_range(v.ref or cell.coordinate, sheet)
            f = FormulaCell(sheet, row, col, v.text or "=", array=area)
            formulas[(sheet, row, col)] = f
            arrays.append(f)
        elif t is DataTableFormula:
            formulas[(sheet, row, col)] = FormulaCell(sheet, row, col, "=TABLE()")
            wb.warnings.append(f"{sheet}!{cell.coordinate}: what-if data tables are not "
                               "supported")
        else:
            values[(row, col)] = constant(v)
    for f in arrays:
        area = f.array
        for r in range(area.r1, area.r2 + 1):
            for c in range(area.c1, area.c2 + 1):
                if (r, c) != (f.row, f.col):
                    values.pop((r, c), None)
                    formulas[(sheet, r, c)] = FormulaCell(sheet, r, c, f.text, array=area)
