"""Command line: ``python -m engine eval|inspect BOOK.xlsx``. A stable contract (tests rely on it).

Exit status: 0 success, 2 the workbook cannot be used (one sentence on stderr). Warnings
(unsupported functions, circular references) go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.errors import WorkbookError, XLError
from engine.values import BLANK

EXIT_BAD_WORKBOOK = 2


def json_value(v: Any) -> Any:
    """A cell value in the CLI's JSON form: number, text, bool, null, or the error text."""
    if type(v) is XLError:
        return v.code
    if v is BLANK:
        return None
    if type(v) is float and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def _cmd_eval(args: argparse.Namespace) -> int:
    from engine.api import evaluate_workbook
    from engine.loader import load_workbook

    wb = load_workbook(args.book)
    results, warnings = evaluate_workbook(wb)
    for w in wb.warnings + warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        json.dump({k: json_value(v) for k, v in results.items()}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    width = max((len(k) for k in results), default=4)
    for key, value in results.items():
        sheet, row, col = _split(key)
        text = wb.formulas[(sheet, row, col)].text
        print(f"{key:<{width}}  {_display(value):>20}  {text}")
    return 0


def _split(key: str) -> tuple[str, int, int]:
    from engine.refs import split_key

    return split_key(key)


def _display(v: Any) -> str:
    if type(v) is bool:
        return "TRUE" if v else "FALSE"
    if type(v) is float:
        from engine.values import format_general

        return format_general(v)
    return str(json_value(v))


def _cmd_inspect(args: argparse.Namespace) -> int:
    from engine.inspection import inspect_workbook
    from engine.loader import load_workbook

    report = inspect_workbook(load_workbook(args.book))
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = [f"workbook: {report.source}"]
    out.append("sheets:")
    out += [f"  {s.name}: {s.cells} cells, {s.formulas} formulas" for s in report.sheets]
    out.append(f"defined names ({len(report.defined_names)}):")
    out += [f"  {n} = {t}" for n, t in report.defined_names.items()]
    out.append(f"tables ({len(report.tables)}):")
    out += [f"  {n}: {a}" for n, a in report.tables.items()]
    out.append(f"functions used ({len(report.functions)}):")
    out += [f"  {n}: {c}" for n, c in report.functions.items()]
    out.append(f"unsupported functions ({len(report.unsupported)}):")
    out += [f"  {n}: {', '.join(cells)}" for n, cells in report.unsupported.items()]
    if report.unreadable:
        out.append(f"formulas not understood ({len(report.unreadable)}):")
        out += [f"  {k}: {t}" for k, t in report.unreadable.items()]
    out.append(f"cycles ({len(report.cycles)}):"
               + (" iterative calculation is on" if report.iterative_calculation else ""))
    out += [f"  {' -> '.join(c)}" for c in report.cycles]
    out.append(f"volatile cells ({len(report.volatile)}): {', '.join(report.volatile)}")
    if report.external_references:
        out.append("references to other workbooks (computed as #REF!): "
                   + ", ".join(report.external_references))
    if report.macros_ignored:
        out.append("macros: present and ignored (never run)")
    out += [f"warning: {w}" for w in report.warnings]
    print("\n".join(out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m engine",
                                 description="Excel formula and Monte Carlo engine")
    sub = ap.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="compute every formula cell")
    ev.add_argument("book", help=".xlsx or .xlsm file")
    ev.add_argument("--json", action="store_true", help="one JSON object {Sheet!A1: value}")
    ev.set_defaults(run=_cmd_eval)
    ins = sub.add_parser("inspect", help="sheets, names, tables, functions, cycles")
    ins.add_argument("book", help=".xlsx or .xlsm file")
    ins.add_argument("--json", action="store_true", help="the report as JSON")
    ins.set_defaults(run=_cmd_inspect)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_WORKBOOK
    except OSError as exc:
        print(f"error: cannot open {args.book} ({exc.strerror or exc}).", file=sys.stderr)
        return EXIT_BAD_WORKBOOK
