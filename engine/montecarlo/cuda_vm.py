"""The GPU virtual machine: the lowered register program, one CUDA thread per iteration.

Layout: a thread runs the whole program for one iteration at a time (a grid-stride loop, so the
result never depends on the launch geometry), with its registers in a global scratch matrix
``vals[register, slot]`` (slot = the thread's index: neighbouring threads touch neighbouring
addresses, so every register access is coalesced) and its error codes beside them in ``errs``.
All threads run the same instruction at the same time unless IF/IFERROR data differ, and the
branches are per element, so a warp diverges only inside a function's own code. Register memory
is registers x threads in the grid, whatever the number of iterations; inputs and outputs go in
batches sized to the device's free memory, so a run larger than the GPU's memory completes.

The semantics are those of ``vm.execute`` iteration by iteration, including the per-iteration
error codes, and the scalar helpers (``vm._unary``, ``vm._binary``, ``vm._power``,
``vm._lookup_position``, ``cashflows.npv/irr/pmt``) are the CPU's own source compiled for the
device (`device.device_function`). Programs with PYCALL instructions (functions run by the
scalar Python engine) are not run here: ``simulate`` runs them on the CPU and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import config, cuda

from engine import cashflows
from engine.montecarlo import opcodes as op
from engine.montecarlo import vm
from engine.montecarlo.cuda_sampling import DeviceSampler, ndtri
from engine.montecarlo.device import device_function

E_DIV0, E_VALUE, E_REF, E_NUM, E_NA = op.E_DIV0, op.E_VALUE, op.E_REF, op.E_NUM, op.E_NA

_unary = device_function(vm._unary, norm_ppf=ndtri)
_binary = device_function(vm._binary)
_power = device_function(vm._power)
_lookup_position = device_function(vm._lookup_position)
_irr_equation = device_function(cashflows._irr_equation)
_npv = device_function(cashflows.npv)
_irr = device_function(cashflows.irr,
                       _newton=device_function(cashflows._newton, _irr_equation=_irr_equation),
                       _bracketed=device_function(cashflows._bracketed,
                                                  _irr_equation=_irr_equation))
_pmt = device_function(cashflows.pmt)

THREADS_PER_BLOCK = 128
SIMULATOR_SLOTS = 32  # threads of a launch under NUMBA_ENABLE_CUDASIM (each is a Python thread)
SIMULATOR_MEMORY = 1 << 30
MEMORY_FRACTION = 0.8  # of the free device memory a run may take
REGISTER_FRACTION = 0.25  # of that, at most, for the register file
BATCHES_PER_CHUNK = 4  # so that the GPU's work on one batch overlaps the host's on another
MIN_BATCH = 1 << 16  # smaller batches leave the GPU idle between launches


@cuda.jit(device=True)
def _arith(opc, p, q):
    """ADD..GE on two values free of errors: (value, error code), as ``vm.execute``."""
    e = 0
    if opc == op.ADD:
        r = p + q
    elif opc == op.SUB:
        r = p - q
    elif opc == op.MUL:
        r = p * q
    elif opc == op.DIV:
        if q == 0.0:
            e = E_DIV0
            r = 0.0
        else:
            r = p / q
    elif opc == op.POW:
        r, e = _power(p, q)
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
        return 0.0, E_NUM
    return r, e


@cuda.jit(device=True)
def _reduce(fn, arglist, a, b, vals, s):
    """REDUCE over registers arglist[a:a+b] of slot ``s`` (operands free of errors)."""
    e = 0
    if fn == op.R_SUM or fn == op.R_AVERAGE:
        acc = 0.0
        for k in range(b):
            acc += vals[arglist[a + k], s]
        if fn == op.R_AVERAGE:
            if b == 0:
                e = E_DIV0
                acc = 0.0
            else:
                acc /= b
    elif fn == op.R_PRODUCT:
        acc = 1.0
        for k in range(b):
            acc *= vals[arglist[a + k], s]
    elif fn == op.R_SUMSQ:
        acc = 0.0
        for k in range(b):
            acc += vals[arglist[a + k], s] ** 2
    elif fn == op.R_MIN or fn == op.R_MAX:
        acc = vals[arglist[a], s] if b > 0 else 0.0
        for k in range(1, b):
            v = vals[arglist[a + k], s]
            if (fn == op.R_MIN and v < acc) or (fn == op.R_MAX and v > acc):
                acc = v
    elif fn == op.R_COUNT:
        acc = float(b)
    elif fn == op.R_AND:
        acc = 1.0
        for k in range(b):
            if vals[arglist[a + k], s] == 0.0:
                acc = 0.0
    else:  # R_OR
        acc = 0.0
        for k in range(b):
            if vals[arglist[a + k], s] != 0.0:
                acc = 1.0
    if not math.isfinite(acc):
        return 0.0, E_NUM
    return acc, e


@cuda.jit(device=True)
def _first_error(arglist, a, count, errs, s):
    for k in range(count):
        e = errs[arglist[a + k], s]
        if e != 0:
            return e
    return 0


@cuda.jit(device=True)
def _index(tables, table_errs, table_meta, t, rr, cc, d):
    """INDEX into constant table ``t`` at 1-based (rr, cc), as ``vm.execute``."""
    off = table_meta[t, 0]
    nrows = table_meta[t, 1]
    ncols = table_meta[t, 2]
    if nrows == 1 and cc == 0 and rr >= 1:  # INDEX(row_vector, k)
        rr, cc = 1, rr
    if rr == 0:  # a whole column, intersected with the formula's row
        rr = 1 if nrows == 1 else d >> 20
    if cc == 0:
        cc = 1 if ncols == 1 else d & ((1 << 20) - 1)
    if rr == 0 or cc == 0:
        return 0.0, E_VALUE
    if rr < 1 or cc < 1 or rr > nrows or cc > ncols:
        return 0.0, (E_REF if (rr >= 0 and cc >= 0) else E_VALUE)
    idx = off + (rr - 1) * ncols + (cc - 1)
    return tables[idx], table_errs[idx]


@cuda.jit(device=True)
def _lookup(tables, table_errs, table_meta, t, x, mode, c):
    """LOOKUP/MATCH in constant table ``t``, as ``vm.execute``."""
    off = table_meta[t, 0]
    nrows = table_meta[t, 1]
    ncols = table_meta[t, 2]
    by_rows = nrows >= ncols or ncols == 1  # keys run down the first column
    if table_meta[t, 3] == 1:  # HLOOKUP: keys along the first row
        by_rows = False
    count = nrows if by_rows else ncols
    step = ncols if by_rows else 1
    pos = _lookup_position(tables, table_errs, off, step, count, x, mode)
    if pos < 0:
        return 0.0, E_NA
    if c < 0:  # MATCH: the 1-based position
        return float(pos + 1), 0
    idx = off + (pos * ncols + c if by_rows else c * ncols + pos)
    return tables[idx], table_errs[idx]


@cuda.jit(device=True)
def execute_iteration(code, arglist, consts, const_errs, tables, table_errs, table_meta,
                      inputs, i, vals, errs, s, flows):
    """Run ``code`` for iteration ``i`` of ``inputs`` in register slot ``s``."""
    for pc in range(code.shape[0]):
        opc = code[pc, 0]
        dst = code[pc, 1]
        a = code[pc, 2]
        b = code[pc, 3]
        c = code[pc, 4]
        d = code[pc, 5]
        r = 0.0
        e = 0
        if opc == op.CONST:
            r = consts[a]
            e = const_errs[a]
        elif opc == op.INPUT:
            r = inputs[a, i]
        elif opc == op.COPY:
            r = vals[a, s]
            e = errs[a, s]
        elif op.ADD <= opc <= op.GE:
            if errs[a, s] != 0:
                e = errs[a, s]
            elif errs[b, s] != 0:
                e = errs[b, s]
            else:
                r, e = _arith(opc, vals[a, s], vals[b, s])
        elif opc == op.NEG or opc == op.PCT or opc == op.NOT:
            e = errs[a, s]
            x0 = vals[a, s]
            if opc == op.NEG:
                r = -x0
            elif opc == op.PCT:
                r = x0 / 100.0
            else:
                r = 1.0 if x0 == 0.0 else 0.0
        elif opc == op.UNARY:
            if errs[a, s] != 0:
                e = errs[a, s]
            else:
                r, e = _unary(c, vals[a, s])
        elif opc == op.BINARY:
            if errs[a, s] != 0:
                e = errs[a, s]
            elif errs[b, s] != 0:
                e = errs[b, s]
            else:
                r, e = _binary(c, vals[a, s], vals[b, s])
        elif opc == op.IF or opc == op.SELECT:
            if errs[a, s] != 0:
                e = errs[a, s]
            elif vals[a, s] != 0.0:
                r = vals[b, s]
                e = errs[b, s]
            else:
                r = vals[c, s]
                e = errs[c, s]
        elif opc == op.IFERROR or opc == op.IFNA:
            e0 = errs[a, s]
            caught = e0 != 0 if opc == op.IFERROR else e0 == E_NA
            if caught:
                r = vals[b, s]
                e = errs[b, s]
            else:
                r = vals[a, s]
                e = e0
        elif opc == op.REDUCE:
            e = _first_error(arglist, a, b, errs, s)
            if e == 0:
                r, e = _reduce(c, arglist, a, b, vals, s)
        elif opc == op.NPV or opc == op.IRR:
            first = a if opc == op.IRR else b
            count = b if opc == op.IRR else c
            e = errs[c, s] if opc == op.IRR else errs[a, s]
            if e == 0:
                e = _first_error(arglist, first, count, errs, s)
            if e == 0:
                row = flows[s, :count]
                for k in range(count):
                    row[k] = vals[arglist[first + k], s]
                if opc == op.NPV:
                    rate = vals[a, s]
                    r = math.nan if rate == -1.0 else _npv(rate, row)
                    fail = E_DIV0 if rate == -1.0 else E_NUM
                else:
                    r = _irr(row, vals[c, s])
                    fail = E_NUM
                if not math.isfinite(r):
                    r = 0.0
                    e = fail
        elif opc == op.PMT:
            e = _first_error(arglist, a, 5, errs, s)
            if e == 0:
                r = _pmt(vals[arglist[a], s], vals[arglist[a + 1], s], vals[arglist[a + 2], s],
                         vals[arglist[a + 3], s], vals[arglist[a + 4], s])
                if not math.isfinite(r):
                    r = 0.0
                    e = E_NUM
        elif opc == op.INDEX:
            if errs[b, s] != 0:
                e = errs[b, s]
            elif errs[c, s] != 0:
                e = errs[c, s]
            else:
                r, e = _index(tables, table_errs, table_meta, a, int(vals[b, s]),
                              int(vals[c, s]), d)
        elif opc == op.CHOOSE:
            if errs[a, s] != 0:
                e = errs[a, s]
            else:
                k = int(vals[a, s])
                if k < 1 or k > c:
                    e = E_VALUE
                else:
                    src = arglist[b + k - 1]
                    r = vals[src, s]
                    e = errs[src, s]
        elif opc == op.LOOKUP:
            if errs[b, s] != 0:
                e = errs[b, s]
            else:
                r, e = _lookup(tables, table_errs, table_meta, a, vals[b, s], d, c)
        else:  # PYCALL never reaches the device (see the module docstring)
            e = E_VALUE
        vals[dst, s] = r
        errs[dst, s] = e


@cuda.jit
def _run_kernel(code, arglist, consts, const_errs, tables, table_errs, table_meta, inputs,
                count, vals, errs, flows, outputs, out_vals, out_errs):
    """Iterations 0..count-1 of ``inputs``; output registers land in out_vals/out_errs."""
    s = cuda.grid(1)
    for i in range(s, count, cuda.gridsize(1)):
        execute_iteration(code, arglist, consts, const_errs, tables, table_errs, table_meta,
                          inputs, i, vals, errs, s, flows)
        for k in range(outputs.shape[0]):
            out_vals[k, i] = vals[outputs[k], s]
            out_errs[k, i] = errs[outputs[k], s]


def plan(free_bytes: int, n_regs: int, n_flows: int, n_inputs: int, n_outputs: int,
         max_slots: int) -> tuple[int, int]:
    """(threads in the grid, iterations per batch) that fit in ``free_bytes``.

    The register file (9 bytes per register and 8 per cash-flow scratch value, per thread) gets
    at most REGISTER_FRACTION of the budget; the rest holds a batch's inputs and outputs.
    """
    budget = int(free_bytes * MEMORY_FRACTION)
    per_slot = 9 * n_regs + 8 * n_flows
    slots = int(min(max_slots, budget * REGISTER_FRACTION // per_slot))
    if slots >= THREADS_PER_BLOCK:  # whole blocks
        slots -= slots % THREADS_PER_BLOCK
    per_iteration = 8 * n_inputs + 9 * n_outputs
    batch = (budget - slots * per_slot) // per_iteration
    if slots < 1 or batch < 1:
        raise ValueError(f"the model does not fit in the GPU's free memory ({free_bytes:,} "
                         f"bytes): {n_regs:,} registers and {n_inputs:,} inputs; use "
                         "--device cpu")
    return int(slots), int(batch)


def _max_slots() -> int:
    """Threads that the device keeps resident at once: more would only queue."""
    if config.ENABLE_CUDASIM:
        return SIMULATOR_SLOTS
    dev = cuda.get_current_device()
    return int(dev.MULTIPROCESSOR_COUNT) * int(dev.MAX_THREADS_PER_MULTIPROCESSOR)


def _free_memory() -> int:
    """Free bytes on the current device; the simulator reports infinity, taken as 1 GiB."""
    free = cuda.current_context().get_memory_info()[0]
    return int(free) if math.isfinite(free) else SIMULATOR_MEMORY


class CudaRunner:
    """A model's program and input tables on the device, run one chunk at a time.

    Device buffers and pinned host staging for one batch are allocated once, and a chunk's
    results go straight into the caller's arrays: page-locked copies run at the bus's speed,
    where fresh pageable arrays per chunk cost more than the kernels (measured on an H100, see
    benchmarks/gpu_speed.py). ``memory_limit`` caps the bytes it plans for (the device's free
    memory otherwise): tests use it to force several batches in one chunk.
    """

    def __init__(self, model: Any, settings: Any, memory_limit: int | None = None):
        p = model.program
        self.program = p
        self.n_inputs = len(model.inputs)
        self.n_outputs = len(model.outputs)
        self.sampler = DeviceSampler([s.distribution for s in model.inputs],
                                     [s.stream for s in model.inputs], settings.seed,
                                     settings.sampling, settings.iterations)
        self._code = [cuda.to_device(np.ascontiguousarray(x)) for x in (
            p.code, p.arglist, p.consts, p.const_errs, p.tables, p.table_errs, p.table_meta,
            p.outputs)]
        free = memory_limit if memory_limit is not None else _free_memory()
        n_flows = max(int(p.arglist.shape[0]), 1)
        self.slots, batch = plan(free, p.n_regs, n_flows, self.n_inputs, self.n_outputs,
                                 _max_slots())
        self.batch = min(batch, settings.iterations,
                         max(MIN_BATCH, -(-settings.step() // BATCHES_PER_CHUNK)))
        self.grid = (max(1, math.ceil(self.slots / THREADS_PER_BLOCK)),
                     min(THREADS_PER_BLOCK, self.slots))
        slots = self.grid[0] * self.grid[1]
        self._vals = cuda.device_array((p.n_regs, slots))
        self._errs = cuda.device_array((p.n_regs, slots), dtype=np.uint8)
        self._flows = cuda.device_array((slots, n_flows))
        self._stream = cuda.stream()
        rows = max(self.n_inputs, 1)
        self._buffers = {
            "in": (rows, np.float64), "vals": (self.n_outputs, np.float64),
            "errs": (self.n_outputs, np.uint8)}
        # two of each, so that the GPU fills one while the host empties the other
        self._device = [{k: cuda.device_array(r * self.batch, dtype=t)
                         for k, (r, t) in self._buffers.items()} for _ in range(2)]
        self._pinned = [{k: cuda.pinned_array(r * self.batch, dtype=t)
                         for k, (r, t) in self._buffers.items()} for _ in range(2)]
        self._filled = [cuda.event() for _ in range(2)]

    def _views(self, m: int, twin: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Device buffers ``twin`` and their pinned copies, shaped (rows, m) for a batch of m."""
        shape = {k: (r, m) for k, (r, _) in self._buffers.items()}
        return ({k: a[:shape[k][0] * m].reshape(shape[k]) for k, a in self._device[twin].items()},
                {k: a[:shape[k][0] * m].reshape(shape[k]) for k, a in self._pinned[twin].items()})

    def _launch_vm(self, dev: dict[str, Any], m: int) -> None:
        code, args, consts, cerrs, tables, terrs, tmeta, outputs = self._code
        _run_kernel[self.grid[0], self.grid[1], self._stream](
            code, args, consts, cerrs, tables, terrs, tmeta, dev["in"], m, self._vals,
            self._errs, self._flows, outputs, dev["vals"], dev["errs"])

    def _outputs_to(self, dev: dict[str, Any], host: dict[str, np.ndarray]) -> None:
        dev["vals"].copy_to_host(host["vals"], stream=self._stream)
        dev["errs"].copy_to_host(host["errs"], stream=self._stream)
        self._stream.synchronize()

    def _enqueue(self, start: int, batches: list[tuple[int, int]], k: int) -> None:
        """Queue batch k (if there is one): sampling, the machine, the copies to pinned memory
        twin k % 2, and the event that says they are done."""
        if k >= len(batches):
            return
        b, m = batches[k]
        dev, host = self._views(m, k % 2)
        if self.n_inputs:
            self.sampler.sample(start + b, dev["in"], self.grid, self._stream)
        self._launch_vm(dev, m)
        if self.n_inputs:
            dev["in"].copy_to_host(host["in"], stream=self._stream)
        dev["vals"].copy_to_host(host["vals"], stream=self._stream)
        dev["errs"].copy_to_host(host["errs"], stream=self._stream)
        self._filled[k % 2].record(self._stream)

    def _batches(self, count: int) -> list[tuple[int, int]]:
        return [(b, min(self.batch, count - b)) for b in range(0, count, self.batch)]

    def run(self, start: int, count: int, correlate: Callable[[np.ndarray], bool],
            samples: np.ndarray, vals: np.ndarray, errs: np.ndarray) -> None:
        """Iterations start..start+count-1: their samples into ``samples`` (inputs x count),
        output values and error codes into ``vals`` and ``errs`` (outputs x count).

        The machine runs on each batch as soon as it is sampled, and the GPU works on the next
        batch while the host copies one out of pinned memory. When the host then changes
        samples, it runs again on the host's: on the few iterations whose exact tails
        ``fix_tails`` filled in, or on all of them when ``correlate(samples)`` (which reorders
        the chunk in place and answers whether it did) changed the chunk.
        """
        batches = self._batches(count)
        self._enqueue(start, batches, 0)
        for k, (b, m) in enumerate(batches):
            self._enqueue(start, batches, k + 1)  # runs while the host copies batch k
            self._filled[k % 2].synchronize()
            host = self._views(m, k % 2)[1]
            vals[:, b:b + m], errs[:, b:b + m] = host["vals"], host["errs"]
            samples[:, b:b + m] = host["in"][:self.n_inputs]
        tails = self.sampler.fix_tails(start, samples)
        if correlate(samples):
            tails = None  # every iteration may have new inputs
        elif tails.size == 0:
            return
        for b, m in self._batches(count if tails is None else tails.size):
            dev, host = self._views(m)
            cols = slice(b, b + m) if tails is None else tails[b:b + m]
            np.copyto(host["in"][:self.n_inputs], samples[:, cols])
            dev["in"].copy_to_device(host["in"], stream=self._stream)
            self._launch_vm(dev, m)
            self._outputs_to(dev, host)
            vals[:, cols], errs[:, cols] = host["vals"], host["errs"]
