"""Lowering: the stochastic part of a workbook's formulas becomes a register program.

Only the cells between uncertain inputs and the requested outputs are lowered; every subtree that
does not depend on an input is folded to a constant by the scalar evaluator, with Excel's full
semantics (text, lookups, dates). What remains is numeric per iteration: arithmetic, comparisons,
IF/IFERROR, aggregates, financial functions and lookups of a sampled key into constant tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import NA, NUM, VALUE, XLError
from engine.evaluator import CellContext, Evaluator
from engine.functions.registry import FunctionSpec, lookup
from engine.graph import Cell
from engine.montecarlo import opcodes as op
from engine.montecarlo.fallback import FallbackCall
from engine.montecarlo.program import ProgramBuilder
from engine.nodes import (
    ArrayLiteral,
    BadRef,
    Binary,
    Call,
    Literal,
    Missing,
    Name,
    Percent,
    RefNode,
    Unary,
    Union,
    walk,
)
from engine.refs import MultiRef, Ref, cell_key
from engine.values import BLANK, MISSING, Array, to_number


class SimulationError(ValueError):
    """A model the simulation cannot run, with a message naming the cell and the reason."""


@dataclass(frozen=True)
class Const:
    """A value known before the run: a scalar, an Array or a reference."""

    value: Any


@dataclass(frozen=True)
class Reg:
    """A per-iteration value in a virtual register; ``logical`` when it came from a test."""

    reg: int
    logical: bool = False


@dataclass(frozen=True)
class Vec:
    """A stochastic range or array: its cells row by row."""

    items: tuple[Any, ...]
    nrows: int
    ncols: int


_ARITH = {"+": op.ADD, "-": op.SUB, "*": op.MUL, "/": op.DIV, "^": op.POW}
_COMPARE = {"=": op.EQ, "<>": op.NE, "<": op.LT, "<=": op.LE, ">": op.GT, ">=": op.GE}
_SWAPPED = {op.EQ: op.EQ, op.NE: op.NE, op.LT: op.GT, op.LE: op.GE, op.GT: op.LT, op.GE: op.LE}
_UNARY = {
    "ABS": op.U_ABS, "SQRT": op.U_SQRT, "EXP": op.U_EXP, "LN": op.U_LN, "LOG10": op.U_LOG10,
    "INT": op.U_INT, "SIGN": op.U_SIGN, "SIN": op.U_SIN, "COS": op.U_COS, "TAN": op.U_TAN,
    "ATAN": op.U_ATAN, "NORM.S.INV": op.U_NORMSINV, "NORMSINV": op.U_NORMSINV,
    "NORMSDIST": op.U_NORMSDIST, "EVEN": op.U_EVEN, "ODD": op.U_ODD, "ASIN": op.U_ASIN,
    "ACOS": op.U_ACOS, "SINH": op.U_SINH, "COSH": op.U_COSH, "TANH": op.U_TANH,
    "FACT": op.U_FACT,
}
_BINARY = {
    "MOD": op.B_MOD, "ROUND": op.B_ROUND, "ROUNDUP": op.B_ROUNDUP,
    "ROUNDDOWN": op.B_ROUNDDOWN, "ATAN2": op.B_ATAN2, "QUOTIENT": op.B_QUOTIENT,
    "MROUND": op.B_MROUND,
}
_REDUCE = {
    "SUM": op.R_SUM, "PRODUCT": op.R_PRODUCT, "MIN": op.R_MIN, "MAX": op.R_MAX,
    "AVERAGE": op.R_AVERAGE, "SUMSQ": op.R_SUMSQ, "AND": op.R_AND, "OR": op.R_OR,
}
_REFERENCE_FUNCTIONS = frozenset({"OFFSET", "INDIRECT"})


def _error_code(v: Any) -> int:
    return op.ERROR_CODES.get(v, op.E_VALUE) if type(v) is XLError else 0


def _const_cell(v: Any) -> tuple[float, int]:
    """A constant as (number, error code) for the machine; text is #VALUE! there."""
    if type(v) is XLError:
        return 0.0, _error_code(v)
    if v is BLANK or v is MISSING:
        return 0.0, 0
    n = to_number(v) if type(v) is not str else VALUE
    if type(n) is XLError:
        return 0.0, _error_code(n)
    return float(n), 0


