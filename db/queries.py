"""Aggregates over one run's Parquet samples, computed by DuckDB next to the data.

A run can hold 10,000,000 iterations, too many to ship to the browser or even to load into Python
for each chart, so every function here scans the samples in DuckDB and returns only what a chart
needs, as plain JSON-ready dicts (lists of floats and ints) that the cache can store as they are.
Each function takes the run's ``samples_path``: its folder of chunk parts, read as one table
(``db.samples.duckdb_source``: parts lacking an error column read it as null), or the single file
of a run from before chunking.

Error iterations (an output that evaluated to an Excel error is null in the file, with the error
text in its ``"<output> error"`` column) and non-finite values are left out of every statistic and
counted in ``excluded``, so a chart never mixes errors with numbers.

Histograms, ECDFs and tornado bars are built from bin counts grouped in SQL in one or two passes
over the column, never from a sort: a sort of 10,000,000 values per chart would not answer within
a second.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from db import samples

ECDF_BINS = 16_384
"""Resolution of the counts an ECDF is read from: its x values are exact to (max - min) / this."""

TORNADO_BINS = 1_024
"""Bins per input for tornado deciles: only the bin holding a decile boundary is split."""

REFINE_LIMIT = 2_000_000
"""Most values :func:`quantiles` fetches from the bins holding its ranks before it lets DuckDB
sort instead."""

MAX_BINS = 10_000


class QueryError(ValueError):
    """A question the samples cannot answer: no files, no such column, a column that is not
    numeric, or an invalid parameter. The message is one sentence meant for the user."""


def columns(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The samples' columns in order (the first part's, then error columns only later parts
    have): ``{"name", "type", "numeric", "role"}``.

    ``role`` is "iteration", "error" (the text column beside an output with error iterations) or
    "value" (an input or an output), so the UI can offer only the columns that can be charted.
    Read from the Parquet footers alone, so it costs no scan.
    """
    _, schema = _open(path)
    names = set(schema.names)
    result = []
    for field in schema:
        if field.name == "iteration":
            role = "iteration"
        elif (field.name.endswith(" error") and pa.types.is_string(field.type)
              and field.name[: -len(" error")] in names):
            role = "error"
        else:
            role = "value"
        result.append({"name": field.name, "type": str(field.type),
                       "numeric": _is_numeric(field.type), "role": role})
    return result


def histogram(path: str | os.PathLike[str], column: str, bins: int = 50) -> dict[str, Any]:
    """Equal-width histogram: ``{"column", "edges" (bins + 1), "counts" (bins), "n", "excluded",
    "min", "max"}``; the counts are grouped in SQL. A constant column gets the range min +- 0.5, as
    numpy does; a column with no valid value gets empty edges and counts."""
    bins = _check_int("bins", bins, 1, MAX_BINS)
    src = _numeric_source(path, column)
    with _connect() as con:
        total, lo, hi = _range_of(con, src, column)
        if lo is None:
            return {"column": column, "edges": [], "counts": [], "n": 0, "excluded": total,
                    "min": None, "max": None}
        left, right = _range(lo, hi)
        counts = _bin_counts(con, src, column, left, right, bins)
    n = int(counts.sum())
    return {"column": column, "edges": _edges(left, right, bins), "counts": counts.tolist(),
            "n": n, "excluded": total - n, "min": lo, "max": hi}


def ecdf(path: str | os.PathLike[str], column: str, points: int = 200) -> dict[str, Any]:
    """Empirical CDF as at most ``points`` pairs spread evenly in probability:
    ``{"column", "x", "p", "n", "excluded"}``.

    ``p[i]`` is the fraction of valid values below ``x[i]`` (the last pair is the maximum with 1),
    read from counts in ``ECDF_BINS`` equal-width bins; the pairs are picked where the cumulative
    fraction crosses 0, 1/(points-1), ..., 1, so the steep part of the curve gets as many points
    as the tails. Exact ``p`` at each returned ``x``, up to floating-point rounding at bin edges.
    """
    points = _check_int("points", points, 2, MAX_BINS)
    src = _numeric_source(path, column)
    with _connect() as con:
        total, lo, hi = _range_of(con, src, column)
        if lo is None:
            return {"column": column, "x": [], "p": [], "n": 0, "excluded": total}
        left, right = _range(lo, hi)
        counts = _bin_counts(con, src, column, left, right, ECDF_BINS)
    n = int(counts.sum())
    below = np.concatenate(([0], np.cumsum(counts)))
    picks = np.unique(np.concatenate((
        [0, ECDF_BINS], np.searchsorted(below, np.linspace(0, n, points), side="left"))))
    if len(picks) > points:  # keep both ends, thin the middle evenly
        keep = np.unique(np.round(np.linspace(0, len(picks) - 1, points)).astype(int))
        picks = picks[keep]
    edges = np.asarray(_edges(left, right, ECDF_BINS))
    return {"column": column, "x": edges[picks].tolist(), "p": (below[picks] / n).tolist(),
            "n": n, "excluded": total - n}


