"""The CPU virtual machine: runs a lowered register program over blocks of iterations.

One Numba function interprets every workbook (no per-workbook compilation): each instruction is
a tight loop over a block of iterations, so dispatch costs once per block, not per iteration, and
memory is registers x block size. Blocks run in parallel on all cores (``prange``); each block
owns its register file. Per-iteration Excel errors travel in a uint8 code beside each value, so
``#DIV/0!`` in iteration 731 alone stays in iteration 731 and IFERROR catches it there.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from engine.cashflows import irr as _irr
from engine.cashflows import npv as _npv
from engine.cashflows import pmt as _pmt
from engine.montecarlo import opcodes as op
from engine.montecarlo.distributions import ndtri as norm_ppf

E_DIV0, E_VALUE, E_REF, E_NUM, E_NA = op.E_DIV0, op.E_VALUE, op.E_REF, op.E_NUM, op.E_NA


@njit(cache=True, nogil=True, inline="always")
def _excel_round(x: float, digits: float, mode: int) -> float:
    """ROUND (mode 0, half away from zero on 15 significant digits), ROUNDUP (1), ROUNDDOWN (2)."""
    d = int(digits)
    scale = 10.0 ** d if d >= 0 else 1.0 / 10.0 ** (-d)
    y = x * scale
    if y != 0.0 and math.isfinite(y):  # clear binary noise such as 12.4999999999999
        mag = 10.0 ** (14 - math.floor(math.log10(abs(y))))
        y = round(y * mag) / mag
    a = abs(y)
    if mode == 0:
        r = math.floor(a + 0.5)
    elif mode == 1:
        r = math.ceil(a)
    else:
        r = math.floor(a)
    r = r if y >= 0 else -r
    return r / scale


@njit(cache=True, nogil=True)
def _unary(fn: int, x: float) -> tuple[float, int]:
    if fn == op.U_ABS:
        return abs(x), 0
    if fn == op.U_SQRT:
        return (math.sqrt(x), 0) if x >= 0 else (0.0, E_NUM)
    if fn == op.U_EXP:
        r = math.exp(x) if x < 709.78 else math.inf
        return (r, 0) if math.isfinite(r) else (0.0, E_NUM)
    if fn == op.U_LN:
        return (math.log(x), 0) if x > 0 else (0.0, E_NUM)
    if fn == op.U_LOG10:
        return (math.log10(x), 0) if x > 0 else (0.0, E_NUM)
    if fn == op.U_INT:
        return math.floor(x), 0
    if fn == op.U_TRUNC:
        return float(int(x)), 0
    if fn == op.U_SIGN:
        return (1.0 if x > 0 else (-1.0 if x < 0 else 0.0)), 0
    if fn == op.U_SIN:
        return math.sin(x), 0
    if fn == op.U_COS:
        return math.cos(x), 0
    if fn == op.U_TAN:
        return math.tan(x), 0
    if fn == op.U_ATAN:
        return math.atan(x), 0
    if fn == op.U_NORMSINV:
        return (norm_ppf(x), 0) if 0.0 < x < 1.0 else (0.0, E_NUM)
    if fn == op.U_NORMSDIST:
        return 0.5 * math.erfc(-x / math.sqrt(2.0)), 0
    if fn == op.U_EVEN or fn == op.U_ODD:
        a = math.ceil(abs(x))
        parity = 0 if fn == op.U_EVEN else 1
        a = a if a % 2 == parity else a + 1
        return (a if x >= 0 else -a), 0
    if fn == op.U_ASIN:
        return (math.asin(x), 0) if -1 <= x <= 1 else (0.0, E_NUM)
    if fn == op.U_ACOS:
        return (math.acos(x), 0) if -1 <= x <= 1 else (0.0, E_NUM)
    if fn == op.U_SINH:
        return math.sinh(x), 0
    if fn == op.U_COSH:
        return math.cosh(x), 0
    if fn == op.U_TANH:
        return math.tanh(x), 0
    if fn == op.U_FACT:
        if x < 0:
            return 0.0, E_NUM
        r = math.gamma(math.floor(x) + 1.0) if x < 171 else math.inf
        return (r, 0) if math.isfinite(r) else (0.0, E_NUM)
    return 0.0, E_VALUE


@njit(cache=True, nogil=True)
def _binary(fn: int, x: float, y: float) -> tuple[float, int]:
    if fn == op.B_MOD:
        if y == 0:
            return 0.0, E_DIV0
        return x - y * math.floor(x / y), 0
    if fn == op.B_ROUND:
        return _excel_round(x, y, 0), 0
    if fn == op.B_ROUNDUP:
        return _excel_round(x, y, 1), 0
    if fn == op.B_ROUNDDOWN:
        return _excel_round(x, y, 2), 0
    if fn == op.B_LOG:
        if x <= 0 or y <= 0:
            return 0.0, E_NUM
        if y == 1:
            return 0.0, E_DIV0
        return math.log(x) / math.log(y), 0
    if fn == op.B_ATAN2:
        if x == 0 and y == 0:
            return 0.0, E_DIV0
        return math.atan2(y, x), 0
    if fn == op.B_MIN:
        return min(x, y), 0
    if fn == op.B_MAX:
        return max(x, y), 0
    if fn == op.B_AND:
        return (1.0 if (x != 0 and y != 0) else 0.0), 0
    if fn == op.B_OR:
        return (1.0 if (x != 0 or y != 0) else 0.0), 0
    if fn == op.B_XOR:
        return (1.0 if ((x != 0) != (y != 0)) else 0.0), 0
    if fn == op.B_TRUNC:
        return _excel_round(x, y, 2), 0
    if fn == op.B_QUOTIENT:
        if y == 0:
            return 0.0, E_DIV0
        return float(int(x / y)), 0
    if fn == op.B_MROUND:
        if y == 0:
            return 0.0, 0
        if x * y < 0:
            return 0.0, E_NUM
        return _excel_round(x / y, 0.0, 0) * y, 0
    return 0.0, E_VALUE


@njit(cache=True, nogil=True)
def _power(x: float, y: float) -> tuple[float, int]:
    if x == 0.0:
        if y == 0.0:
            return 0.0, E_NUM
        if y < 0.0:
            return 0.0, E_DIV0
        return 0.0, 0
    if x < 0.0 and y != math.floor(y):
        return 0.0, E_NUM
    r = x ** y
    return (r, 0) if math.isfinite(r) else (0.0, E_NUM)


@njit(cache=True, nogil=True)
def _lookup_position(tables: np.ndarray, table_errs: np.ndarray, start: int, step: int,
                     count: int, x: float, mode: int) -> int:
    """Position (0-based) of ``x`` in a numeric key vector of a constant table; -1 if none.
    Exact: first equal key. Sorted: Excel's approximate binary search (last key <= x).
    Descending: MATCH -1 (first key >= x scanning while keys are >= x)."""
    if mode == op.L_EXACT:
        for k in range(count):
            idx = start + k * step
            if table_errs[idx] == 0 and tables[idx] == x:
                return k
        return -1
    if mode == op.L_SORTED:
        lo, hi, best = 0, count - 1, -1
        while lo <= hi:
            mid = (lo + hi) // 2
            idx = start + mid * step
            if table_errs[idx] != 0 or tables[idx] <= x:
                if table_errs[idx] == 0:
                    best = mid
                lo = mid + 1
            else:
                hi = mid - 1
        return best
    best = -1
    for k in range(count):
        idx = start + k * step
        if table_errs[idx] != 0:
            continue
        if tables[idx] >= x:
            best = k
        else:
            break
    return best


@njit(cache=True, nogil=True)
def execute(code: np.ndarray, arglist: np.ndarray, consts: np.ndarray, const_errs: np.ndarray,
            tables: np.ndarray, table_errs: np.ndarray, table_meta: np.ndarray,
            inputs: np.ndarray, vals: np.ndarray, errs: np.ndarray, n: int) -> None:
    """Run ``code`` on one block: ``inputs`` (inputs x n) in, registers ``vals``/``errs`` out."""
    scratch = np.empty(max(arglist.shape[0], 1))
    for pc in range(code.shape[0]):
        opc = code[pc, 0]
        dst = code[pc, 1]
        a = code[pc, 2]
        b = code[pc, 3]
        c = code[pc, 4]
        d = code[pc, 5]
        out = vals[dst]
        oerr = errs[dst]
        if opc == op.CONST:
            v = consts[a]
            e = const_errs[a]
            for i in range(n):
                out[i] = v
                oerr[i] = e
        elif opc == op.INPUT:
            src = inputs[a]
            for i in range(n):
                out[i] = src[i]
                oerr[i] = 0
        elif opc == op.COPY:
            for i in range(n):
                out[i] = vals[a, i]
                oerr[i] = errs[a, i]
        elif op.ADD <= opc <= op.GE:
            x = vals[a]
            y = vals[b]
            ex = errs[a]
            ey = errs[b]
            for i in range(n):
                if ex[i] != 0:
                    oerr[i] = ex[i]
                    out[i] = 0.0
                    continue
                if ey[i] != 0:
                    oerr[i] = ey[i]
                    out[i] = 0.0
                    continue
                oerr[i] = 0
                p = x[i]
                q = y[i]
                if opc == op.ADD:
                    r = p + q
                elif opc == op.SUB:
                    r = p - q
                elif opc == op.MUL:
                    r = p * q
                elif opc == op.DIV:
                    if q == 0.0:
                        oerr[i] = E_DIV0
                        r = 0.0
                    else:
                        r = p / q
                elif opc == op.POW:
                    r, oerr[i] = _power(p, q)
                elif opc == op.EQ:
                    r = 1.0 if p == q else 0.0
                elif opc == op.NE:
                    r = 1.0 if p != q else 0.0
                elif opc == op.LT:
                    r = 1.0 if p < q else 0.0
                elif opc == op.LE:
                    r = 1.0 if p <= q else 0.0
                elif opc == op.GT:
                    r = 1.0 if p > q else 0.0
                else:
                    r = 1.0 if p >= q else 0.0
                if not math.isfinite(r):
                    oerr[i] = E_NUM
                    r = 0.0
                out[i] = r
        elif opc == op.NEG or opc == op.PCT or opc == op.NOT:
            for i in range(n):
                oerr[i] = errs[a, i]
                x0 = vals[a, i]
                if opc == op.NEG:
                    out[i] = -x0
                elif opc == op.PCT:
                    out[i] = x0 / 100.0
                else:
                    out[i] = 1.0 if x0 == 0.0 else 0.0
        elif opc == op.UNARY:
            for i in range(n):
                if errs[a, i] != 0:
                    oerr[i] = errs[a, i]
                    out[i] = 0.0
                else:
                    out[i], oerr[i] = _unary(c, vals[a, i])
        elif opc == op.BINARY:
            for i in range(n):
                if errs[a, i] != 0:
                    oerr[i] = errs[a, i]
                    out[i] = 0.0
                elif errs[b, i] != 0:
                    oerr[i] = errs[b, i]
                    out[i] = 0.0
                else:
                    out[i], oerr[i] = _binary(c, vals[a, i], vals[b, i])
        elif opc == op.IF or opc == op.SELECT:
            for i in range(n):
                if errs[a, i] != 0:
                    oerr[i] = errs[a, i]
                    out[i] = 0.0
                elif vals[a, i] != 0.0:
                    out[i] = vals[b, i]
                    oerr[i] = errs[b, i]
                else:
                    out[i] = vals[c, i]
                    oerr[i] = errs[c, i]
        elif opc == op.IFERROR or opc == op.IFNA:
            for i in range(n):
                e0 = errs[a, i]
                caught = e0 != 0 if opc == op.IFERROR else e0 == E_NA
                if caught:
                    out[i] = vals[b, i]
                    oerr[i] = errs[b, i]
                else:
                    out[i] = vals[a, i]
                    oerr[i] = e0
        elif opc == op.REDUCE:
            for i in range(n):
                first_err = 0
                for k in range(b):
                    if errs[arglist[a + k], i] != 0:
                        first_err = errs[arglist[a + k], i]
                        break
                if first_err != 0:
                    oerr[i] = first_err
                    out[i] = 0.0
                    continue
                oerr[i] = 0
                if c == op.R_SUM or c == op.R_AVERAGE:
                    acc = 0.0
                    for k in range(b):
                        acc += vals[arglist[a + k], i]
                    if c == op.R_AVERAGE:
                        if b == 0:
                            oerr[i] = E_DIV0
                            acc = 0.0
                        else:
                            acc /= b
                elif c == op.R_PRODUCT:
                    acc = 1.0
                    for k in range(b):
                        acc *= vals[arglist[a + k], i]
                elif c == op.R_SUMSQ:
                    acc = 0.0
                    for k in range(b):
                        acc += vals[arglist[a + k], i] ** 2
                elif c == op.R_MIN or c == op.R_MAX:
                    acc = vals[arglist[a], i] if b > 0 else 0.0
                    for k in range(1, b):
                        v = vals[arglist[a + k], i]
                        if (c == op.R_MIN and v < acc) or (c == op.R_MAX and v > acc):
                            acc = v
                elif c == op.R_COUNT:
                    acc = float(b)
                elif c == op.R_AND:
                    acc = 1.0
                    for k in range(b):
                        if vals[arglist[a + k], i] == 0.0:
                            acc = 0.0
                else:  # R_OR
                    acc = 0.0
                    for k in range(b):
                        if vals[arglist[a + k], i] != 0.0:
                            acc = 1.0
                if not math.isfinite(acc):
                    oerr[i] = E_NUM
                    acc = 0.0
                out[i] = acc
        elif opc == op.NPV or opc == op.IRR:
            first = a if opc == op.IRR else b
            count = b if opc == op.IRR else c
            flows = scratch[:count]
            for i in range(n):
                e0 = errs[c, i] if opc == op.IRR else errs[a, i]
                for k in range(count):
                    flows[k] = vals[arglist[first + k], i]
                    if e0 == 0 and errs[arglist[first + k], i] != 0:
                        e0 = errs[arglist[first + k], i]
                if e0 != 0:
                    oerr[i] = e0
                    out[i] = 0.0
                    continue
                if opc == op.NPV:
                    rate = vals[a, i]
                    r = math.nan if rate == -1.0 else _npv(rate, flows)
                    fail = E_DIV0 if rate == -1.0 else E_NUM
                else:
                    r = _irr(flows, vals[c, i])
                    fail = E_NUM
                if math.isfinite(r):
                    out[i] = r
                    oerr[i] = 0
                else:
                    out[i] = 0.0
                    oerr[i] = fail
        elif opc == op.PMT:
            for i in range(n):
                e0 = 0
                for k in range(5):
                    if errs[arglist[a + k], i] != 0:
                        e0 = errs[arglist[a + k], i]
                        break
                if e0 != 0:
                    oerr[i] = e0
                    out[i] = 0.0
                    continue
                r = _pmt(vals[arglist[a], i], vals[arglist[a + 1], i], vals[arglist[a + 2], i],
                         vals[arglist[a + 3], i], vals[arglist[a + 4], i])
                if math.isfinite(r):
                    out[i] = r
                    oerr[i] = 0
                else:
                    out[i] = 0.0
                    oerr[i] = E_NUM
        elif opc == op.INDEX:
            off = table_meta[a, 0]
            nrows = table_meta[a, 1]
            ncols = table_meta[a, 2]
            for i in range(n):
                if errs[b, i] != 0 or errs[c, i] != 0:
                    oerr[i] = errs[b, i] if errs[b, i] != 0 else errs[c, i]
                    out[i] = 0.0
                    continue
                rr = int(vals[b, i])
                cc = int(vals[c, i])
                if nrows == 1 and cc == 0 and rr >= 1:  # INDEX(row_vector, k)
                    rr, cc = 1, rr
                if rr == 0:  # a whole column, intersected with the formula's row
                    rr = 1 if nrows == 1 else d >> 20
                if cc == 0:
                    cc = 1 if ncols == 1 else d & ((1 << 20) - 1)
                if rr == 0 or cc == 0:
                    oerr[i] = E_VALUE
                    out[i] = 0.0
                    continue
                if rr < 1 or cc < 1 or rr > nrows or cc > ncols:
                    oerr[i] = E_REF if (rr >= 0 and cc >= 0) else E_VALUE
                    out[i] = 0.0
                    continue
                idx = off + (rr - 1) * ncols + (cc - 1)
                out[i] = tables[idx]
                oerr[i] = table_errs[idx]
        elif opc == op.CHOOSE:
            for i in range(n):
                if errs[a, i] != 0:
                    oerr[i] = errs[a, i]
                    out[i] = 0.0
                    continue
                k = int(vals[a, i])
                if k < 1 or k > c:
                    oerr[i] = E_VALUE
                    out[i] = 0.0
                    continue
                src = arglist[b + k - 1]
                out[i] = vals[src, i]
                oerr[i] = errs[src, i]
        elif opc == op.LOOKUP:
            off = table_meta[a, 0]
            nrows = table_meta[a, 1]
            ncols = table_meta[a, 2]
            by_rows = nrows >= ncols or ncols == 1  # keys run down the first column
            if table_meta[a, 3] == 1:  # HLOOKUP: keys along the first row
                by_rows = False
            count = nrows if by_rows else ncols
            step = ncols if by_rows else 1
            for i in range(n):
                if errs[b, i] != 0:
                    oerr[i] = errs[b, i]
                    out[i] = 0.0
                    continue
                pos = _lookup_position(tables, table_errs, off, step, count, vals[b, i], d)
                if pos < 0:
                    oerr[i] = E_NA
                    out[i] = 0.0
                elif c < 0:  # MATCH: the 1-based position
                    out[i] = float(pos + 1)
                    oerr[i] = 0
                else:
                    idx = off + (pos * ncols + c if by_rows else c * ncols + pos)
                    out[i] = tables[idx]
                    oerr[i] = table_errs[idx]


@njit(cache=True, nogil=True, parallel=True)
def run_blocks(code: np.ndarray, arglist: np.ndarray, consts: np.ndarray,
               const_errs: np.ndarray, tables: np.ndarray, table_errs: np.ndarray,
               table_meta: np.ndarray, inputs: np.ndarray, n_regs: int, outputs: np.ndarray,
               out_vals: np.ndarray, out_errs: np.ndarray, block: int) -> None:
    """Run the program over all iterations of ``inputs`` (inputs x N) in parallel blocks;
    registers ``outputs`` land in ``out_vals``/``out_errs`` (outputs x N)."""
    total = inputs.shape[1]
    n_blocks = (total + block - 1) // block
    for blk in prange(n_blocks):
        start = blk * block
        n = min(block, total - start)
        vals = np.empty((n_regs, block))
        errs = np.zeros((n_regs, block), dtype=np.uint8)
        execute(code, arglist, consts, const_errs, tables, table_errs, table_meta,
                inputs[:, start:start + n], vals, errs, n)
        for k in range(outputs.shape[0]):
            reg = outputs[k]
            for i in range(n):
                out_vals[k, start + i] = vals[reg, i]
                out_errs[k, start + i] = errs[reg, i]
