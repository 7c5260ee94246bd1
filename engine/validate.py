"""Cheap checks that run on an uploaded workbook before any heavy parsing.

openpyxl trusts its input: it inflates every part it reads and builds whole sheets in memory, so a
zip bomb or a ten-million-cell sheet would exhaust the server before the user heard anything.
Everything here is decided from the zip directory and from chunked scans of the XML parts, so
memory stays bounded and time grows only with the (already limited) unpacked size. Each refusal
is a WorkbookError whose text is one sentence for the user: what is wrong and what to do.
"""

from __future__ import annotations

import codecs
import io
import os
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from engine.errors import WorkbookError


@dataclass(frozen=True)
class Limits:
    """What the server accepts; every default is far above any real financial model."""

    max_bytes: int = 500 * 1024**2  # the uploaded file
    max_cells: int = 1_000_000  # cells with a value or formula, all sheets together
    max_uncompressed_bytes: int = 2 * 1024**3  # the zip directory's total
    max_entries: int = 10_000
    max_compression_ratio: float = 200.0  # per entry, for entries above 1 MB unpacked


@dataclass(frozen=True)
class PackageReport:
    """What the loader must know about a package that passed every check."""

    kind: str  # "xlsx" or "xlsm" (templates count as their workbook kind)
    has_macros: bool  # a vbaProject.bin is present; it is never executed
    sheet_xml_parts: tuple[str, ...]  # worksheet parts, in the workbook's relationship order
    estimated_cells: int  # closed <c> elements, i.e. cells holding a value or formula
    external_links: tuple[str, ...]  # workbooks linked to (externalLinkPath targets)


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20
_OVERLAP = 64  # longer than any token searched for, so none is lost at a chunk boundary
_RATIO_FLOOR = 1 << 20  # tiny parts legitimately compress very well
_MAX_META_BYTES = 32 << 20  # [Content_Types].xml and .rels parts: kilobytes in real files
_SHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_WORKBOOK_TYPES = {_SHEETML + "sheet.main+xml": "xlsx", _SHEETML + "template.main+xml": "xlsx",
                   "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
                   "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsm"}
_XLSB_TYPE = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
_FOREIGN = (("word/", "a Word document"), ("ppt/", "a PowerPoint presentation"),
            ("mimetype", "an OpenDocument file"))
# Filled cells are written <c ...>...</c>; empty styled cells are self-closing <c .../>.
_CELL_END = re.compile(rb"</(?:[A-Za-z_][\w.-]{0,40}:)?c\s{0,8}>")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")

_ENCRYPTED = ("{file} is password-protected, so it cannot be read; open it in Excel, remove the "
              "password under File > Info > Protect Workbook, save it and upload it again.")
_XML_ATTACK = ("{file} declares XML entities in {part}, which Excel never writes and which is "
               "used in entity-expansion attacks, so it was not opened; save it again from Excel "
               "if you trust it.")


class _Refusal(Exception):
    """A refusal whose sentence says "{file}" where the upload's name belongs."""


def validate_workbook(source: str | os.PathLike | bytes, limits: Limits = Limits(),
                      filename: str | None = None) -> PackageReport:
    """Refuse hostile or unusable uploads before openpyxl inflates anything.

    Raises WorkbookError with one sentence for the user; ``filename`` only names the upload in it.
    """
    who = f"'{filename}'" if filename else "This file"
    try:
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as stream:
            return _validate(stream, limits)
    except _Refusal as refusal:
        raise WorkbookError(str(refusal).replace("{file}", who)) from refusal.__cause__