def quantiles(path: str | os.PathLike[str], column: str, ps: Sequence[float]) -> dict[str, Any]:
    """Exact quantiles with linear interpolation (numpy's default, Excel's PERCENTILE.INC):
    ``{"column", "ps", "values", "n", "excluded"}``; values are None when no value is valid.

    Sorting 10,000,000 values takes longer than a second, so the order statistics are found in
    two scans instead: counts in ``ECDF_BINS`` bins locate the bin of each needed rank, then only
    the values of those bins are fetched and sorted. When those bins hold too many values (a
    distribution with a few heavy atoms), DuckDB's own ``quantile_cont`` answers instead.
    """
    ps = [float(p) for p in ps]
    if not ps or any(not 0.0 <= p <= 1.0 for p in ps):
        raise QueryError("Quantile probabilities must be between 0 and 1.")
    src = _numeric_source(path, column)
    with _connect() as con:
        total, lo, hi = _range_of(con, src, column)
        if lo is None:
            return {"column": column, "ps": ps, "values": [None] * len(ps), "n": 0,
                    "excluded": total}
        left, right = _range(lo, hi)
        counts = _bin_counts(con, src, column, left, right, ECDF_BINS)
        n = int(counts.sum())
        positions = [p * (n - 1) for p in ps]
        ranks = sorted({r for h in positions for r in (int(np.floor(h)), int(np.ceil(h)))})
        ends = np.cumsum(counts)
        bins = np.searchsorted(ends, ranks, side="right")
        needed = np.unique(bins)
        if counts[needed].sum() > REFINE_LIMIT:
            values = _quantile_cont(con, src, column, ps)
        else:
            order = _values_in_bins(con, src, column, left, right, needed)
            starts = ends - counts
            stat = {r: order[b][r - starts[b]] for r, b in zip(ranks, bins)}
            values = []
            for h in positions:
                below, above = stat[int(np.floor(h))], stat[int(np.ceil(h))]
                values.append(float(below + (h - np.floor(h)) * (above - below)))
    return {"column": column, "ps": ps, "values": values, "n": n, "excluded": total - n}


def tornado(path: str | os.PathLike[str], output: str, inputs: Sequence[str]) -> dict[str, Any]:
    """Mean of ``output`` over the iterations in the bottom and top decile of each input:
    ``{"output", "baseline", "n", "excluded", "bars": [{"input", "low", "high", "swing"}]}``, bars
    sorted by ``abs(swing)`` (high - low), largest first.

    Iterations where the output is an error are excluded. Each input's values are counted in
    ``TORNADO_BINS`` bins over its range (from the Parquet statistics) with the output's sum per
    bin, all inputs and the baseline in one grouped query; a decile takes whole bins from its end
    plus the share of the bin that holds its boundary, so tied values (a discrete input) share
    that bin's mean instead of depending on row order.
    """
    inputs = list(dict.fromkeys(inputs))
    if not inputs:
        raise QueryError("Choose at least one input for the tornado chart.")
    src = _numeric_source(path, output, *inputs)
    o = f"CAST({_ident(output)} AS DOUBLE)"
    valid_o = f"{o} IS NOT NULL AND isfinite({o})"
    casts = [f"CAST({_ident(name)} AS DOUBLE)" for name in inputs]
    params: dict[str, Any] = {}
    parts = [f"SELECT -1 AS j, 0 AS k, count(*) AS c, sum({o}) AS s FROM {src} "
             f"WHERE {valid_o}"]
    with _connect() as con:
        for j, (name, c) in enumerate(zip(inputs, casts)):
            total, lo, hi = _range_of(con, src, name)
            if lo is None:
                continue
            left, right = _range(lo, hi)
            params[f"lo{j}"], params[f"scale{j}"] = left, TORNADO_BINS / (right - left)
            parts.append(
                f"SELECT {j} AS j, {_bin_expr(c, f'$lo{j}', f'$scale{j}', TORNADO_BINS)} AS k, "
                f"count(*) AS c, sum({o}) AS s FROM {src} "
                f"WHERE {valid_o} AND {c} IS NOT NULL AND isfinite({c}) GROUP BY k")
        grouped = con.execute(" UNION ALL ".join(parts), params).fetchnumpy()
    overall = grouped["j"] == -1
    n = int(grouped["c"][overall][0])
    baseline = float(grouped["s"][overall][0]) / n if n else None
    result: dict[str, Any] = {"output": output, "baseline": baseline, "n": n,
                              "excluded": total - n, "bars": []}
    if n == 0:
        return result
    bars = []
    for j, name in enumerate(inputs):
        mask = grouped["j"] == j
        if not mask.any():
            continue
        order = np.argsort(grouped["k"][mask])
        counts = grouped["c"][mask][order].astype(np.float64)
        sums = grouped["s"][mask][order]
        low = _decile_mean(counts, sums)
        high = _decile_mean(counts[::-1], sums[::-1])
        bars.append({"input": name, "low": low, "high": high, "swing": high - low})
    bars.sort(key=lambda bar: -abs(bar["swing"]))
    result["bars"] = bars
    return result