class Lowerer:
    """Turns the formulas of the stochastic cone into instructions, cell by cell."""

    def __init__(self, evaluator: Evaluator, stochastic: Callable[[Any, Cell], bool],
                 site_input: Callable[[Cell, Any], int | None],
                 cell_input: Callable[[Cell], int | None]):
        self.ev = evaluator
        self.workbook = evaluator.workbook
        self.b = ProgramBuilder()
        self.is_stochastic = stochastic
        self.site_input = site_input
        self.cell_input = cell_input
        self.cell_regs: dict[Cell, Reg] = {}
        self._input_regs: dict[int, int] = {}
        self.fallbacks: list[FallbackCall] = []
        self.warnings: list[str] = []

    # -- entry points ---------------------------------------------------------------------
    def lower_cell(self, cell: Cell) -> Reg:
        """Lower one cone cell (its precedents first); its result register is remembered."""
        index = self.cell_input(cell)
        if index is not None:
            reg = Reg(self._input(index))
        else:
            f = self.workbook.formulas.get(cell)
            if f is None:
                raise SimulationError(f"{cell_key(*cell)} is not a formula or an input")
            if f.array is not None:
                raise SimulationError(f"{cell_key(*cell)}: array formulas ({{=...}}) that depend "
                                      "on uncertain inputs are not supported in simulations yet")
            reg = self.scalar(self.lower(f.node, cell), cell)
        self.cell_regs[cell] = reg
        return reg

    def constant_output(self, value: Any) -> Reg:
        number, err = _const_cell(value)
        return Reg(self.b.const(number, err))

    # -- operands -------------------------------------------------------------------------
    def _input(self, index: int) -> int:
        reg = self._input_regs.get(index)
        if reg is None:
            reg = self._input_regs[index] = self.b.emit(op.INPUT, index)
        return reg

    def scalar(self, operand: Any, cell: Cell) -> Reg:
        """A register for one per-iteration number."""
        t = type(operand)
        if t is Reg:
            return operand
        if t is Const:
            v = operand.value
            if type(v) is Ref:
                v = self.ev.read_area(v) if not v.is_cell else self.ev.cell_value(
                    v.sheet, v.r1, v.c1)
            if type(v) is Array:
                v = v.top_left() if v.shape == (1, 1) else VALUE
            if type(v) is str:
                raise SimulationError(
                    f"{cell_key(*cell)}: text ({v!r}) where an uncertain number is computed; "
                    "simulated cells must be numbers")
            return Reg(self.b.const(*_const_cell(v)), logical=type(v) is bool)
        if operand.nrows == 1 and operand.ncols == 1:
            return self.scalar(operand.items[0], cell)
        raise SimulationError(f"{cell_key(*cell)}: a range of uncertain values where one value "
                              "is expected (implicit intersection is not simulated)")

    def items(self, operand: Any, cell: Cell, typed: bool) -> list[Any]:
        """The cells of an argument as Reg/Const, as aggregates read them."""
        if type(operand) is Vec:
            return list(operand.items)
        if type(operand) is Const and type(operand.value) in (Ref, Array, MultiRef):
            v = operand.value
            if type(v) is MultiRef:
                return [Const(x) for a in v.areas for x in self.ev.read_area(a).flat()]
            arr = self.ev.read_area(v) if type(v) is Ref else v
            return [Const(x) for x in arr.flat()]
        if type(operand) is Const and typed:
            n = to_number(operand.value)
            return [Const(n)]
        return [operand]

    # -- the tree walk --------------------------------------------------------------------
    def fold(self, node: Any, cell: Cell) -> Const:
        ctx = CellContext(self.ev, cell[0], cell[1], cell[2], False)
        return Const(self.ev.evaluate(node, ctx))

    def lower(self, node: Any, cell: Cell) -> Any:
        t = type(node)
        if t in (Literal, Missing, ArrayLiteral, BadRef):
            return self.fold(node, cell)
        if t is Call:
            index = self.site_input(cell, node)
            if index is not None:
                return Reg(self._input(index))
        if self._is_reference(node, cell):
            ref = self.fold(node, cell).value
            if type(ref) is Ref:
                return self.area(ref)
            if type(ref) is MultiRef:
                parts = [self.area(a) for a in ref.areas]
                items = tuple(x for p in parts for x in (p.items if type(p) is Vec else (p,)))
                return Vec(items, 1, len(items))
            return Const(ref)
        if not self.is_stochastic(node, cell):
            return self.fold(node, cell)
        if t is Name:
            tree = self.ev.name_tree(node.name, node.sheet, node.explicit_sheet)
            return self.lower(tree, cell)
        if t is Unary or t is Percent:
            operand = self.lower(node.operand, cell)
            if t is Unary and node.op == "+":
                return operand
            opcode = op.NEG if t is Unary else op.PCT
            if self._is_array(operand):  # --(A1:A9>5) inside SUMPRODUCT
                items, nrows, ncols = self._cells_of(operand)
                return Vec(tuple(self._unary(opcode, x, cell) for x in items), nrows, ncols)
            return self._unary(opcode, operand, cell)
        if t is Binary:
            return self.binary(node, cell)
        if t is Call:
            return self.call(node, cell)
        raise SimulationError(f"{cell_key(*cell)}: cannot simulate {type(node).__name__}")

    def _is_reference(self, node: Any, cell: Cell) -> bool:
        """Whether ``node`` designates cells by a reference known before the run."""
        t = type(node)
        if t is RefNode or t is Union:
            return True
        if t is Binary and node.op in (":", " "):
            return True
        if t is Call and node.name in _REFERENCE_FUNCTIONS:
            refs = node.args[:1] if node.name == "OFFSET" else ()
            rest = node.args[1:] if node.name == "OFFSET" else node.args
            return all(self._is_reference(a, cell) for a in refs) and not any(
                self.is_stochastic(a, cell) for a in rest)
        return False

    def area(self, ref: Ref) -> Any:
        """The cells of a reference: registers where uncertain, constants elsewhere."""
        if ref.is_cell:
            return self.cell_operand((ref.sheet, ref.r1, ref.c1))
        values = self.ev.read_area(ref)
        items = []
        for i, row in enumerate(values.rows):
            for j, v in enumerate(row):
                cell = (ref.sheet, ref.r1 + i, ref.c1 + j)
                items.append(self.cell_regs.get(cell) or Const(v))
        if not any(type(x) is Reg for x in items):
            return Const(ref)
        return Vec(tuple(items), values.nrows, values.ncols)

    def cell_operand(self, cell: Cell) -> Any:
        reg = self.cell_regs.get(cell)
        if reg is not None:
            return reg
        return Const(self.ev.cell_value(*cell))

    def binary(self, node: Binary, cell: Cell) -> Any:
        left = self.lower(node.left, cell)
        right = self.lower(node.right, cell)
        if self._is_array(left) or self._is_array(right):
            return self._elementwise(node.op, left, right, cell)
        return self._scalar_binary(node.op, left, right, cell)

    def _unary(self, opcode: int, operand: Any, cell: Cell) -> Any:
        if type(operand) is Const:
            node = Unary("-", Literal(operand.value)) if opcode == op.NEG else Percent(
                Literal(operand.value))
            return self.fold(node, cell)
        return Reg(self.b.emit(opcode, self.scalar(operand, cell).reg))

    def _cells_of(self, x: Any) -> tuple[list[Any], int, int]:
        """The cells of an operand, row by row, with its shape."""
        if type(x) is Vec:
            return list(x.items), x.nrows, x.ncols
        if type(x) is Const and type(x.value) in (Ref, Array):
            arr = self.ev.read_area(x.value) if type(x.value) is Ref else x.value
            return [Const(v) for v in arr.flat()], arr.nrows, arr.ncols
        return [x], 1, 1

    @staticmethod
    def _is_array(operand: Any) -> bool:
        """Several values at once: an uncertain range, or a constant array or range."""
        if type(operand) is Vec:
            return True
        v = operand.value if type(operand) is Const else None
        return (type(v) is Array and v.shape != (1, 1)) or (type(v) is Ref and not v.is_cell)

    def _elementwise(self, symbol: str, left: Any, right: Any, cell: Cell) -> Vec:
        """Array arithmetic such as ``(A1:A9>5)*B1:B9`` inside SUMPRODUCT."""
        li, lr, lc = self._cells_of(left)
        ri, rr, rc = self._cells_of(right)
        nrows, ncols = max(lr, rr), max(lc, rc)
        out = []
        for r in range(nrows):
            for c in range(ncols):
                a = li[(0 if lr == 1 else r) * lc + (0 if lc == 1 else c)] \
                    if (lr == 1 or r < lr) and (lc == 1 or c < lc) else Const(NA)
                b = ri[(0 if rr == 1 else r) * rc + (0 if rc == 1 else c)] \
                    if (rr == 1 or r < rr) and (rc == 1 or c < rc) else Const(NA)
                out.append(self._scalar_binary(symbol, a, b, cell))
        return Vec(tuple(out), nrows, ncols)

    def _scalar_binary(self, symbol: str, left: Any, right: Any, cell: Cell) -> Any:
        if type(left) is Const and type(right) is Const:
            return self._fold_binary(symbol, left, right, cell)
        opc = _ARITH.get(symbol)
        if opc is not None:
            a, b = self.scalar(left, cell), self.scalar(right, cell)
            return Reg(self.b.emit(opc, a.reg, b.reg))
        opc = _COMPARE.get(symbol)
        if opc is None:
            raise SimulationError(f"{cell_key(*cell)}: the {symbol!r} operator on uncertain "
                                  "values is not supported (text per iteration)")
        constant = self._typed_compare(opc, left, right)
        if constant is not None:
            return Const(constant)
        a, b = self.scalar(left, cell), self.scalar(right, cell)
        return Reg(self.b.emit(opc, a.reg, b.reg), logical=True)

    def _fold_binary(self, symbol: str, left: Const, right: Const, cell: Cell) -> Const:
        node = Binary(symbol, Literal(left.value), Literal(right.value))
        return self.fold(node, cell)

    @staticmethod
    def _typed_compare(opc: int, left: Any, right: Any) -> bool | None:
        """Excel orders numbers < text < logicals: a number against text or a logical has a
        known answer whatever the number."""
        for x, y, code in ((left, right, opc), (right, left, _SWAPPED[opc])):
            if type(x) is Reg and type(y) is Const:
                v = y.value
                rank_y = 1 if type(v) is str else 2 if type(v) is bool else 0
                rank_x = 2 if x.logical else 0
                if rank_y == 0 or rank_x == rank_y:
                    return None
                order = (rank_x > rank_y) - (rank_x < rank_y)
                return {op.EQ: order == 0, op.NE: order != 0, op.LT: order < 0,
                        op.LE: order <= 0, op.GT: order > 0, op.GE: order >= 0}[code]
        return None

    # -- functions ------------------------------------------------------------------------
    def call(self, node: Call, cell: Cell) -> Any:
        name = node.name
        handler = _HANDLERS.get(name)
        if handler is not None:
            return handler(self, node, cell)
        if name in _UNARY and len(node.args) == 1:
            x = self.scalar(self.lower(node.args[0], cell), cell)
            return Reg(self.b.emit(op.UNARY, x.reg, 0, _UNARY[name]))
        if name in _BINARY and len(node.args) in (1, 2):
            x = self.scalar(self.lower(node.args[0], cell), cell)
            y = self._arg_reg(node, 1, 0.0, cell)
            return Reg(self.b.emit(op.BINARY, x.reg, y.reg, _BINARY[name]))
        if name in _REDUCE:
            return self.reduce(node, cell, _REDUCE[name])
        spec = lookup(name)
        if spec is None:
            raise SimulationError(f"{cell_key(*cell)}: {name} with uncertain arguments cannot "
                                  "be simulated")
        return self.fallback(spec, node, cell)

    def fallback(self, spec: FunctionSpec, node: Call, cell: Cell) -> Reg:
        """A function without an instruction: the scalar engine runs it per iteration."""
        regs: list[int] = []

        def describe(operand: Any) -> tuple[Any, ...]:
            if type(operand) is Reg:
                regs.append(operand.reg)
                return ("reg", len(regs) - 1, operand.logical)
            if type(operand) is Vec:
                return ("vec", [describe(x) for x in operand.items], operand.nrows,
                        operand.ncols)
            return ("const", operand.value)

        def argument(a: Any) -> tuple[Any, ...]:
            if type(a) is Missing:
                return ("const", MISSING)
            inner = lookup(a.name) if type(a) is Call and not self._native(a, cell) else None
            if inner is not None and self.is_stochastic(a, cell):
                # text may pass between the two (LEN(TEXT(x, "0.00"))): run them together
                return ("call", inner, [argument(x) for x in a.args])
            return describe(self.lower(a, cell))

        args = [argument(a) for a in node.args]
        self.fallbacks.append(FallbackCall(spec, args, cell))
        self.warnings.append(f"{cell_key(*cell)}: {spec.name} runs iteration by iteration in "
                             "the scalar engine (slower than compiled instructions)")
        return Reg(self.b.emit(op.PYCALL, len(self.fallbacks) - 1, self.b.args(regs),
                               len(regs)))

    def _native(self, node: Call, cell: Cell) -> bool:
        """Whether a call lowers to machine instructions (or is an input)."""
        name = node.name
        return (self.site_input(cell, node) is not None or name in _HANDLERS
                or (name in _UNARY and len(node.args) == 1)
                or (name in _BINARY and len(node.args) in (1, 2)) or name in _REDUCE
                or name in _REFERENCE_FUNCTIONS)

    def _arg_reg(self, node: Call, i: int, default: float, cell: Cell) -> Reg:
        if i >= len(node.args) or type(node.args[i]) is Missing:
            return Reg(self.b.const(default))
        return self.scalar(self.lower(node.args[i], cell), cell)

    def _numbers(self, node: Call, cell: Cell, args: tuple[Any, ...]) -> list[Reg]:
        """Registers of the numbers an aggregate reads: typed arguments coerced, ranges' text
        and logicals skipped, as SUM does."""
        regs = []
        for arg in args:
            operand = self.lower(arg, cell)
            typed = type(operand) is Const and type(operand.value) not in (Ref, Array, MultiRef)
            from_range = type(operand) is Vec
            for item in self.items(operand, cell, typed):
                if type(item) is Reg:
                    if not (from_range and item.logical):  # ranges skip TRUE/FALSE, as SUM does
                        regs.append(item)
                    continue
                v = item.value
                if type(v) is XLError:
                    regs.append(Reg(self.b.const(0.0, _error_code(v))))
                elif type(v) in (float, int) or (typed and type(v) is not str):
                    regs.append(Reg(self.b.const(*_const_cell(v))))
        return regs

    def reduce(self, node: Call, cell: Cell, kind: int) -> Reg:
        regs = self._numbers(node, cell, node.args)
        if kind in (op.R_AND, op.R_OR) and not regs:
            return Reg(self.b.const(0.0, op.E_VALUE))
        if kind in (op.R_MIN, op.R_MAX) and not regs:
            return Reg(self.b.const(0.0))
        offset = self.b.args([r.reg for r in regs])
        return Reg(self.b.emit(op.REDUCE, offset, len(regs), kind),
                   logical=kind in (op.R_AND, op.R_OR))


