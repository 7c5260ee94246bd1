"""A run's settings: light enough for the app, which validates runs without the compiler."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.montecarlo.summary import DEFAULT_PERCENTILES

# Iterations per chunk: a few tenths of a second of work, so that a cluster's tasks are long
# against Dask's milliseconds per task, and a retried chunk costs little.
CHUNK = 1 << 18
MAX_ITERATIONS = 100_000_000


@dataclass
class RunSettings:
    iterations: int = 10_000
    seed: int = 1
    sampling: str = "mc"  # "mc" or "lhs"
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)
    percentiles: Sequence[float] = DEFAULT_PERCENTILES
    target: float | None = None
    var_level: float = 0.95
    chunk: int = CHUNK
    stop_tolerance: float | None = None  # stop early once every output has converged
    stop_confidence: float = 0.95
    device: str = "cpu"  # "cpu" or "cuda" (engine.montecarlo.device.select_device resolves "auto")

    def validate(self) -> None:
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS:,}, got "
                             f"{self.iterations}")
        if self.sampling not in ("mc", "lhs"):
            raise ValueError(f"sampling must be 'mc' or 'lhs', got {self.sampling!r}")
        if not 0 <= self.seed < 2 ** 63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {self.seed}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.stop_tolerance is not None and not self.stop_tolerance > 0:
            raise ValueError(f"the stop tolerance must be positive, got {self.stop_tolerance}")
        if not 0.0 < self.var_level < 1.0:
            raise ValueError(f"the VaR level must lie strictly between 0 and 1, got "
                             f"{self.var_level:g}")
        outside = [p for p in self.percentiles if not 0.0 <= p <= 100.0]
        if outside:
            raise ValueError(f"percentiles must lie from 0 to 100, got {outside[0]:g}")
        if self.target is not None and not math.isfinite(self.target):
            raise ValueError(f"the target must be a finite number, got {self.target}")

    def step(self) -> int:
        """Iterations per chunk: with a stop rule, small enough to stop near convergence."""
        if self.stop_tolerance is None:
            return self.chunk
        return min(self.chunk, max(10_000, self.iterations // 100))