def scatter(path: str | os.PathLike[str], x: str, y: str, limit: int = 5000) -> dict[str, Any]:
    """Up to ``limit`` (x, y) pairs for a scatter plot: ``{"x", "y", "n", "sampled"}``.

    The sample is deterministic (the rows with the smallest hash of their iteration number), so
    a chart redrawn from the same run shows the same points whichever files hold it, and
    uniform, so it is an honest picture of the joint distribution. Rows where either value is
    an error are left out; ``n`` counts the rows it was drawn from. Samples without an
    ``iteration`` column (not a run's) are sampled by the hash of the pair instead.
    """
    limit = _check_int("limit", limit, 1, 1_000_000)
    src, schema = _open(path)
    for name in (x, y):
        _check_numeric(schema, name)
    cx, cy = (f"CAST({_ident(name)} AS DOUBLE)" for name in (x, y))
    where = f"{cx} IS NOT NULL AND isfinite({cx}) AND {cy} IS NOT NULL AND isfinite({cy})"
    key = "iteration" if "iteration" in schema.names else f"{cx}, {cy}"
    with _connect() as con:
        got = con.execute(f"SELECT {cx} AS x, {cy} AS y FROM {src} WHERE {where} "
                          f"ORDER BY hash({key}) LIMIT $limit", {"limit": limit}).fetchnumpy()
        n = con.execute(f"SELECT count(*) FROM {src} WHERE {where}").fetchall()[0][0]
    return {"x": got["x"].tolist(), "y": got["y"].tolist(), "n": n, "sampled": n > limit}


_VALID = "v IS NOT NULL AND isfinite(v)"


def _connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB per call: connections are not shared between the app's threads,
    and opening one costs about a millisecond. No Python-variable scans, no extension downloads."""
    return duckdb.connect(":memory:", config={
        "python_enable_replacements": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })


def _open(path: str | os.PathLike[str]) -> tuple[str, pa.Schema]:
    """The DuckDB source and the columns of a run's samples (its folder of parts or its single
    file, as its row's ``samples_path`` says), read from the footers alone."""
    try:
        return samples.duckdb_source(path), samples.read_schema(path)
    except FileNotFoundError as exc:
        raise QueryError(f"The run's samples {os.fspath(path)!r} do not exist.") from exc
    except (pa.ArrowException, OSError) as exc:
        raise QueryError(f"The run's samples {os.fspath(path)!r} cannot be read: {exc}.") \
            from exc


def _numeric_source(path: str | os.PathLike[str], *columns: str) -> str:
    """The DuckDB source of the samples, once each of ``columns`` is known to be numeric."""
    src, schema = _open(path)
    for column in columns:
        _check_numeric(schema, column)
    return src


def _check_numeric(schema: pa.Schema, column: str) -> None:
    index = schema.get_field_index(column)
    if index < 0:
        raise QueryError(f"The run's samples have no column {column!r}.")
    if not _is_numeric(schema.field(index).type):
        raise QueryError(f"The column {column!r} is not numeric.")


