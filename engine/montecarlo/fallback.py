"""Functions the virtual machine has no instruction for, run per iteration by the scalar engine.

Any library function can take uncertain arguments this way, with Excel's exact semantics, at
Python speed (microseconds per call instead of nanoseconds). The lowering pass uses it only for
functions without an instruction and says so in the run's warnings; programs with such calls run
their blocks one after another, the compiled stretches between calls at full speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import XLError
from engine.evaluator import CellContext, Evaluator
from engine.functions.registry import FunctionSpec, Lazy, call
from engine.montecarlo import opcodes as op
from engine.montecarlo.vm import execute
from engine.values import Array

# An argument: ("reg", k, logical) reads register arglist[offset + k]; ("const", value);
# ("vec", items, nrows, ncols) with items of the first two kinds; or ("call", spec, args), a
# nested function without an instruction, run with its caller so text can pass between them.
Arg = tuple[Any, ...]


@dataclass
class FallbackCall:
    spec: FunctionSpec
    args: list[Arg]
    cell: tuple[str, int, int]


def _value(arg: Arg, regs: np.ndarray, vals: np.ndarray, errs: np.ndarray, i: int,
           ctx: CellContext) -> Any:
    kind = arg[0]
    if kind == "const":
        return arg[1]
    if kind == "call":
        return _apply(arg[1], arg[2], regs, vals, errs, i, ctx)
    if kind == "reg":
        r = regs[arg[1]]
        if errs[r, i]:
            return op.ERRORS_BY_CODE[int(errs[r, i])]
        x = float(vals[r, i])
        return x != 0.0 if arg[2] else x
    items = [_value(x, regs, vals, errs, i, ctx) for x in arg[1]]
    ncols = arg[3]
    return Array([items[k:k + ncols] for k in range(0, len(items), ncols)])


def _store(result: Any, out: np.ndarray, oerr: np.ndarray, i: int) -> None:
    if type(result) is Array:
        result = result.top_left()
    if type(result) is XLError:
        out[i], oerr[i] = 0.0, op.ERROR_CODES.get(result, op.E_VALUE)
    elif type(result) is bool:
        out[i], oerr[i] = (1.0 if result else 0.0), 0
    elif type(result) is float:
        out[i], oerr[i] = result, 0
    else:  # text or anything else has no number: the cell would not be a number either
        out[i], oerr[i] = 0.0, op.E_VALUE


def _apply(spec: FunctionSpec, arg_list: list[Arg], regs: np.ndarray, vals: np.ndarray,
           errs: np.ndarray, i: int, ctx: CellContext) -> Any:
    args = []
    for k, arg in enumerate(arg_list):
        v = _value(arg, regs, vals, errs, i, ctx)
        args.append((lambda v=v: v) if spec.kind_of(k) is Lazy else v)
    return call(spec, args, ctx)


def run_fallback(fb: FallbackCall, regs: np.ndarray, vals: np.ndarray, errs: np.ndarray,
                 dst: int, n: int, evaluator: Evaluator) -> None:
    ctx = CellContext(evaluator, fb.cell[0], fb.cell[1], fb.cell[2], False)
    for i in range(n):
        _store(_apply(fb.spec, fb.args, regs, vals, errs, i, ctx), vals[dst], errs[dst], i)


def run_blocks_with_fallbacks(program: Any, inputs: np.ndarray, out_vals: np.ndarray,
                              out_errs: np.ndarray, block: int, evaluator: Evaluator) -> None:
    """The machine's loop over blocks, handing PYCALL instructions to the scalar engine."""
    p = program
    pycalls = [pc for pc in range(p.size) if p.code[pc, 0] == op.PYCALL]
    segments = []
    start = 0
    for pc in pycalls:
        segments.append((start, pc))
        start = pc + 1
    segments.append((start, p.size))
    total = inputs.shape[1]
    for first in range(0, total, block):
        n = min(block, total - first)
        vals = np.empty((p.n_regs, block))
        errs = np.zeros((p.n_regs, block), dtype=np.uint8)
        chunk = np.ascontiguousarray(inputs[:, first:first + n])
        for k, (lo, hi) in enumerate(segments):
            if hi > lo:
                execute(p.code[lo:hi], p.arglist, p.consts, p.const_errs, p.tables,
                        p.table_errs, p.table_meta, chunk, vals, errs, n)
            if k < len(pycalls):
                row = p.code[pycalls[k]]
                fb = p.fallbacks[int(row[2])]
                regs = p.arglist[int(row[3]):int(row[3]) + int(row[4])]
                run_fallback(fb, regs, vals, errs, int(row[1]), n, evaluator)
        out_vals[:, first:first + n] = vals[p.outputs, :n]
        out_errs[:, first:first + n] = errs[p.outputs, :n]