def _if(lw: Lowerer, node: Call, cell: Cell) -> Any:
    args = node.args
    if not 1 <= len(args) <= 3:
        return Const(VALUE)
    cond = lw.scalar(lw.lower(args[0], cell), cell)
    yes = lw._arg_reg(node, 1, 0.0, cell)
    no = lw._arg_reg(node, 2, 0.0, cell)  # IF(c, x) gives FALSE (0) when c is false
    return Reg(lw.b.emit(op.IF, cond.reg, yes.reg, no.reg), logical=yes.logical and no.logical)


def _iferror(opcode: int) -> Callable[[Lowerer, Call, Cell], Any]:
    def handler(lw: Lowerer, node: Call, cell: Cell) -> Any:
        if len(node.args) != 2:
            return Const(VALUE)
        value = lw.scalar(lw.lower(node.args[0], cell), cell)
        fallback = lw._arg_reg(node, 1, 0.0, cell)
        return Reg(lw.b.emit(opcode, value.reg, fallback.reg))
    return handler


def _not(lw: Lowerer, node: Call, cell: Cell) -> Any:
    x = lw.scalar(lw.lower(node.args[0], cell), cell)
    return Reg(lw.b.emit(op.NOT, x.reg), logical=True)


def _power(lw: Lowerer, node: Call, cell: Cell) -> Any:
    x = lw.scalar(lw.lower(node.args[0], cell), cell)
    y = lw.scalar(lw.lower(node.args[1], cell), cell)
    return Reg(lw.b.emit(op.POW, x.reg, y.reg))


