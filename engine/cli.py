"""Command line: ``python -m engine eval|inspect BOOK.xlsx``. A stable contract (tests rely on it).

Exit status: 0 success, 2 the workbook cannot be used (one sentence on stderr). Warnings
(unsupported functions, circular references) go to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

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


_ASSIGN = re.compile(r"^\s*(?P<lhs>('(?:[^']|'')+'|[^'=]+?)!\$?[A-Za-z]{1,3}\$?\d+"
                     r"(?:\s*,\s*('(?:[^']|'')+'|[^'=]+?)!\$?[A-Za-z]{1,3}\$?\d+)?)"
                     r"\s*=\s*(?P<rhs>.+)$")


def _assignment(text: str, what: str) -> tuple[str, str]:
    m = _ASSIGN.match(text)
    if m is None:
        raise WorkbookError(f"--{what} {text!r}: expected CELL=VALUE such as "
                            + ("'Sheet1!B2=normal(100,10)'" if what == "input"
                               else "'Sheet1!B2,Sheet1!B3=0.8'"))
    return m.group("lhs").strip(), m.group("rhs").strip()


def _model_inputs(args: argparse.Namespace) -> dict[str, str]:
    """The ``--input CELL=DIST`` options as the engine takes them."""
    return dict(_assignment(t, "input") for t in args.input)


def run_definition(args: argparse.Namespace
                   ) -> tuple[dict[str, str], dict[tuple[str, str], float]]:
    """The inputs ``{cell: dist}`` and correlations ``{(a, b): rho}`` of parsed
    ``add_run_arguments`` options; WorkbookError names an option that is not understood."""
    inputs = _model_inputs(args)
    correlations = {}
    for text in args.correlation:
        pair, value = _assignment(text, "correlation")
        first, _, second = pair.partition(",")
        try:
            correlations[(first.strip(), second.strip())] = float(value)
        except ValueError:
            raise WorkbookError(f"--correlation {text!r}: {value!r} is not a number") from None
    return inputs, correlations


def _cmd_run(args: argparse.Namespace) -> int:
    from engine.loader import load_workbook
    from engine.montecarlo.device import DeviceError, gpu_name, select_device
    from engine.montecarlo.lower import SimulationError
    from engine.montecarlo.model import build_model
    from engine.montecarlo.simulate import RunSettings, simulate, write_samples

    inputs, correlations = run_definition(args)
    try:
        on_cluster = bool(args.scheduler) or args.workers is not None
        device = select_device("cpu" if on_cluster and args.device == "auto" else args.device)
    except DeviceError as exc:
        raise WorkbookError(str(exc)) from None
    wb = load_workbook(args.book)
    try:
        model = build_model(wb, inputs, args.output or None)
        settings = RunSettings(iterations=args.iterations, seed=args.seed,
                               sampling=args.sampling, correlations=correlations,
                               percentiles=args.percentiles or RunSettings.percentiles,
                               target=args.target, var_level=args.var_level,
                               stop_tolerance=args.stop_tolerance, device=device)
        progress = None if args.json else _progress_bar()
        if on_cluster:
            result = _run_on_cluster(args, model, settings, progress)
        else:
            result = simulate(model, settings, progress=progress)
    except (SimulationError, ValueError) as exc:
        raise WorkbookError(str(exc)) from None
    if args.samples:
        write_samples(result, model, args.samples)
    if args.json:
        payload = result.to_dict()
        payload["device"] = result.device
        if result.device == "cuda":
            payload["gpu"] = gpu_name()
        json.dump(payload, sys.stdout, default=_json_default)
        sys.stdout.write("\n")
    else:
        print(f"device: {'cpu' if result.device == 'cpu' else f'cuda ({gpu_name()})'}")
        print(_report(result))
    return 0


def _run_on_cluster(args: argparse.Namespace, model: Any, settings: Any, progress: Any) -> Any:
    """The same run with every chunk a Dask task: on ``--scheduler``'s cluster, or on a
    ``--workers`` LocalCluster started and stopped here. Same seed, same numbers."""
    from engine.montecarlo import cluster

    if settings.device != "cpu":
        raise ValueError("a run on a Dask cluster uses the workers' CPUs: add --device cpu")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    from distributed import Client, LocalCluster

    path = str(Path(args.book).resolve())
    ref = cluster.ModelRef(path, _file_hash(path), inputs=_model_inputs(args),
                           outputs=tuple(args.output))
    cluster.remember(ref, model)
    if args.scheduler:
        with Client(args.scheduler, timeout=30) as client:
            return cluster.simulate_on_cluster(ref, settings, client, progress)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local, Client(local) as client:
        return cluster.simulate_on_cluster(ref, settings, client, progress)


def _file_hash(path: str) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serializable: {type(v).__name__}")


def _progress_bar():
    import time

    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done < total:
            return
        width = 30
        filled = int(width * done / total)
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} "
              f"({rate:,.0f} it/s)", end="" if done < total else "\n", file=sys.stderr)

    return show


def _report(result: Any) -> str:
    lines = [f"{result.iterations:,} iterations, seed {result.seed}, "
             f"{'Latin hypercube' if result.sampling == 'lhs' else 'Monte Carlo'} sampling, "
             f"{result.elapsed_seconds:.2f}s"]
    for label, s in result.outputs.items():
        name = s.get("name", label)
        lines.append(f"\n{name}" + (f" ({label})" if name != label else ""))
        lines.append(f"  mean {_num(s['mean'])}  sd {_num(s['std'])}  min {_num(s['min'])}  "
                     f"max {_num(s['max'])}  errors {s['errors']}")
        lines.append("  percentiles: " + "  ".join(
            f"P{k} {_num(v)}" for k, v in s["percentiles"].items()))
        tornado = result.sensitivity[label].get("inputs", {})
        ranked = sorted(tornado.items(), key=lambda kv: -abs(kv[1].get("spearman") or 0))
        for name_in, info in ranked[:5]:
            lines.append(f"  driver {name_in}: rank correlation {_num(info.get('spearman'))}")
    for w in result.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):,.6g}"


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that define a run (inputs, outputs, iterations, seed, sampling,
    correlations, percentiles, target, VaR level, stop tolerance, device), shared with the
    run service's command line (services.run_cli)."""
    parser.add_argument("--input", action="append", default=[], metavar="CELL=DIST",
                        help="an uncertain input, e.g. 'Sheet1!B2=normal(100,10)' (repeatable); "
                             "@RISK functions and RAND() in the workbook are inputs already")
    parser.add_argument("--output", action="append", default=[], metavar="CELL",
                        help="an output cell (repeatable); default: the RiskOutput() cells")
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sampling", choices=["mc", "lhs"], default="mc")
    parser.add_argument("--correlation", action="append", default=[], metavar="CELL,CELL=RHO",
                        help="rank correlation between two inputs, e.g. 'Sheet1!B2,Sheet1!B3=0.8'")
    parser.add_argument("--percentile", dest="percentiles", type=float, action="append",
                        metavar="P", help="a percentile to report (repeatable; default 1 5 10 "
                                          "25 50 75 90 95 99)")
    parser.add_argument("--target", type=float, help="report P(output <= target)")
    parser.add_argument("--var-level", type=float, default=0.95,
                        help="confidence level of value at risk and CVaR (default 0.95)")
    parser.add_argument("--stop-tolerance", type=float, metavar="REL",
                        help="stop once every output's mean and 5/50/95th percentiles are known "
                             "within this relative tolerance at 95%% confidence")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")


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
    from engine.montecarlo.spec import help_text

    run = sub.add_parser("run", help="Monte Carlo simulation",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="distributions:\n" + help_text())
    run.add_argument("book", help=".xlsx or .xlsm file")
    add_run_arguments(run)
    cluster = run.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="run the chunks on this Dask cluster (tcp://host:8786); its "
                              "workers must read the workbook at the same path")
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="run the chunks on a local Dask cluster of N worker processes")
    run.add_argument("--samples", metavar="OUT.parquet", help="write every iteration's inputs "
                                                              "and outputs")
    run.add_argument("--json", action="store_true", help="one JSON object with the results")
    run.set_defaults(run=_cmd_run)
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
