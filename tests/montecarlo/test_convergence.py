"""Convergence trace and stop rule: exact prefix statistics, stationary and drifting streams."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from engine.montecarlo.convergence import ConvergenceMonitor, convergence_trace
from engine.montecarlo.summary import summarize

Z95 = stats.norm.ppf(0.975)


def test_trace_statistics_are_those_of_each_prefix():
    rng = np.random.default_rng(1)
    x = rng.lognormal(0, 1, 50_000)
    codes = np.zeros(x.size, dtype=np.uint8)
    codes[rng.random(x.size) < 0.05] = 7
    tr = convergence_trace(x, codes, percentiles=(5, 50, 95))
    its = tr["iterations"]
    assert 90 <= len(its) <= 100 and its[-1] == x.size and its == sorted(set(its))
    assert its[0] == 10 and its[1] / its[0] < 1.2   # log-spaced from 10
    for i in (0, len(its) // 2, len(its) - 1):
        prefix = x[:its[i]][codes[:its[i]] == 0]
        assert tr["n"][i] == prefix.size
        assert tr["mean"][i] == pytest.approx(prefix.mean(), rel=1e-12)
        sem = prefix.std(ddof=1) / math.sqrt(prefix.size)
        assert tr["sem"][i] == pytest.approx(sem, rel=1e-10)
        assert tr["lower"][i] == pytest.approx(prefix.mean() - Z95 * sem, rel=1e-10)
        assert tr["upper"][i] == pytest.approx(prefix.mean() + Z95 * sem, rel=1e-10)
        for p in (5, 50, 95):
            assert tr["percentiles"][str(p)][i] == pytest.approx(np.percentile(prefix, p),
                                                                 rel=1e-13)
    final = summarize(x, codes, percentiles=(5, 50, 95))
    assert tr["mean"][-1] == pytest.approx(final["mean"], rel=1e-12)
    assert {k: v[-1] for k, v in tr["percentiles"].items()} == final["percentiles"]
    assert json.loads(json.dumps(tr)) == tr


def test_trace_band_covers_the_true_mean_at_the_end():
    x = np.random.default_rng(2).exponential(3.0, 100_000)
    tr = convergence_trace(x, spacing="linear", checkpoints=50)
    assert tr["iterations"] == [2000 * (i + 1) for i in range(50)]
    assert abs(tr["mean"][-1] - 3.0) < 5 * tr["sem"][-1]
    assert tr["sem"][-1] < tr["sem"][0]


def test_monitor_half_widths_are_the_documented_intervals():
    rng = np.random.default_rng(3)
    blocks = [rng.normal(50, 5, 3000) for _ in range(3)]
    mon = ConvergenceMonitor(tolerance=0.01, confidence=0.95, percentiles=(10,))
    for b in blocks:
        mon.update(b)
    allx = np.sort(np.concatenate(blocks))
    n = allx.size
    rec = mon.history()[-1]
    assert rec["mean_half_width"] == pytest.approx(Z95 * allx.std(ddof=1) / math.sqrt(n),
                                                   rel=1e-10)
    spread = Z95 * math.sqrt(n * 0.1 * 0.9)
    lo, hi = math.floor(n * 0.1 - spread), math.ceil(n * 0.1 + spread)
    assert rec["percentiles"]["10"]["half_width"] == pytest.approx(
        (allx[hi - 1] - allx[lo - 1]) / 2, rel=1e-12)
    assert rec["percentiles"]["10"]["value"] == pytest.approx(np.percentile(allx, 10), rel=1e-13)


def test_monitor_stops_on_a_stationary_stream_near_the_truth():
    rng = np.random.default_rng(4)
    mon = ConvergenceMonitor(tolerance=0.01, confidence=0.95, percentiles=(5, 50, 95))
    stopped = None
    for k in range(30):
        if mon.update(rng.normal(100, 10, 2000)):
            stopped = k
            break
    # The 5th percentile needs about n >= 2,400 for its interval (z sqrt(p(1-p)/n) sd / phi
    # <= 1% of 83.6), so the earliest stop is the second block.
    assert stopped is not None and stopped >= 1
    rec = mon.history()[-1]
    assert rec["moved"] == [] and mon.converged
    assert abs(rec["mean"] - 100) < 5 * 10 / math.sqrt(rec["n"])
    assert abs(rec["percentiles"]["5"]["value"] - (100 + 10 * stats.norm.ppf(0.05))) < 1.0


def test_monitor_does_not_stop_on_a_drifting_mean():
    rng = np.random.default_rng(5)
    mon = ConvergenceMonitor(tolerance=0.01, confidence=0.95)
    verdicts = [mon.update(rng.normal(100 + 2 * k, 10, 2000)) for k in range(60)]
    assert not any(verdicts)
    history = mon.history()
    assert all("mean" in rec["moved"] for rec in history[1:])
    # Without the drift guard the precision rules alone would have stopped this stream.
    last = history[-1]
    assert last["mean_half_width"] <= 0.01 * last["mean"]
    assert all(q["half_width"] <= 0.01 * q["value"] for q in last["percentiles"].values())


def test_monitor_does_not_stop_when_only_the_spread_drifts():
    rng = np.random.default_rng(6)
    mon = ConvergenceMonitor(tolerance=0.05, confidence=0.95, percentiles=(5, 95))
    verdicts = [mon.update(rng.normal(100, 2 * 1.2**k, 5000)) for k in range(15)]
    assert not any(verdicts)
    for rec in mon.history()[1:]:
        assert {"5", "95"} & set(rec["moved"])


def test_monitor_needs_two_blocks_and_min_iterations():
    rng = np.random.default_rng(7)
    mon = ConvergenceMonitor(tolerance=0.05)
    assert mon.update(rng.normal(100, 1, 100_000)) is False
    assert mon.history()[0]["moved"] is None
    assert mon.update(rng.normal(100, 1, 1000)) is True
    strict = ConvergenceMonitor(tolerance=0.05, min_iterations=10**6)
    assert not any(strict.update(rng.normal(100, 1, 10_000)) for _ in range(5))


def test_monitor_excludes_and_counts_error_iterations():
    rng = np.random.default_rng(8)
    mon = ConvergenceMonitor(tolerance=0.05, percentiles=(50,))
    block = rng.normal(10, 1, 1000)
    block[:30] = np.nan
    codes = np.zeros(1000, dtype=np.uint8)
    codes[30:50] = 4
    mon.update(block, codes)
    rec = mon.history()[0]
    assert rec["errors"] == 50 and rec["n"] == 950 and rec["iterations"] == 1000
    assert rec["mean"] == pytest.approx(block[50:].mean(), rel=1e-12)
    assert json.loads(json.dumps(mon.history())) == mon.history()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tolerance": 0.0}, "Sheet1!B9: tolerance must be positive"),
        ({"tolerance": 0.01, "confidence": 1.0}, "Sheet1!B9: confidence must lie strictly"),
        ({"tolerance": 0.01, "percentiles": (101,)}, "Sheet1!B9: percentile 101 is outside"),
        ({"tolerance": 0.01, "min_iterations": 1}, "Sheet1!B9: min_iterations must be at least 2"),
    ],
)
def test_monitor_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvergenceMonitor(label="Sheet1!B9", **kwargs)


def test_trace_rejects_bad_settings():
    with pytest.raises(ValueError, match="Sheet1!B9: spacing must be 'log' or 'linear'"):
        convergence_trace(np.ones(10), spacing="cubic", label="Sheet1!B9")
    with pytest.raises(ValueError, match="Sheet1!B9: checkpoints must be at least 1"):
        convergence_trace(np.ones(10), checkpoints=0, label="Sheet1!B9")
