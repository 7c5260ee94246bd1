"""Reading real .xlsx/.xlsm packages: every feature is written by openpyxl (or patched into the
XML the way Excel writes it), loaded, computed and inspected."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import pytest
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.table import Table

from engine.api import evaluate_workbook
from engine.errors import NA, NAME, REF
from engine.inspection import inspect_workbook
from engine.loader import load_workbook

MAIN_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_TYPE = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"
SHEET1 = "xl/worksheets/sheet1.xml"


def computed(path) -> tuple[dict, list[str]]:
    return evaluate_workbook(load_workbook(path))


def replace(pattern: bytes, repl: bytes, count: int = 1):
    """A part rewrite replacing ``pattern`` (a regex), failing loudly when it is absent."""

    def rewrite(xml: bytes) -> bytes:
        new, n = re.subn(pattern, repl, xml, count=count)
        assert n == count, (pattern, xml[:300])
        return new

    return rewrite


def test_constants_and_formulas_not_cached_values(make_xlsx):
    # openpyxl writes an empty <v/>; Excel would write a cached result: it must be ignored
    path = make_xlsx({"A1": 2, "A2": 2.5, "A3": True, "A4": "text", "A5": "#N/A",
                      "B1": "=A1*A2", "B2": "=A3+1", "B3": '=A4&"!"', "B4": "=ISNA(A5)"},
                     patch={SHEET1: replace(rb"<f>A1\*A2</f><v\s*/>", b"<f>A1*A2</f><v>999</v>")})
    out, warnings = computed(path)
    assert out == {"Sheet1!B1": 5.0, "Sheet1!B2": 2.0, "Sheet1!B3": "text!", "Sheet1!B4": True}
    assert warnings == []


def _to_shared(xml: bytes) -> bytes:
    """B1:C3 as one shared formula, the way Excel stores a filled block: the master cell keeps
    the text, the others only point at it."""
    xml, n = re.subn(rb"<f>(?!A1\*)[A-C]\d\*2\+\$D\$1</f>", b'<f t="shared" si="0"/>', xml)
    assert n == 5
    return replace(rb"<f>A1\*2\+\$D\$1</f>",
                   b'<f t="shared" ref="B1:C3" si="0">A1*2+$D$1</f>')(xml)


def test_shared_formulas_are_expanded_relative_to_each_cell(make_xlsx):
    cells = {"A1": 1, "A2": 2, "A3": 3, "D1": 100}
    for row in (1, 2, 3):
        cells[f"B{row}"] = f"=A{row}*2+$D$1"
        cells[f"C{row}"] = f"=B{row}*2+$D$1"
    path = make_xlsx(cells, patch={SHEET1: _to_shared})
    assert zipfile.ZipFile(path).read(SHEET1).count(b'<f t="shared" si="0"/>') == 5
    out, _ = computed(path)
    assert [out[f"Sheet1!B{r}"] for r in (1, 2, 3)] == [102.0, 104.0, 106.0]
    assert [out[f"Sheet1!C{r}"] for r in (1, 2, 3)] == [304.0, 308.0, 312.0]


def test_legacy_array_formulas(make_xlsx):
    def setup(wb):
        ws = wb["Sheet1"]
        ws["C1"] = ArrayFormula("C1:C4", "=A1:A3*B1:B3")
        ws["D1"] = ArrayFormula("D1", "=SUM(A1:A3*B1:B3)")
        ws["E1"] = ArrayFormula("E1:F2", "=MMULT(A1:B2,A1:B2)")

    path = make_xlsx({"A1": 1, "A2": 2, "A3": 3, "B1": 4, "B2": 5, "B3": 6, "G1": "=C2+D1"},
                     setup=setup)
    out, _ = computed(path)
    assert [out[f"Sheet1!C{r}"] for r in range(1, 5)] == [4.0, 10.0, 18.0, NA]
    assert out["Sheet1!D1"] == 32.0
    assert [out[k] for k in ("Sheet1!E1", "Sheet1!F1", "Sheet1!E2", "Sheet1!F2")] == [
        9.0, 24.0, 12.0, 33.0]
    assert out["Sheet1!G1"] == 42.0


def test_defined_names_at_workbook_and_sheet_scope(make_xlsx):
    def setup(wb):
        wb.defined_names["Rate"] = DefinedName("Rate", attr_text="Sheet1!$A$1")
        wb.defined_names["Block"] = DefinedName("Block", attr_text="Sheet1!$A$1:$A$3")
        wb.defined_names["Twice"] = DefinedName("Twice", attr_text="Rate*2")
        wb["Inputs"].defined_names["Rate"] = DefinedName("Rate", attr_text="Inputs!$A$1")

    path = make_xlsx({"A1": 0.1, "A2": 0.2, "A3": 0.3, "Inputs!A1": 0.5,
                      "B1": "=Rate", "B2": "=SUM(Block)", "B3": "=Twice",
                      "Inputs!B1": "=Rate", "Inputs!B2": "=Inputs!Rate*4"}, setup=setup)
    out, _ = computed(path)
    assert out["Sheet1!B1"] == 0.1
    assert out["Sheet1!B2"] == pytest.approx(0.6)
    assert out["Sheet1!B3"] == 0.2
    assert out["Inputs!B1"] == 0.5  # the sheet's own name wins over the workbook's
    assert out["Inputs!B2"] == 2.0
    names = inspect_workbook(load_workbook(path)).defined_names
    assert names["RATE"] == "Sheet1!$A$1" and names["Inputs!RATE"] == "Inputs!$A$1"


def _sales_table(wb) -> None:
    ws = wb["Data"]
    table = Table(displayName="Sales", ref="A1:C5")
    table.totalsRowCount = 1
    ws.add_table(table)


SALES = {"Data!A1": "Item", "Data!B1": "Amount", "Data!C1": "Double",
         "Data!A2": "x", "Data!B2": 10, "Data!C2": "=Sales[@Amount]*2",
         "Data!A3": "y", "Data!B3": 20, "Data!C3": "=Sales[[#This Row],[Amount]]*2",
         "Data!A4": "z", "Data!B4": 30, "Data!C4": "=[@Amount]*2",
         "Data!A5": "Total", "Data!B5": "=SUBTOTAL(109,Sales[Amount])",
         "Data!C5": "=SUBTOTAL(109,[Double])"}


def test_structured_references_to_excel_tables(make_xlsx):
    cells = SALES | {"E1": "=SUM(Sales[Amount])", "E2": "=Sales[[#Totals],[Amount]]",
                     "E3": "=ROWS(Sales[#All])", "E4": "=COUNTA(Sales[#Headers])",
                     "E5": "=SUM(Sales[[Amount]:[Double]])", "E6": "=SUM(sales[DOUBLE])",
                     "E7": "=Sales[Missing]"}
    path = make_xlsx(cells, setup=_sales_table)
    out, _ = computed(path)
    assert [out[f"Data!C{r}"] for r in (2, 3, 4)] == [20.0, 40.0, 60.0]
    assert (out["Data!B5"], out["Data!C5"]) == (60.0, 120.0)
    assert [out[f"Sheet1!E{r}"] for r in range(1, 7)] == [60.0, 60.0, 5.0, 3.0, 180.0, 120.0]
    assert out["Sheet1!E7"] is REF
    assert inspect_workbook(load_workbook(path)).tables == {"Sales": "Data!A1:C5"}


def test_sheet_names_with_spaces_and_apostrophes(make_xlsx):
    path = make_xlsx({"My Sheet!A1": 5, "It's!A1": 7, "Q1 '24!A1": 11,
                      "B1": "='My Sheet'!A1+'It''s'!A1", "B2": "=SUM('Q1 ''24'!A1:A2)",
                      "It's!B1": "=A1*2", "B3": "='It''s'!B1"})
    out, _ = computed(path)
    assert (out["Sheet1!B1"], out["Sheet1!B2"], out["Sheet1!B3"]) == (12.0, 11.0, 14.0)
    assert out["It's!B1"] == 14.0


def test_future_function_prefixes(make_xlsx):
    path = make_xlsx({"A1": 1, "A2": 2, "A3": 4,
                      "B1": "=_xlfn.STDEV.S(A1:A3)", "B2": '=_xlfn.CONCAT("a",A1)',
                      "B3": "=_xlfn.IFS(A1>1,1,TRUE,2)", "B4": "=_xlfn.XLOOKUP(2,A1:A3,A1:A3)"})
    out, warnings = computed(path)
    assert out["Sheet1!B1"] == pytest.approx(1.5275252316519468, rel=1e-12)
    assert (out["Sheet1!B2"], out["Sheet1!B3"], out["Sheet1!B4"]) == ("a1", 2.0, 2.0)
    assert not [w for w in warnings if "unsupported" in w]


def test_external_references_are_ref_errors_reported_by_inspect(make_xlsx):
    path = make_xlsx({"A1": "=[1]Sheet1!$A$1+1", "A2": "='[2]Other sheet'!B2", "A3": 4,
                      "A4": "=A3*2"})
    out, _ = computed(path)
    assert (out["Sheet1!A1"], out["Sheet1!A2"], out["Sheet1!A4"]) == (REF, REF, 8.0)
    report = inspect_workbook(load_workbook(path))
    assert report.external_references == ["Sheet1!A1", "Sheet1!A2"]


def test_macro_workbook_is_read_and_its_macros_reported_as_ignored(make_xlsx):
    path = make_xlsx({"A1": 3, "A2": "=A1*2"}, name="book.xlsm", patch={
        "[Content_Types].xml": lambda xml: xml.replace(MAIN_TYPE, MACRO_TYPE),
        "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 not really VBA",
    })
    wb = load_workbook(path)
    assert wb.has_macros
    assert evaluate_workbook(wb)[0] == {"Sheet1!A2": 6.0}
    assert inspect_workbook(wb).macros_ignored is True
    plain = make_xlsx({"A1": 1}, name="plain.xlsx")
    assert inspect_workbook(load_workbook(plain)).macros_ignored is False


def test_unsupported_function_is_listed_by_inspect_and_computes_to_name_error(make_xlsx):
    path = make_xlsx({"A1": "=FOOBAR(1)+1", "A2": "=SUM(FOOBAR(2),1)", "A3": "=A1*2",
                      "A4": "=SUM(1,2)"})
    report = inspect_workbook(load_workbook(path))
    assert report.unsupported == {"FOOBAR": ["Sheet1!A1", "Sheet1!A2"]}
    assert "SUM" not in report.unsupported
    assert report.functions["FOOBAR"] == 2
    out, warnings = computed(path)
    assert (out["Sheet1!A1"], out["Sheet1!A2"], out["Sheet1!A3"]) == (NAME, NAME, NAME)
    assert out["Sheet1!A4"] == 3.0
    assert any("FOOBAR" in w for w in warnings)


def test_inspect_reports_cycles_volatile_cells_and_unreadable_formulas(make_xlsx):
    path = make_xlsx({"A1": "=B1+1", "B1": "=A1", "C1": "=NOW()", "C2": "=OFFSET(A1,1,0)",
                      "C3": "=RAND()", "D1": "=SUM(1,", "D2": 5})
    report = inspect_workbook(load_workbook(path))
    assert [sorted(c) for c in report.cycles] == [["Sheet1!A1", "Sheet1!B1"]]
    assert sorted(report.volatile) == ["Sheet1!C1", "Sheet1!C2", "Sheet1!C3"]
    assert list(report.unreadable) == ["Sheet1!D1"]
    assert [(s.name, s.cells, s.formulas) for s in report.sheets] == [("Sheet1", 7, 6)]


def test_iterative_calculation_settings_are_read(make_xlsx):
    def setup(wb):
        wb.calculation.iterate = True
        wb.calculation.iterateCount = 25
        wb.calculation.iterateDelta = 0.0001

    path = make_xlsx({"A1": "=A1+1"}, setup=setup)
    wb = load_workbook(path)
    assert (wb.iterate, wb.max_iterations, wb.max_change) == (True, 25, 0.0001)
    out, warnings = evaluate_workbook(wb)
    assert out["Sheet1!A1"] == 25.0
    assert inspect_workbook(wb).iterative_calculation is True


def test_dates_and_times_are_serial_numbers(make_xlsx):
    path = make_xlsx({"A1": dt.date(2024, 1, 31), "A2": dt.datetime(2024, 1, 31, 18),
                      "A3": dt.time(6, 0), "B1": "=A1", "B2": "=A2", "B3": "=A3",
                      "B4": "=DATE(2024,1,31)=A1"})
    out, _ = computed(path)
    assert (out["Sheet1!B1"], out["Sheet1!B2"], out["Sheet1!B3"]) == (45322.0, 45322.75, 0.25)
    assert out["Sheet1!B4"] is True


def test_date_formatted_numbers_keep_their_exact_value(make_xlsx):
    def setup(wb):
        for addr in ("A1", "A2"):
            wb["Sheet1"][addr].number_format = "yyyy-mm-dd"

    path = make_xlsx({"A1": 60, "A2": 45000.123456789, "B1": "=A1", "B2": "=A2"}, setup=setup)
    out, _ = computed(path)
    assert out["Sheet1!B1"] == 60.0  # Excel's fictitious 1900-02-29
    assert out["Sheet1!B2"] == 45000.123456789


def test_escaped_characters_in_inline_text_are_decoded(make_xlsx):
    path = make_xlsx({"A1": "a_x0007_b", "A2": "_x005F_x0007_", "B1": "=CODE(MID(A1,2,1))",
                      "B2": "=LEN(A2)", "B3": "=A1"})
    out, _ = computed(path)
    assert out["Sheet1!B1"] == 7.0  # the control character itself
    assert out["Sheet1!B2"] == 7.0  # _x005F_ escapes the underscore: the text is "_x0007_"
    assert out["Sheet1!B3"] == "a\x07b"


SST = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" '
       b'uniqueCount="2"><si><t>a_x0007_b</t></si><si><t>_x005F_x0001_</t></si></sst>')
SST_TYPE = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
SST_REL = (b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/officeDocument/'
           b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')


def _shared_strings_patch() -> dict:
    """Move A1 and A2 into a shared string table, as Excel stores text."""

    def cells(xml: bytes) -> bytes:
        for index, addr in enumerate((b"A1", b"A2")):
            xml = replace(rb'<c r="' + addr + rb'" t="inlineStr"><is><t>[^<]*</t></is></c>',
                          b'<c r="' + addr + b'" t="s"><v>' + str(index).encode() + b"</v></c>"
                          )(xml)
        return xml

    return {SHEET1: cells, "xl/sharedStrings.xml": SST,
            "[Content_Types].xml": replace(rb"</Types>", SST_TYPE),
            "xl/_rels/workbook.xml.rels": replace(rb"</Relationships>", SST_REL)}


def test_escaped_characters_in_shared_strings_are_decoded(make_xlsx):
    path = make_xlsx({"A1": "placeholder", "A2": "placeholder", "B1": "=CODE(MID(A1,2,1))"},
                     patch=_shared_strings_patch())
    out, _ = computed(path)
    assert out["Sheet1!B1"] == 7.0


def test_escaped_underscore_in_shared_strings_is_literal(make_xlsx):
    # Excel's own result: CODE of that cell is 95 ("_"), as in the oracle's CORE!C27
    path = make_xlsx({"A1": "placeholder", "A2": "placeholder", "B2": "=CODE(A2)",
                      "B3": "=LEN(A2)"}, patch=_shared_strings_patch())
    out, _ = computed(path)
    assert (out["Sheet1!B2"], out["Sheet1!B3"]) == (95.0, 7.0)
