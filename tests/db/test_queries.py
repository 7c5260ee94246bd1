"""DuckDB aggregates over a run's samples, checked against numpy on the same samples.

The main run is real, simulated by the engine: two inputs, an output that is always a number and
one that is #DIV/0! in about 20% of the iterations (null, with its error column). Its samples are
stored as a run's chunk parts are, several parts of which only some have the error column, so
every query reads them as one table; one test checks that a single-file run (the layout before
chunking) of the same samples answers the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db import queries
from db.queries import QueryError
from db.samples import SampleFiles

N = 20_000
A, U, SUM, GUARDED = "Sheet1!A1", "Sheet1!A2", "Sheet1!B1", "Sheet1!B2"
CHUNK = 5_000


@pytest.fixture(scope="module")
def engine_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine's samples of the run as one Parquet file (a single-file run)."""
    from engine.loader import load_workbook
    from engine.montecarlo.model import build_model
    from engine.montecarlo.simulate import RunSettings, simulate, write_samples

    folder = tmp_path_factory.mktemp("run")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet["A1"], sheet["A2"] = 100, 0.5
    sheet["B1"] = "=A1*2+A2"
    sheet["B2"] = "=IF(A2<0.2,1/0,A1)"
    book.save(folder / "book.xlsx")
    model = build_model(load_workbook(folder / "book.xlsx"),
                        {A: "normal(100,10)", U: "uniform(0,1)"}, [SUM, GUARDED])
    result = simulate(model, RunSettings(iterations=N, seed=3))
    path = SampleFiles(folder / "single").path_for(1)
    path.parent.mkdir(parents=True)
    write_samples(result, model, str(path))
    return path