def _log(lw: Lowerer, node: Call, cell: Cell) -> Any:
    x = lw.scalar(lw.lower(node.args[0], cell), cell)
    base = lw._arg_reg(node, 1, 10.0, cell)
    return Reg(lw.b.emit(op.BINARY, x.reg, base.reg, op.B_LOG))


def _trunc(lw: Lowerer, node: Call, cell: Cell) -> Any:
    x = lw.scalar(lw.lower(node.args[0], cell), cell)
    digits = lw._arg_reg(node, 1, 0.0, cell)
    return Reg(lw.b.emit(op.BINARY, x.reg, digits.reg, op.B_TRUNC))


def _count(lw: Lowerer, node: Call, cell: Cell) -> Any:
    return Reg(lw.b.const(float(len(lw._numbers(node, cell, node.args)))))


def _npv(lw: Lowerer, node: Call, cell: Cell) -> Any:
    rate = lw.scalar(lw.lower(node.args[0], cell), cell)
    flows = lw._numbers(node, cell, node.args[1:])
    return Reg(lw.b.emit(op.NPV, rate.reg, lw.b.args([r.reg for r in flows]), len(flows)))


def _irr(lw: Lowerer, node: Call, cell: Cell) -> Any:
    flows = lw._numbers(node, cell, node.args[:1])
    guess = lw._arg_reg(node, 1, 0.1, cell)
    return Reg(lw.b.emit(op.IRR, lw.b.args([r.reg for r in flows]), len(flows), guess.reg))


