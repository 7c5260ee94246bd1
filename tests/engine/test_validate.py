"""Upload checks: each hostile or broken file is built here from a real openpyxl workbook."""

from __future__ import annotations

import io
import struct
import zipfile

import openpyxl
import openpyxl.xml
import pytest
from openpyxl.styles import Font

from engine.errors import WorkbookError
from engine.validate import _CHUNK, Limits, validate_workbook

SHEET = "xl/worksheets/sheet1.xml"
TYPES = "[Content_Types].xml"
FREE, END, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


@pytest.fixture
def book(tmp_path) -> bytes:
    """Three filled cells (a number, a text, a formula) and one styled empty cell."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["A2"], ws["A3"] = 1, "x", "=A1*2"
    ws["B5"].font = Font(bold=True)
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path.read_bytes()


def rezip(data: bytes, changes: dict[str, bytes | None], method=zipfile.ZIP_DEFLATED) -> bytes:
    """The package with entries replaced, added, or (None) removed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", method) as dst:
        for name in src.namelist():
            if name not in changes:
                dst.writestr(name, src.read(name))
        for name, content in changes.items():
            if content is not None:
                dst.writestr(name, content)
    return out.getvalue()


def part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def refused(source, *phrases: str, **kwargs) -> str:
    """The message, checked to be one sentence naming what is wrong."""
    with pytest.raises(WorkbookError) as caught:
        validate_workbook(source, **kwargs)
    message = str(caught.value)
    assert message.endswith(".") and ". " not in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


def ole_file(directory: list[tuple[str, int]], decoy: bytes = b"") -> bytes:
    """A minimal compound file: FAT in sector 0, directory chained 1 -> 3, sector 2 data.

    The directory is split across non-adjacent sectors so only a reader that follows the FAT
    sees its second half; sector 2 holds ``decoy`` bytes that are not directory entries.
    """
    entries = [struct.pack("<64sHB", name.encode("utf-16-le"), 2 * len(name) + 2, kind)
               .ljust(128, b"\0") for name, kind in directory]
    entries += [b"\0" * 128] * (8 - len(entries))
    fat = struct.pack("<128I", FATSECT, 3, END, END, *[FREE] * 124)
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII109I", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                         b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6, 0, 1, 1, 0, 4096, END, 0,
                         END, 0, 0, *[FREE] * 108)
    return (header + fat + b"".join(entries[:4]) + decoy.ljust(512, b"\0")
            + b"".join(entries[4:]))


def test_valid_workbook_is_reported(book, tmp_path):
    report = validate_workbook(book)
    assert report.kind == "xlsx" and not report.has_macros
    assert report.sheet_xml_parts == (SHEET,)
    assert report.estimated_cells == 3  # the styled empty B5 is not counted
    assert report.external_links == ()
    path = tmp_path / "same.xlsx"
    path.write_bytes(book)
    assert validate_workbook(path) == validate_workbook(str(path)) == report


def test_empty_file_names_the_upload():
    refused(b"", "'model.xlsx' is empty", filename="model.xlsx")


@pytest.mark.parametrize("data, what", [(b"region,revenue\nnorth,12\n", "CSV"),
                                        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF")])
def test_not_a_zip_says_what_it_is(data, what):
    refused(data, "not an Excel workbook", what, "save it as .xlsx")


def test_legacy_xls_read_from_the_directory_not_the_bytes():
    decoy = "EncryptionInfo EncryptedPackage".encode("utf-16-le")  # a cell's text, not a stream
    data = ole_file([("Root Entry", 5), ("Workbook", 2), ("\x05SummaryInformation", 2)], decoy)
    refused(data, "legacy Excel 97-2003 workbook (.xls)", "save it as an Excel Workbook (.xlsx)")


def test_encrypted_workbook_found_by_following_the_directory_chain():
    names = [("Root Entry", 5), ("\x06DataSpaces", 1), ("Version", 2), ("DataSpaceMap", 2),
             ("EncryptionInfo", 2), ("EncryptedPackage", 2)]  # the last two in sector 3
    refused(ole_file(names), "password-protected", "remove the password")


@pytest.mark.parametrize("entries, what", [
    ({TYPES: b"<Types/>", "word/document.xml": b"<w:document/>"}, "a Word document"),
    ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
      "content.xml": b"<office:document-content/>"}, "an OpenDocument file"),
])
def test_zip_that_is_not_an_excel_package(entries, what):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    refused(out.getvalue(), f"is {what}, not an Excel workbook")