def _validate(stream: BinaryIO, limits: Limits) -> PackageReport:
    size = stream.seek(0, io.SEEK_END)
    if size == 0:
        raise _Refusal("{file} is empty; check that the upload finished and try again.")
    if size > limits.max_bytes:
        raise _Refusal(f"{{file}} is {_size(size)}, over the {_size(limits.max_bytes)} limit; "
                       "remove unused sheets or data and upload a smaller workbook.")
    stream.seek(0)
    head = stream.read(512)
    if head.startswith(_OLE_MAGIC):
        if {"EncryptionInfo", "EncryptedPackage"} <= _ole_names(stream, size):
            raise _Refusal(_ENCRYPTED)
        raise _Refusal("{file} is a legacy Excel 97-2003 workbook (.xls); open it in Excel, save "
                       "it as an Excel Workbook (.xlsx) and upload that.")
    if not head.startswith(b"PK"):
        raise _Refusal(f"{{file}} is not an Excel workbook ({_describe(head)}); open it in Excel, "
                       "save it as .xlsx and upload that.")
    try:
        with zipfile.ZipFile(stream) as zf:
            return _validate_package(zf, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise _damaged("its zip structure is corrupt or truncated") from exc


def _describe(head: bytes) -> str:
    """Name what was uploaded instead, since "not a zip" means nothing to most users."""
    if head.startswith(b"%PDF"):
        return "it is a PDF document"
    if re.search(rb"[\x00-\x08\x0e-\x1f]", head):
        return "its format is not recognised"
    return "it is a text file such as CSV"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _ole_names(stream: BinaryIO, size: int) -> set[str]:
    """Storage and stream names in a compound file's directory, found through its FAT.

    Excel encrypts a workbook by wrapping it in a compound file whose directory holds
    EncryptionInfo and EncryptedPackage; reading the directory rather than grepping the bytes
    keeps an ordinary .xls whose cells mention those words from being called encrypted.
    A malformed header gives an empty set.
    """
    stream.seek(0)
    header = stream.read(512).ljust(512, b"\0")
    sector = 1 << struct.unpack_from("<H", header, 0x1E)[0]
    if sector not in (512, 4096):
        return set()
    count = size // sector - 1  # sector numbers at or above this are markers (free, end of chain)

    def read(number: int) -> bytes:
        stream.seek((number + 1) * sector)
        return stream.read(sector).ljust(sector, b"\xff")  # past the end: free markers

    fat = [s for s in struct.unpack_from("<109I", header, 0x4C) if s < count]
    difat, steps = struct.unpack_from("<I", header, 0x44)[0], 0
    while difat < count and steps < count:  # the step bound defeats cyclic chains
        entries = struct.unpack(f"<{sector // 4}I", read(difat))
        fat += [s for s in entries[:-1] if s < count]
        difat, steps = entries[-1], steps + 1

    def following(number: int) -> int:
        i, j = divmod(number, sector // 4)  # which FAT sector, which slot in it
        return struct.unpack_from("<I", read(fat[i]), j * 4)[0] if i < len(fat) else count

    names: set[str] = set()
    current, steps = struct.unpack_from("<I", header, 0x30)[0], 0
    while current < count and steps < count:
        data = read(current)
        for offset in range(0, len(data) - 127, 128):
            length, kind = struct.unpack_from("<HB", data, offset + 64)
            if kind in (1, 2, 5) and 2 <= length <= 64:
                names.add(data[offset:offset + length - 2].decode("utf-16-le", "replace"))
        current, steps = following(current), steps + 1
    return names


def _validate_package(zf: zipfile.ZipFile, limits: Limits) -> PackageReport:
    infos = zf.infolist()
    _check_directory(infos, limits)
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names:
        raise _not_excel(names)
    workbook, kind = _find_workbook(_parse(zf, "[Content_Types].xml"), names)
    relations = _relationships(zf, workbook)
    sheets = tuple(target for rel, target in relations if rel.endswith("/worksheet"))
    links = tuple(_link_target(zf, target) for rel, target in relations
                  if rel.endswith("/externalLink"))
    missing = sorted(set(sheets) - names)
    if missing:
        raise _damaged(f"the sheet part {missing[0]} is missing")
    cells = 0
    for info in infos:
        if info.filename in sheets or info.filename.endswith((".xml", ".rels", ".vml")):
            for found in _scan(zf, info):
                cells += found if info.filename in sheets else 0
                if cells > limits.max_cells:
                    raise _Refusal(f"{{file}} has more than {limits.max_cells:,} filled cells, "
                                   "the most accepted; delete unused data or split the model "
                                   "into smaller workbooks and upload again.")
    macros = any(posixpath.basename(name).lower() == "vbaproject.bin" for name in names)
    return PackageReport(kind, macros, sheets, cells, links)


def _check_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Judge a zip bomb from its central directory alone, before inflating a single byte.

    zipfile never inflates an entry past the size its directory declares (and then fails the
    CRC), so the declared sizes checked here bound all the reading done afterwards.
    """
    if len(infos) > limits.max_entries:
        raise _Refusal(f"{{file}} packs {len(infos):,} parts, over the limit of "
                       f"{limits.max_entries:,}, which real workbooks never reach; save it again "
                       "from Excel and upload the new copy.")
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise _Refusal(f"{{file}} would unpack to {_size(total)}, over the "
                       f"{_size(limits.max_uncompressed_bytes)} limit, so it was not opened; "
                       "remove unused data and upload a smaller workbook.")
    for info in infos:
        if info.flag_bits & 0x1:
            raise _Refusal(_ENCRYPTED)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > limits.max_compression_ratio:
            raise _Refusal(f"{{file}} contains a part ({info.filename}) compressed {ratio:,.0f} "
                           "to 1, as zip bombs are and real workbooks are not, so it was not "
                           "opened; save it again from Excel if you trust it.")


def _damaged(detail: str) -> _Refusal:
    return _Refusal(f"{{file}} is damaged ({detail}); save it again from Excel and upload the "
                    "new copy.")


def _not_excel(names: set[str]) -> _Refusal:
    what = next((desc for prefix, desc in _FOREIGN if any(n.startswith(prefix) for n in names)),
                "a zip archive")
    return _Refusal(f"{{file}} is {what}, not an Excel workbook; open it in Excel or LibreOffice, "
                    "save it as .xlsx and upload that.")


def _find_workbook(types: Element, names: set[str]) -> tuple[str, str]:
    """The workbook part and its kind, found by content type as openpyxl finds it."""
    for entry in types:
        content_type = entry.get("ContentType", "")
        if content_type == _XLSB_TYPE:
            raise _Refusal("{file} is a binary workbook (.xlsb), which is not supported; open it "
                           "in Excel, save it as .xlsx and upload that.")
        part = (entry.get("PartName") or "/xl/workbook.xml").lstrip("/")
        if content_type in _WORKBOOK_TYPES and part in names:
            return part, _WORKBOOK_TYPES[content_type]
    raise _not_excel(names)


def _relationships(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str]]:
    """(type, target) of a part's relationships; internal targets resolved to zip names."""
    folder, base = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    found: list[tuple[str, str]] = []
    for rel in _parse(zf, rels) if rels in zf.NameToInfo else ():
        target = rel.get("Target", "")
        if rel.get("TargetMode") != "External":
            target = target[1:] if target.startswith("/") else posixpath.normpath(
                posixpath.join(folder, target))
        found.append((rel.get("Type", ""), target))
    return found


def _link_target(zf: zipfile.ZipFile, part: str) -> str:
    """The other workbook an external-link part points at, or the part itself if unstated."""
    return next((target for rel, target in _relationships(zf, part)
                 if rel.endswith("/externalLinkPath")), part)


def _parse(zf: zipfile.ZipFile, name: str) -> Element:
    """Parse a small metadata part with defusedxml, so a DTD is refused rather than expanded."""
    with zf.open(name) as part:
        data = part.read(_MAX_META_BYTES + 1)
    if len(data) > _MAX_META_BYTES:
        raise _damaged(f"its {name} part is implausibly large")
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _Refusal(_XML_ATTACK.replace("{part}", name)) from exc
    except ParseError as exc:
        raise _damaged(f"{name} is not valid XML") from exc


def _scan(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[int]:
    """Yield the filled cells closed in each chunk of a part, refusing any DTD on the way.

    A byte scan never builds a tree, so a huge sheet costs one chunk of memory, and the caller
    can stop at the first chunk over the limit. Matches lying wholly in the overlap carried from
    the previous chunk were counted there, hence the subtraction. UTF-16 parts (OOXML allows
    them) are re-encoded first so that the byte patterns still match.
    """
    carry = b""
    with zf.open(info) as part:
        chunk = part.read(_CHUNK)
        utf16 = codecs.getincrementaldecoder("utf-16")() if b"\0" in chunk[:4] else None
        while chunk:
            window = carry + (utf16.decode(chunk).encode() if utf16 else chunk)
            if _DTD.search(window):
                raise _Refusal(_XML_ATTACK.replace("{part}", info.filename))
            yield len(_CELL_END.findall(window)) - len(_CELL_END.findall(carry))
            carry, chunk = window[-_OVERLAP:], part.read(_CHUNK)