def _pmt(lw: Lowerer, node: Call, cell: Cell) -> Any:
    regs = [lw._arg_reg(node, i, 0.0, cell) for i in range(5)]
    return Reg(lw.b.emit(op.PMT, lw.b.args([r.reg for r in regs])))


def _norm_inv(log: bool) -> Callable[[Lowerer, Call, Cell], Any]:
    """NORM.INV(p, mean, sd) as mean + sd * NORM.S.INV(p); LOGNORM.INV takes its exponential."""
    def handler(lw: Lowerer, node: Call, cell: Cell) -> Any:
        if len(node.args) != 3:
            return Const(VALUE)
        p, mean, sd = (lw.scalar(lw.lower(a, cell), cell) for a in node.args)
        z = lw.b.emit(op.UNARY, p.reg, 0, op.U_NORMSINV)
        bad = lw.b.emit(op.LE, sd.reg, lw.b.const(0.0))
        x = lw.b.emit(op.ADD, mean.reg, lw.b.emit(op.MUL, sd.reg, z))
        if log:
            x = lw.b.emit(op.UNARY, x, 0, op.U_EXP)
        return Reg(lw.b.emit(op.IF, bad, lw.b.const(0.0, op.ERROR_CODES[NUM]), x))
    return handler


def _table(lw: Lowerer, operand: Any, cell: Cell, horizontal: bool = False) -> int:
    """A constant range or array as a machine table."""
    if type(operand) is not Const or type(operand.value) not in (Ref, Array):
        raise SimulationError(f"{cell_key(*cell)}: lookups into uncertain tables are not "
                              "supported in simulations yet (the key may be uncertain)")
    v = operand.value
    arr = lw.ev.read_area(v) if type(v) is Ref else v
    return lw.b.table([[_const_cell(x) for x in row] for row in arr.rows], horizontal)