def test_binary_xlsb_is_refused(book):
    types = part(book, TYPES).replace(b"openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                      b"ms-excel.sheet.binary.macroEnabled.main")
    refused(rezip(book, {TYPES: types}), "binary workbook (.xlsb)")


def test_truncated_zip_is_damaged(book):
    refused(book[: len(book) // 2], "damaged", "corrupt or truncated")


def test_bad_crc_is_damaged(book):
    stored = rezip(book, {}, zipfile.ZIP_STORED)
    assert stored.count(b"<v>1</v>") == 1
    refused(stored.replace(b"<v>1</v>", b"<v>7</v>"), "damaged")


def test_file_over_max_bytes(book, tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(book)
    refused(path, "over the 4 KB limit", limits=Limits(max_bytes=4096))


def test_declared_unpacked_size_refused_before_extracting(book):
    """The directory claims 3 GB for the sheet; reading it would fail the CRC instead."""
    data = bytearray(book)
    name = SHEET.encode()
    record = data.find(b"PK\x01\x02")
    while data[record + 46: record + 46 + len(name)] != name:
        record = data.find(b"PK\x01\x02", record + 4)
    struct.pack_into("<I", data, record + 24, 3 * 1024**3)
    refused(bytes(data), "would unpack to 3", "over the 2 GB limit")


def test_too_many_entries(book):
    extra = {f"xl/media/pad{i}.bin": b"" for i in range(10_001)}
    refused(rezip(book, extra), "parts, over the limit of 10,000")


def test_suspicious_compression_ratio(book):
    refused(rezip(book, {"xl/media/image1.png": bytes(8 << 20)}), "(xl/media/image1.png)",
            "zip bombs")


def test_too_many_cells_stops_at_the_limit(book):
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(1, 2001))
    sheet = part(book, SHEET).replace(b"<sheetData>", b"<sheetData>" + rows.encode())
    data = rezip(book, {SHEET: sheet})
    assert validate_workbook(data).estimated_cells == 2003
    refused(data, "more than 2,000 filled cells", limits=Limits(max_cells=2000))


def test_cells_counted_across_chunks_and_prefixes(book):
    """A 3 MB sheet spans chunk boundaries; an `x:` prefix is how some writers spell cells."""
    rows = "".join(f'<x:row r="{r}"><x:c r="A{r}"><x:v>{r}</x:v></x:c></x:row>'
                   for r in range(1, 60_001))
    sheet = ('<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<x:sheetData>{rows}</x:sheetData></x:worksheet>")
    pad = (_CHUNK - 3) - sheet.rfind("</x:c>", 0, _CHUNK - 3)  # make one straddle a chunk end
    sheet = sheet.replace("<x:sheetData>", " " * pad + "<x:sheetData>")
    assert sheet.find("</x:c>", _CHUNK - 6) == _CHUNK - 3
    assert validate_workbook(rezip(book, {SHEET: sheet.encode()})).estimated_cells == 60_000


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("name, prolog, encoding", [
    (SHEET, BILLION_LAUGHS, "utf-8"),
    (SHEET, BILLION_LAUGHS, "utf-16"),  # OOXML allows UTF-16 parts: no hiding there
    ("xl/workbook.xml", EXTERNAL, "utf-8"),
    (TYPES, EXTERNAL, "utf-8"),  # parsed by defusedxml: its DTDForbidden is translated
])
def test_xml_entity_declarations_refused(book, name, prolog, encoding):
    body = part(book, name)
    hostile = (prolog + body).decode().encode(encoding)
    refused(rezip(book, {name: hostile}), f"declares XML entities in {name}")


def test_openpyxl_parses_through_defusedxml():
    assert openpyxl.xml.DEFUSEDXML is True


def test_xlsm_reports_macros_without_running_them(book):
    types = part(book, TYPES).replace(b"openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                      b"ms-excel.sheet.macroEnabled.main+xml")
    report = validate_workbook(rezip(book, {TYPES: types, "xl/vbaProject.bin": b"\xcc" * 64}))
    assert report.kind == "xlsm" and report.has_macros


def test_external_links_reported(book):
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    link_rels = (f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                 f'relationships"><Relationship Id="rId1" Type="{rel}externalLinkPath" '
                 f'Target="file:///C:/models/rates.xlsx" TargetMode="External"/></Relationships>')
    wb_rels = part(book, "xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>", f'<Relationship Id="rId9" Type="{rel}externalLink" '
        f'Target="externalLinks/externalLink1.xml"/></Relationships>'.encode())
    report = validate_workbook(rezip(book, {
        "xl/_rels/workbook.xml.rels": wb_rels,
        "xl/externalLinks/externalLink1.xml": b'<externalLink xmlns="http://schemas.'
        b'openxmlformats.org/spreadsheetml/2006/main"><externalBook r:id="rId1" xmlns:r="'
        + rel[:-1].encode() + b'"/></externalLink>',
        "xl/externalLinks/_rels/externalLink1.xml.rels": link_rels.encode(),
    }))
    assert report.external_links == ("file:///C:/models/rates.xlsx",)


def test_missing_sheet_part_is_damaged(book):
    refused(rezip(book, {SHEET: None}), f"the sheet part {SHEET} is missing")