@pytest.fixture(scope="module")
def run_dir(engine_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same samples as a run's parts: chunks of CHUNK iterations, plus one short part cut
    where 8 iterations in a row have no error, so that part has no error column (the engine
    writes it only for chunks with errors)."""
    table = pq.read_table(engine_file)
    errors = table[f"{GUARDED} error"].is_null().to_numpy(zero_copy_only=False)
    clean = next(s for s in range(N) if errors[s:s + 8].all())
    starts = sorted({*range(0, N, CHUNK), clean, clean + 8})
    files = SampleFiles(tmp_path_factory.mktemp("parts"))
    for start, end in zip(starts, [*starts[1:], N]):
        part = table.slice(start, end - start)
        if part[f"{GUARDED} error"].null_count == part.num_rows:
            part = part.drop_columns([f"{GUARDED} error"])
        files.write_part(1, start, part, {"summary": "{}"})
    return files.run_dir(1)


@pytest.fixture(scope="module")
def data(engine_file: Path) -> dict[str, np.ndarray]:
    """The oracle: the engine's samples read with pyarrow alone."""
    table = pq.read_table(engine_file)
    return {name: col.to_numpy(zero_copy_only=False)
            for name, col in zip(table.column_names, table.columns)}


def valid(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64)
    return values[np.isfinite(values)]


def test_the_fixture_has_error_iterations_and_parts_with_and_without_them(
        data: dict[str, np.ndarray], run_dir: Path) -> None:
    errors = data[f"{GUARDED} error"]
    assert 0.15 * N < sum(e == "#DIV/0!" for e in errors) < 0.25 * N
    assert all((e is None) == np.isfinite(v) for e, v in zip(errors, data[GUARDED]))
    has_errors = [f"{GUARDED} error" in pq.read_schema(p).names
                  for p in SampleFiles(run_dir.parent.parent).parts(1)]
    assert len(has_errors) >= 5 and any(has_errors) and not all(has_errors)


def test_columns(run_dir: Path) -> None:
    got = queries.columns(run_dir)
    assert [(c["name"], c["role"], c["numeric"]) for c in got] == [
        ("iteration", "iteration", True), (A, "value", True), (U, "value", True),
        (SUM, "value", True), (GUARDED, "value", True), (f"{GUARDED} error", "error", False)]
    assert got[1]["type"] == "double"


@pytest.mark.parametrize("column", [A, SUM, GUARDED])
def test_histogram_matches_numpy(run_dir: Path, data: dict[str, np.ndarray],
                                 column: str) -> None:
    got = queries.histogram(run_dir, column, bins=40)
    values = valid(data[column])
    counts, edges = np.histogram(values, bins=40, range=(values.min(), values.max()))
    assert got["n"] == len(values) and got["excluded"] == N - len(values)
    assert np.allclose(got["edges"], edges, rtol=0, atol=1e-9 * np.ptp(values))
    assert sum(got["counts"]) == len(values)
    assert np.abs(np.asarray(got["counts"]) - counts).sum() <= 2  # rounding at a bin edge
    assert (got["min"], got["max"]) == (values.min(), values.max())


def test_histogram_leaves_out_error_iterations(run_dir: Path, data: dict[str, np.ndarray]
                                               ) -> None:
    got = queries.histogram(run_dir, GUARDED)
    errors = sum(e is not None for e in data[f"{GUARDED} error"])
    assert got["excluded"] == errors and got["n"] == N - errors


def test_ecdf(run_dir: Path, data: dict[str, np.ndarray]) -> None:
    got = queries.ecdf(run_dir, GUARDED, points=100)
    values = np.sort(valid(data[GUARDED]))
    x, p = np.asarray(got["x"]), np.asarray(got["p"])
    assert 50 <= len(x) <= 100
    assert np.all(np.diff(x) > 0) and np.all(np.diff(p) >= 0)
    assert (x[0], p[0], x[-1], p[-1]) == (values[0], 0.0, values[-1], 1.0)
    below = np.searchsorted(values, x[:-1], side="left") / len(values)
    assert np.allclose(p[:-1], below, atol=2 / len(values))
    # spread evenly in probability, not in x
    assert np.max(np.diff(p)) < 3 / 99


@pytest.mark.parametrize("column", [A, GUARDED])
def test_quantiles_match_numpy(run_dir: Path, data: dict[str, np.ndarray], column: str) -> None:
    ps = [0, 0.01, 0.05, 0.5, 0.95, 0.99, 1]
    got = queries.quantiles(run_dir, column, ps)
    assert got["ps"] == ps
    assert np.allclose(got["values"], np.quantile(valid(data[column]), ps), rtol=1e-12)


def exact_decile_means(inp: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    keep = np.isfinite(out)
    inp, out = inp[keep], out[keep]
    order = np.argsort(inp, kind="stable")
    k = len(inp) // 10
    return out[order[:k]].mean(), out[order[-k:]].mean()


def test_tornado_matches_exact_deciles(run_dir: Path, data: dict[str, np.ndarray]) -> None:
    got = queries.tornado(run_dir, SUM, [U, A])
    assert [bar["input"] for bar in got["bars"]] == [A, U]  # A1 moves B1 most
    assert got["baseline"] == pytest.approx(data[SUM].mean())
    assert got["n"] == N and got["excluded"] == 0
    for bar in got["bars"]:
        low, high = exact_decile_means(data[bar["input"]], data[SUM])
        assert bar["low"] == pytest.approx(low, rel=1e-3)
        assert bar["high"] == pytest.approx(high, rel=1e-3)
        assert bar["swing"] == pytest.approx(bar["high"] - bar["low"])


def test_tornado_excludes_error_iterations(run_dir: Path, data: dict[str, np.ndarray]) -> None:
    got = queries.tornado(run_dir, GUARDED, [A])
    errors = sum(e is not None for e in data[f"{GUARDED} error"])
    assert got["excluded"] == errors and got["n"] == N - errors
    low, high = exact_decile_means(data[A], data[GUARDED].astype(np.float64))
    assert got["bars"][0]["low"] == pytest.approx(low, rel=1e-3)
    assert got["bars"][0]["high"] == pytest.approx(high, rel=1e-3)


def test_tornado_shares_ties_of_a_discrete_input(tmp_path: Path) -> None:
    """70% zeros: the bottom decile is some of the zeros, whose output mean is that of all zeros,
    whatever the row order."""
    rng = np.random.default_rng(0)
    flag = (rng.random(50_000) < 0.3).astype(np.float64)
    out = flag * 10 + rng.normal(size=50_000)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"iteration": np.arange(50_000), "flag": flag, "out": out}), path)
    bar = queries.tornado(path, "out", ["flag"])["bars"][0]
    assert bar["low"] == pytest.approx(out[flag == 0].mean(), abs=1e-9)
    assert bar["high"] == pytest.approx(out[flag == 1].mean(), abs=1e-9)


def test_scatter_is_a_deterministic_sample_of_real_rows(run_dir: Path,
                                                        data: dict[str, np.ndarray]) -> None:
    got = queries.scatter(run_dir, A, GUARDED, limit=1000)
    assert got == queries.scatter(run_dir, A, GUARDED, limit=1000)
    assert len(got["x"]) == len(got["y"]) == 1000 and got["sampled"]
    pairs = set(zip(data[A].tolist(), data[GUARDED].tolist()))
    assert all(pair in pairs for pair in zip(got["x"], got["y"]))
    assert all(np.isfinite(got["y"]))
    assert got["n"] == int(np.isfinite(data[GUARDED].astype(np.float64)).sum())
    # a uniform sample: its mean is near the population's
    assert abs(np.mean(got["x"]) - data[A].mean()) < 5 * 10 / np.sqrt(1000)
    small = queries.scatter(run_dir, A, SUM, limit=N + 5)
    assert len(small["x"]) == N and not small["sampled"]