def _index(lw: Lowerer, node: Call, cell: Cell) -> Any:
    source = lw.lower(node.args[0], cell)
    table = _table(lw, source, cell)
    row = lw._arg_reg(node, 1, 0.0, cell)
    col = lw._arg_reg(node, 2, 0.0, cell)
    # An index of 0 takes a whole column (row): in a cell, implicitly intersected with the
    # formula's own row (column). d packs those positions in the table, 0 where none.
    ref = source.value
    here = 0
    if type(ref) is Ref and ref.sheet == cell[0]:
        row_pos = cell[1] - ref.r1 + 1 if ref.r1 <= cell[1] <= ref.r2 else 0
        col_pos = cell[2] - ref.c1 + 1 if ref.c1 <= cell[2] <= ref.c2 else 0
        here = row_pos * (1 << 20) + col_pos
    return Reg(lw.b.emit(op.INDEX, table, row.reg, col.reg, here))


def _choose(lw: Lowerer, node: Call, cell: Cell) -> Any:
    index = lw.scalar(lw.lower(node.args[0], cell), cell)
    choices = [lw.scalar(lw.lower(a, cell), cell) for a in node.args[1:]]
    return Reg(lw.b.emit(op.CHOOSE, index.reg, lw.b.args([c.reg for c in choices]),
                         len(choices)))


