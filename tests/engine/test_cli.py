"""The command line as users and scripts call it: ``python -m engine eval|inspect BOOK``.

Its JSON output and exit codes are a contract; each test runs a real subprocess (kept few).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_eval_json_gives_every_formula_cell(make_xlsx):
    path = make_xlsx({"A1": 2, "A2": "x", "B1": "=A1*3", "B2": "=A1/4", "B3": '=A2&"y"',
                      "B4": "=A1>1", "B5": "=1/0", "B6": "=NOSUCH(1)", "B7": "=NA()",
                      "Other sheet!A1": "=Sheet1!B1+1"})
    proc = run("eval", path, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "Sheet1!B1": 6, "Sheet1!B2": 0.5, "Sheet1!B3": "xy", "Sheet1!B4": True,
        "Sheet1!B5": "#DIV/0!", "Sheet1!B6": "#NAME?", "Sheet1!B7": "#N/A",
        "Other sheet!A1": 7}
    assert proc.stdout.count("\n") == 1  # one JSON object on one line
    assert "NOSUCH" in proc.stderr  # warnings go to stderr, never into the JSON


MAIN = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def test_eval_table_and_inspect_json(make_xlsx):
    path = make_xlsx({"A1": 1.5, "B1": "=A1*2", "B2": "=B2+1", "B3": "=[1]Sheet1!A1",
                      "B4": "=FOOBAR(A1)"}, name="model.xlsm", patch={
        "[Content_Types].xml": lambda xml: xml.replace(MAIN, MACRO),
        "xl/vbaProject.bin": b"never run"})
    table = run("eval", path)
    assert table.returncode == 0, table.stderr
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith("Sheet1!B1"))
    assert line.split() == ["Sheet1!B1", "3", "=A1*2"]
    assert "circular reference" in table.stderr
    report = run("inspect", path, "--json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["unsupported"] == {"FOOBAR": ["Sheet1!B4"]}
    assert data["external_references"] == ["Sheet1!B3"]
    assert data["cycles"] == [["Sheet1!B2"]]
    assert data["sheets"] == [{"name": "Sheet1", "cells": 5, "formulas": 4}]
    assert data["macros_ignored"] is True


def _corrupt_zip(valid: bytes) -> bytes:
    return valid[: len(valid) // 2]


def _xls(_valid: bytes) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048)


def _csv(_valid: bytes) -> bytes:
    return b"name,amount\nwidget,3\n"


@pytest.mark.parametrize(("make_bytes", "words"), [
    (_csv, "CSV"), (_corrupt_zip, "damaged"), (_xls, ".xls"),
])
def test_unusable_workbook_exits_2_with_one_sentence(make_xlsx, tmp_path, make_bytes, words):
    valid = make_xlsx({"A1": 1, "A2": "=A1"}).read_bytes()
    bad = tmp_path / "upload.xlsx"
    bad.write_bytes(make_bytes(valid))
    proc = run("eval", bad, "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert lines[0].rstrip().endswith(".")


def test_missing_file_exits_2_with_one_sentence(tmp_path):
    proc = run("inspect", tmp_path / "nope.xlsx")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
