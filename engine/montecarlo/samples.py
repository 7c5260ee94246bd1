"""A run's samples as tables: what a chunk writes, and how the results read them back.

One schema for every writer (a chunk's Parquet part, the CLI's ``--samples`` file):
``iteration`` (1-based), one column per input (its name), one per output (its name; null where
the iteration ended in an Excel error) and, where an output had errors, ``"<name> error"`` with
the error's text. Results read samples through a ``SampleSource``: the run's arrays when it ran
in this process, its Parquet parts when it ran on a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.montecarlo.opcodes import ERRORS_BY_CODE

if TYPE_CHECKING:
    import pyarrow as pa

    from engine.montecarlo.model import SimulationModel

_CODES = {error.code: code for code, error in ERRORS_BY_CODE.items()}


def output_columns(model: SimulationModel) -> list[str]:
    return [model.output_names.get(label, label) for label in model.outputs]


def sample_table(model: SimulationModel, start: int, inputs: np.ndarray, values: np.ndarray,
                 errors: np.ndarray) -> pa.Table:
    """Iterations start+1.. of a run: inputs (k, n), output values and error codes (m, n)."""
    import pyarrow as pa

    n = inputs.shape[1]
    columns = {"iteration": pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64))}
    for j, site in enumerate(model.inputs):
        columns[site.name] = pa.array(inputs[j])
    for k, name in enumerate(output_columns(model)):
        codes = errors[k]
        columns[name] = pa.array(values[k], mask=codes != 0)
        if codes.any():
            columns[f"{name} error"] = pa.array(
                [ERRORS_BY_CODE[int(c)].code if c else None for c in codes], pa.string())
    return pa.table(columns)


def write_table(table: pa.Table, path: str) -> None:
    """Parquet through a temporary file and a rename, so a reader never sees half a file."""
    import pyarrow.parquet as pq

    tmp = f"{path}.tmp-{os.getpid()}"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


class SampleSource(Protocol):
    """Where the results read a run's iterations back."""

    def output(self, index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``index``'s values and uint8 error codes of output ``k``."""
        ...

    def head(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first m iterations: inputs (k, m), output values and error codes (outputs, m)."""
        ...


class ArraySource:
    """A run held in this process's arrays (the CLI and the engine's own tests)."""

    def __init__(self, inputs: np.ndarray, values: np.ndarray, errors: np.ndarray,
                 bounds: Sequence[tuple[int, int]]) -> None:
        self._inputs, self._values, self._errors = inputs, values, errors
        self._bounds = bounds

    def output(self, index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        start, count = self._bounds[index]
        return (self._values[k, start:start + count], self._errors[k, start:start + count])

    def head(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._inputs[:, :m], self._values[:, :m], self._errors[:, :m]


class PartsSource:
    """A run written as one Parquet part per chunk (``paths`` in chunk order)."""

    def __init__(self, paths: Sequence[str], model: SimulationModel) -> None:
        self._paths = list(paths)
        self._inputs = [site.name for site in model.inputs]
        self._outputs = output_columns(model)

    def _read(self, index: int, names: list[str]) -> dict[str, np.ndarray]:
        import pyarrow.parquet as pq

        path = self._paths[index]
        present = set(pq.read_schema(path).names)
        wanted = names + [f"{n} error" for n in names if f"{n} error" in present]
        table = pq.read_table(path, columns=wanted)
        return {name: table.column(name) for name in wanted}

    def _output(self, columns: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
        values = columns[name].to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        text = columns.get(f"{name} error")
        if text is None:
            return values, np.zeros(values.size, dtype=np.uint8)
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.fill_null(pc.index_in(text, value_set=pa.array(list(_CODES))), -1)
        lookup = np.array([0, *_CODES.values()], dtype=np.uint8)
        return values, lookup[found.to_numpy() + 1]

    def output(self, index: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        name = self._outputs[k]
        return self._output(self._read(index, [name]), name)

    def head(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inputs = np.empty((len(self._inputs), m))
        values = np.empty((len(self._outputs), m))
        errors = np.zeros((len(self._outputs), m), dtype=np.uint8)
        filled, index = 0, 0
        while filled < m:
            columns = self._read(index, self._inputs + self._outputs)
            take = min(m - filled, len(next(iter(columns.values()))))
            for j, name in enumerate(self._inputs):
                inputs[j, filled:filled + take] = columns[name].to_numpy()[:take]
            for k, name in enumerate(self._outputs):
                v, e = self._output(columns, name)
                values[k, filled:filled + take], errors[k, filled:filled + take] = \
                    v[:take], e[:take]
            filled += take
            index += 1
        return inputs, values, errors