def _const_number(lw: Lowerer, node: Call, i: int, default: float, cell: Cell) -> float:
    if i >= len(node.args) or type(node.args[i]) is Missing:
        return default
    operand = lw.lower(node.args[i], cell)
    if type(operand) is not Const:
        raise SimulationError(f"{cell_key(*cell)}: {node.name}'s argument {i + 1} must not be "
                              "uncertain in a simulation")
    v = operand.value
    if type(v) is Ref:
        v = lw.ev.cell_value(v.sheet, v.r1, v.c1)
    n = to_number(v)
    if type(n) is XLError:
        raise SimulationError(f"{cell_key(*cell)}: {node.name}'s argument {i + 1} is {n}")
    return float(n)


def _vlookup(horizontal: bool) -> Callable[[Lowerer, Call, Cell], Any]:
    def handler(lw: Lowerer, node: Call, cell: Cell) -> Any:
        key = lw.scalar(lw.lower(node.args[0], cell), cell)
        table = _table(lw, lw.lower(node.args[1], cell), cell, horizontal)
        column = int(_const_number(lw, node, 2, 1.0, cell))
        approx = _const_number(lw, node, 3, 1.0, cell) != 0
        mode = op.L_SORTED if approx else op.L_EXACT
        return Reg(lw.b.emit(op.LOOKUP, table, key.reg, column - 1, mode))
    return handler


def _match(lw: Lowerer, node: Call, cell: Cell) -> Any:
    key = lw.scalar(lw.lower(node.args[0], cell), cell)
    table = _table(lw, lw.lower(node.args[1], cell), cell)
    kind = _const_number(lw, node, 2, 1.0, cell)
    mode = op.L_EXACT if kind == 0 else (op.L_SORTED if kind > 0 else op.L_DESCENDING)
    return Reg(lw.b.emit(op.LOOKUP, table, key.reg, -1, mode))


def _sumproduct(lw: Lowerer, node: Call, cell: Cell) -> Any:
    """SUMPRODUCT: products element by element, summed; non-numbers count as 0, and arrays of
    different shapes are #VALUE!, as in Excel."""
    grids = []
    for arg in node.args:
        items, nrows, ncols = lw._cells_of(lw.lower(arg, cell))
        grids.append((items, (nrows, ncols)))
    if not grids or len({shape for _, shape in grids}) != 1:
        return Const(VALUE)
    terms = []
    for k in range(len(grids[0][0])):
        regs = []
        for items, _ in grids:
            item = items[k]
            if type(item) is Const:
                v = item.value
                number, err = _const_cell(v) if type(v) is XLError or type(v) is float \
                    else (0.0, 0)  # text, logicals and blanks in arrays multiply as 0
                regs.append(lw.b.const(number, err))
            elif item.logical:  # TRUE/FALSE in SUMPRODUCT's arrays count as 0 in Excel
                regs.append(lw.b.const(0.0))
            else:
                regs.append(item.reg)
        product = regs[0]
        for r in regs[1:]:
            product = lw.b.emit(op.MUL, product, r)
        terms.append(product)
    return Reg(lw.b.emit(op.REDUCE, lw.b.args(terms), len(terms), op.R_SUM))


def _zero(lw: Lowerer, node: Call, cell: Cell) -> Any:
    """RiskOutput(...) marks an output and adds 0."""
    return Const(0.0)


_HANDLERS: dict[str, Callable[[Lowerer, Call, Cell], Any]] = {
    "IF": _if, "IFERROR": _iferror(op.IFERROR), "IFNA": _iferror(op.IFNA), "NOT": _not,
    "POWER": _power, "LOG": _log, "TRUNC": _trunc, "COUNT": _count, "NPV": _npv, "IRR": _irr,
    "PMT": _pmt, "NORM.INV": _norm_inv(False), "NORMINV": _norm_inv(False),
    "LOGNORM.INV": _norm_inv(True), "LOGINV": _norm_inv(True), "INDEX": _index,
    "CHOOSE": _choose, "VLOOKUP": _vlookup(False), "HLOOKUP": _vlookup(True), "MATCH": _match,
    "RISKOUTPUT": _zero, "SUMPRODUCT": _sumproduct,
}

__all__ = ["Const", "Lowerer", "Reg", "SimulationError", "Vec", "walk"]