def test_edge_cases(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"const": [3.0] * 10, "none": pa.array([None] * 10, pa.float64()),
                             "ints": list(range(10))}), path)
    const = queries.histogram(path, "const", bins=4)
    assert const["edges"] == [2.5, 2.75, 3.0, 3.25, 3.5] and const["counts"] == [0, 0, 10, 0]
    empty = queries.histogram(path, "none")
    assert (empty["n"], empty["excluded"], empty["counts"]) == (0, 10, [])
    assert queries.ecdf(path, "none")["x"] == []
    assert queries.quantiles(path, "none", [0.5])["values"] == [None]
    assert queries.quantiles(path, "ints", [0.5])["values"] == [4.5]
    assert queries.tornado(path, "none", ["ints"])["bars"] == []
    assert queries.tornado(path, "ints", ["const"])["bars"][0]["swing"] == 0


@pytest.mark.parametrize("call, message", [
    (lambda p: queries.histogram(p, "nope"), "no column 'nope'"),
    (lambda p: queries.histogram(p, f"{GUARDED} error"), "not numeric"),
    (lambda p: queries.histogram(p, A, bins=0), "bins must be"),
    (lambda p: queries.ecdf(p, A, points=1), "points must be"),
    (lambda p: queries.quantiles(p, A, [1.5]), "between 0 and 1"),
    (lambda p: queries.tornado(p, SUM, []), "at least one input"),
    (lambda p: queries.scatter(p, A, 'x" FROM read_csv(\'/etc/passwd\') --'), "no column"),
    (lambda p: queries.histogram(p.parent / "missing.parquet", A), "do not exist"),
    (lambda p: queries.histogram(p.parent / "2", A), "do not exist"),
])
def test_refusals(run_dir: Path, call, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        call(run_dir)


def test_quoted_column_names(tmp_path: Path) -> None:
    """Column names come from workbooks: quotes and spaces are identifiers, not SQL."""
    path = tmp_path / "q.parquet"
    name = 'Profit "net"; DROP'
    pq.write_table(pa.table({name: [1.0, 2.0, 3.0]}), path)
    assert queries.quantiles(path, name, [0.5])["values"] == [2.0]


def test_non_finite_values_are_excluded(tmp_path: Path) -> None:
    path = tmp_path / "nf.parquet"
    values = [1.0, float("nan"), float("inf"), -float("inf"), 2.0, None, 3.0]
    pq.write_table(pa.table({"v": pa.array(values, pa.float64())}), path)
    hist = queries.histogram(path, "v", bins=2)
    assert (hist["n"], hist["excluded"], hist["counts"]) == (3, 4, [1, 2])
    assert (hist["min"], hist["max"]) == (1.0, 3.0)
    assert queries.quantiles(path, "v", [0, 0.5, 1])["values"] == [1.0, 2.0, 3.0]
    assert queries.ecdf(path, "v")["x"][-1] == 3.0


@pytest.mark.parametrize("refine_limit", [0, 10**9])
def test_quantiles_with_heavy_atoms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    refine_limit: int) -> None:
    """Both ways to the order statistics (fetched bins, DuckDB's quantile_cont) agree with numpy
    on a distribution with ties and atoms."""
    monkeypatch.setattr(queries, "REFINE_LIMIT", refine_limit)
    rng = np.random.default_rng(1)
    values = np.where(rng.random(30_000) < 0.6, 5.0, rng.exponential(3.0, 30_000))
    path = tmp_path / "atoms.parquet"
    pq.write_table(pa.table({"v": values}), path)
    ps = [0, 0.001, 0.1, 0.3, 0.5, 0.77, 0.9, 0.999, 1]
    assert np.allclose(queries.quantiles(path, "v", ps)["values"], np.quantile(values, ps),
                       rtol=1e-12, atol=0)


def test_a_single_file_run_answers_the_same(engine_file: Path, run_dir: Path) -> None:
    """The layout before chunking: the same samples in one file give the same answers, the
    scatter's sample included (it is drawn by iteration, not by position in a file)."""
    calls = [
        lambda p: queries.columns(p),
        lambda p: queries.histogram(p, GUARDED, bins=30),
        lambda p: queries.ecdf(p, SUM, points=50),
        lambda p: queries.quantiles(p, GUARDED, [0.01, 0.5, 0.99]),
        lambda p: queries.tornado(p, GUARDED, [A, U]),
        lambda p: queries.scatter(p, A, GUARDED, limit=500),
    ]
    for call in calls:
        assert same(call(engine_file), call(run_dir))


def same(a: object, b: object) -> bool:
    """Equal, floats up to the rounding of a sum taken in another order."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-12)
    return a == b


def test_parts_whose_columns_disagree_are_a_message(tmp_path: Path) -> None:
    files = SampleFiles(tmp_path)
    files.write_part(1, 0, pa.table({"iteration": [1], "v": [1.0]}))
    files.write_part(1, 1, pa.table({"iteration": [2], "v": ["text"]}))
    with pytest.raises(QueryError, match="cannot be read"):
        queries.histogram(files.run_dir(1), "v")