def _is_numeric(arrow_type: pa.DataType) -> bool:
    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_decimal(arrow_type))


def _check_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) \
            or not low <= value <= high:
        raise QueryError(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def _ident(name: str) -> str:
    """A column name as a quoted SQL identifier (names come from the user's workbook)."""
    return '"' + name.replace('"', '""') + '"'


def _range_of(con: duckdb.DuckDBPyConnection, src: str, column: str
              ) -> tuple[int, float | None, float | None]:
    """(rows, min, max of the finite values; None when there is none).

    Plain min/max/count are answered from the Parquet footer's statistics without a scan; only
    when they are not finite (an infinity, or NaN, which sorts above every number) is the column
    scanned for its finite range.
    """
    x = f"CAST({_ident(column)} AS DOUBLE)"
    total, lo, hi = con.execute(f"SELECT count(*), min({x}), max({x}) FROM {src}").fetchall()[0]
    if lo is not None and not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = con.execute(
            f"SELECT min(v), max(v) FROM (SELECT {x} AS v FROM {src}) WHERE {_VALID}"
        ).fetchall()[0]
    return total, lo, hi


def _range(lo: float, hi: float) -> tuple[float, float]:
    """The binning range: the data's, widened to +-0.5 around a constant as numpy does."""
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def _bin_expr(value: str, lo: str, scale: str, bins: int) -> str:
    """Bin index 0..bins-1 of ``value``; the maximum falls in the last bin, not past it."""
    return f"least(greatest(floor(({value} - {lo}) * {scale}), 0), {bins - 1})::INTEGER"


def _bin_counts(con: duckdb.DuckDBPyConnection, src: str, column: str,
                lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts of the valid values in ``bins`` equal-width bins over [lo, hi], grouped in SQL."""
    got = con.execute(
        f"SELECT {_bin_expr('v', '$lo', '$scale', bins)} AS k, count(*) AS c "
        f"FROM (SELECT CAST({_ident(column)} AS DOUBLE) AS v FROM {src}) "
        f"WHERE {_VALID} GROUP BY k",
        {"lo": lo, "scale": bins / (hi - lo)}).fetchnumpy()
    counts = np.zeros(bins, dtype=np.int64)
    counts[got["k"].astype(np.int64)] = got["c"]
    return counts


def _values_in_bins(con: duckdb.DuckDBPyConnection, src: str, column: str,
                    lo: float, hi: float, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """The sorted valid values of the bins ``wanted`` (binned exactly as :func:`_bin_counts`)."""
    got = con.execute(
        f"SELECT k, v FROM (SELECT {_bin_expr('v', '$lo', '$scale', ECDF_BINS)} AS k, v "
        f"FROM (SELECT CAST({_ident(column)} AS DOUBLE) AS v FROM {src}) "
        f"WHERE {_VALID}) WHERE list_contains($wanted, k)",
        {"lo": lo, "scale": ECDF_BINS / (hi - lo),
         "wanted": [int(b) for b in wanted]}).fetchnumpy()
    return {int(b): np.sort(got["v"][got["k"] == b]) for b in wanted}


def _quantile_cont(con: duckdb.DuckDBPyConnection, src: str, column: str,
                   ps: list[float]) -> list[float]:
    return con.execute(
        f"SELECT quantile_cont(v, $ps) FROM (SELECT CAST({_ident(column)} AS DOUBLE) AS v "
        f"FROM {src}) WHERE {_VALID}", {"ps": ps}
    ).fetchall()[0][0]


def _edges(lo: float, hi: float, bins: int) -> list[float]:
    edges = np.linspace(lo, hi, bins + 1)
    edges[-1] = hi  # exactly the maximum, whatever the rounding
    return edges.tolist()


def _decile_mean(counts: np.ndarray, sums: np.ndarray) -> float:
    """Mean over the first 10% of the values in bin order: whole bins, then the needed share of
    the bin that holds the boundary (its rows' output sum scaled by that share)."""
    target = 0.1 * counts.sum()
    before = np.concatenate(([0.0], np.cumsum(counts)[:-1]))
    whole = before + counts <= target
    boundary = int(np.argmin(whole)) if not whole.all() else len(counts) - 1
    total = sums[whole].sum()
    if not whole.all():
        total += sums[boundary] * (target - before[boundary]) / counts[boundary]
    return float(total / target)
