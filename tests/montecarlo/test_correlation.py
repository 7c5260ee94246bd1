"""Iman-Conover rank correlation and the repair of matrices that are not positive semi-definite."""

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo.correlation import (
    impose_rank_correlation,
    repair_correlation,
    validate_correlation,
)

N = 100_000
TARGET = np.array([
    [1.0, 0.8, -0.5, 0.3],
    [0.8, 1.0, -0.3, 0.2],
    [-0.5, -0.3, 1.0, 0.0],
    [0.3, 0.2, 0.0, 1.0],
])


def spearman_standard_error(rho: np.ndarray, n: int) -> np.ndarray:
    """Fieller, Hartley and Pearson (1957): Fisher's z of Spearman's rho has variance 1.06/(n-3)."""
    return (1.0 - rho**2) * np.sqrt(1.06 / (n - 3))


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    g = np.random.default_rng(20240601)
    return np.column_stack([g.normal(size=N), g.exponential(size=N), g.lognormal(size=N),
                            g.integers(0, 3, size=N).astype(np.float64)])


@pytest.fixture(scope="module")
def correlated(samples) -> np.ndarray:
    return impose_rank_correlation(samples[:, :3].copy(), TARGET[:3, :3], seed=7)


def test_achieved_spearman_matches_target(samples):
    continuous = np.column_stack([samples[:, :3], np.random.default_rng(1).uniform(size=N)])
    result = impose_rank_correlation(continuous, TARGET, seed=7)
    achieved = stats.spearmanr(result).statistic
    # Without the 2 sin(pi rho / 6) conversion the 0.8 entry misses by 0.014, outside this bound.
    assert np.all(np.abs(achieved - TARGET) <= 5 * spearman_standard_error(TARGET, N))


def test_each_column_keeps_its_values(samples):
    result = impose_rank_correlation(samples, TARGET, seed=3)
    np.testing.assert_array_equal(np.sort(result, axis=0), np.sort(samples, axis=0))


def test_result_is_a_pure_function_of_the_seed(samples, correlated):
    again = impose_rank_correlation(samples[:, :3].copy(), TARGET[:3, :3], seed=7)
    np.testing.assert_array_equal(again, correlated)
    other = impose_rank_correlation(samples[:, :3].copy(), TARGET[:3, :3], seed=8)
    assert not np.array_equal(other, correlated)
    tied = samples[:, [3, 0]]  # a column of three values: ties resolved the same way each time
    target = np.array([[1.0, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(impose_rank_correlation(tied, target, seed=1),
                                  impose_rank_correlation(tied, target, seed=1))


def test_order_in_which_inputs_are_listed_does_not_matter(samples, correlated):
    order = [2, 0, 1]
    shuffled = impose_rank_correlation(samples[:, order], TARGET[np.ix_(order, order)], seed=7,
                                       input_ids=order)
    np.testing.assert_array_equal(shuffled, correlated[:, order])


@pytest.mark.parametrize("rho", [1.0, -1.0])
def test_perfect_correlation_has_no_cholesky_factor_but_works(samples, rho):
    target = np.array([[1.0, rho], [rho, 1.0]])
    result = impose_rank_correlation(samples[:, :2], target, seed=5)
    assert stats.spearmanr(result).statistic == pytest.approx(rho, abs=1e-12)


def test_non_psd_matrix_is_repaired_to_the_nearest_with_a_warning():
    # Higham (2002), section 4: the nearest correlation matrix to this one.
    requested = [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
    expected = [[1, 0.7607, 0.1573], [0.7607, 1, 0.7607], [0.1573, 0.7607, 1]]
    repaired, warning = repair_correlation(requested, ["Sheet1!B2", "Sheet1!B3", "Inputs!C9"])
    np.testing.assert_allclose(repaired, expected, atol=1e-4)
    assert np.linalg.eigvalsh(repaired)[0] > -1e-12
    np.testing.assert_array_equal(np.diag(repaired), 1.0)
    np.testing.assert_array_equal(repaired, repaired.T)
    assert "not positive semi-definite" in warning
    assert "Sheet1!B2, Sheet1!B3, Inputs!C9" in warning
    requested_part, used_part = warning.split("Used:")
    assert "1.0000" in requested_part.split("Requested:")[1] and "0.7607" in used_part


def test_valid_matrix_is_left_alone():
    repaired, warning = repair_correlation(TARGET, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(repaired, TARGET)
    assert warning is None


def test_impose_refuses_a_matrix_that_is_not_psd(samples):
    bad = [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]]
    with pytest.raises(ValueError, match="A, B, C is not positive semi-definite.*repair_corr"):
        impose_rank_correlation(samples[:, :3], bad, seed=1, labels=["A", "B", "C"])


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 0.5, 0.2], [0.5, 1, 0.1]], "must be square and non-empty, got shape \\(2, 3\\)"),
        ([[1, 0.5], [0.5, 1]], "correlation matrix is 2 x 2 but there are 3 inputs"),
        ([[1, 0.2, np.nan], [0.2, 1, 0], [np.nan, 0, 1]], "between A and C is not a finite"),
        ([[1, 0.2, 0], [0.2, 0.9, 0], [0, 0, 1]], "of B with itself must be 1, got 0.9"),
        ([[1, 1.2, 0], [1.2, 1, 0], [0, 0, 1]], "between A and B must lie in \\[-1, 1\\], got 1.2"),
        ([[1, 0, 0], [0, 1, 0.5], [0, 0.4, 1]], "between B and C is given as 0.5 one way and 0.4"),
    ],
)
def test_validation_names_the_inputs(matrix, message):
    with pytest.raises(ValueError, match=message):
        validate_correlation(matrix, ["A", "B", "C"])


def test_bad_samples_are_named():
    target = np.array([[1.0, 0.5], [0.5, 1.0]])
    x = np.ones((10, 2))
    x[4, 1] = np.inf
    with pytest.raises(ValueError, match="samples of Sheet1!B3 contain a value that is not"):
        impose_rank_correlation(x, target, seed=1, labels=["Sheet1!B2", "Sheet1!B3"])
    with pytest.raises(ValueError, match="2 iterations are too few to correlate 2 inputs"):
        impose_rank_correlation(np.ones((2, 2)), target, seed=1)
    with pytest.raises(ValueError, match="input_ids must be 2 distinct integers"):
        impose_rank_correlation(np.ones((10, 2)), target, seed=1, input_ids=[4, 4])
