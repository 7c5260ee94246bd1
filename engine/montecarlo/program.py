"""A lowered register program and its register allocation.

The lowering pass writes instructions over unlimited virtual registers; :func:`allocate` then
maps them onto few physical registers by linear scan (a register is free again after its last
reader), which keeps memory at registers x block size however large the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.montecarlo import opcodes as op


@dataclass
class Program:
    """Everything the virtual machine needs, as flat arrays (Numba- and CUDA-friendly)."""

    code: np.ndarray          # (instructions, 6) int64: op, dst, a, b, c, d
    arglist: np.ndarray       # int64 register lists of variadic instructions
    consts: np.ndarray        # float64 constants loaded by CONST
    const_errs: np.ndarray    # uint8 error codes of those constants
    tables: np.ndarray        # float64 cells of constant lookup tables, row-major
    table_errs: np.ndarray    # uint8 error codes of those cells (text is #VALUE!)
    table_meta: np.ndarray    # (tables, 4) int64: offset, rows, columns, horizontal flag
    n_regs: int
    outputs: np.ndarray       # int64 register of each output
    n_inputs: int
    fallbacks: list[Any] = field(default_factory=list)  # PYCALL targets (montecarlo.fallback)

    @property
    def size(self) -> int:
        return int(self.code.shape[0])


def _register_fields(instr: np.ndarray, arglist: list[int] | np.ndarray) -> Iterator[int]:
    """Register numbers an instruction reads (its sources)."""
    opc, _, a, b, c, _ = (int(x) for x in instr)
    if opc in (op.CONST, op.INPUT):
        return
    if opc in (op.COPY, op.NEG, op.PCT, op.NOT, op.UNARY):
        yield a
    elif op.ADD <= opc <= op.GE or opc in (op.BINARY, op.IFERROR, op.IFNA):
        yield a
        yield b
    elif opc in (op.IF, op.SELECT):
        yield a
        yield b
        yield c
    elif opc == op.REDUCE:
        yield from (int(r) for r in arglist[a:a + b])
    elif opc == op.NPV:
        yield a
        yield from (int(r) for r in arglist[b:b + c])
    elif opc == op.IRR:
        yield from (int(r) for r in arglist[a:a + b])
        yield c
    elif opc == op.PMT:
        yield from (int(r) for r in arglist[a:a + 5])
    elif opc == op.INDEX:
        yield b
        yield c
    elif opc == op.CHOOSE:
        yield a
        yield from (int(r) for r in arglist[b:b + c])
    elif opc == op.LOOKUP:
        yield b
    elif opc == op.PYCALL:
        yield from (int(r) for r in arglist[b:b + c])
    else:
        raise ValueError(f"unknown opcode {opc}")


@dataclass
class ProgramBuilder:
    """Collects instructions over virtual registers, then allocates and packs them."""

    code: list[list[int]] = field(default_factory=list)
    arglist: list[int] = field(default_factory=list)
    consts: list[float] = field(default_factory=list)
    const_errs: list[int] = field(default_factory=list)
    tables: list[float] = field(default_factory=list)
    table_errs: list[int] = field(default_factory=list)
    table_meta: list[list[int]] = field(default_factory=list)
    n_virtual: int = 0
    _const_regs: dict[tuple[float, int], int] = field(default_factory=dict)

    def new_reg(self) -> int:
        self.n_virtual += 1
        return self.n_virtual - 1

    def emit(self, opc: int, a: int = 0, b: int = 0, c: int = 0, d: int = 0) -> int:
        dst = self.new_reg()
        self.code.append([opc, dst, a, b, c, d])
        return dst

    def args(self, registers: list[int]) -> int:
        """Store a register list; returns its offset in the argument list."""
        offset = len(self.arglist)
        self.arglist.extend(registers)
        return offset

    def const(self, value: float, err: int = 0) -> int:
        """A register holding a constant (one per distinct constant)."""
        key = (value, err)
        reg = self._const_regs.get(key)
        if reg is None:
            self.consts.append(value)
            self.const_errs.append(err)
            reg = self._const_regs[key] = self.emit(op.CONST, len(self.consts) - 1)
        return reg

    def table(self, cells: list[list[tuple[float, int]]], horizontal: bool = False) -> int:
        """Store a constant table of (value, error code) cells; returns its number."""
        offset = len(self.tables)
        for row in cells:
            for value, err in row:
                self.tables.append(value)
                self.table_errs.append(err)
        self.table_meta.append([offset, len(cells), len(cells[0]) if cells else 0,
                                1 if horizontal else 0])
        return len(self.table_meta) - 1

    def build(self, outputs: list[int], n_inputs: int, fallbacks: list[Any] | None = None
              ) -> Program:
        code = np.array(self.code, dtype=np.int64).reshape(-1, 6)
        arglist = np.array(self.arglist, dtype=np.int64)
        code, arglist, n_regs, out_regs = allocate(code, arglist, outputs)
        return Program(
            code=code, arglist=arglist,
            consts=np.array(self.consts or [0.0], dtype=np.float64),
            const_errs=np.array(self.const_errs or [0], dtype=np.uint8),
            tables=np.array(self.tables or [0.0], dtype=np.float64),
            table_errs=np.array(self.table_errs or [0], dtype=np.uint8),
            table_meta=np.array(self.table_meta or [[0, 0, 0, 0]], dtype=np.int64),
            n_regs=max(n_regs, 1), outputs=np.array(out_regs, dtype=np.int64),
            n_inputs=n_inputs, fallbacks=list(fallbacks or ()))


def allocate(code: np.ndarray, arglist: np.ndarray, outputs: list[int]
             ) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
    """Linear-scan register allocation: virtual registers -> few physical ones.

    A source whose last reader is this instruction is freed before the destination is chosen:
    every instruction reads iteration i of its sources before writing iteration i, so an
    instruction may overwrite its own source.
    """
    last_use: dict[int, int] = {}
    for pc, instr in enumerate(code):
        for r in _register_fields(instr, arglist):
            last_use[r] = pc
    end = len(code)
    for r in outputs:
        last_use[r] = end
    mapping: dict[int, int] = {}
    free: list[int] = []
    n_regs = 0
    new_code = code.copy()
    new_args = arglist.copy()
    for pc, instr in enumerate(code):
        sources = list(_register_fields(instr, arglist))
        for r in set(sources):
            if last_use.get(r) == pc:
                free.append(mapping[r])
        dst = int(instr[1])
        if free:
            phys = free.pop()
        else:
            phys = n_regs
            n_regs += 1
        opc = int(instr[0])
        _rewrite(new_code[pc], new_args, arglist, mapping, opc)
        mapping[dst] = phys
        new_code[pc, 1] = phys
        if dst not in last_use:  # never read: free at once
            free.append(phys)
    return new_code, new_args, n_regs, [mapping[r] for r in outputs]


def _rewrite(row: np.ndarray, new_args: np.ndarray, arglist: np.ndarray,
             mapping: dict[int, int], opc: int) -> None:
    """Replace the virtual source registers of one instruction by physical ones."""
    a, b, c = int(row[2]), int(row[3]), int(row[4])
    if opc in (op.CONST, op.INPUT):
        return
    if opc in (op.COPY, op.NEG, op.PCT, op.NOT, op.UNARY):
        row[2] = mapping[a]
    elif op.ADD <= opc <= op.GE or opc in (op.BINARY, op.IFERROR, op.IFNA):
        row[2], row[3] = mapping[a], mapping[b]
    elif opc in (op.IF, op.SELECT):
        row[2], row[3], row[4] = mapping[a], mapping[b], mapping[c]
    elif opc == op.REDUCE:
        _rewrite_args(new_args, arglist, mapping, a, b)
    elif opc == op.NPV:
        row[2] = mapping[a]
        _rewrite_args(new_args, arglist, mapping, b, c)
    elif opc == op.IRR:
        _rewrite_args(new_args, arglist, mapping, a, b)
        row[4] = mapping[c]
    elif opc == op.PMT:
        _rewrite_args(new_args, arglist, mapping, a, 5)
    elif opc == op.INDEX:
        row[3], row[4] = mapping[b], mapping[c]
    elif opc == op.CHOOSE:
        row[2] = mapping[a]
        _rewrite_args(new_args, arglist, mapping, b, c)
    elif opc == op.LOOKUP:
        row[3] = mapping[b]
    elif opc == op.PYCALL:
        _rewrite_args(new_args, arglist, mapping, b, c)


def _rewrite_args(new_args: np.ndarray, arglist: np.ndarray, mapping: dict[int, int],
                  offset: int, count: int) -> None:
    for k in range(offset, offset + count):
        new_args[k] = mapping[int(arglist[k])]
