"""What a stored run means to the engine: its RunSettings, its model reference, its chunks.

The run's row is the definition: iterations, seed and sampling in their own columns (what the
run list shows is what ran), everything else in ``spec["settings"]``. The chunk size follows
from those alone (``RunSettings.step()``), so every worker and the CLI cut the run alike.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from db.entities import RunRecord, WorkbookRecord
from engine.montecarlo.settings import RunSettings

# Settings a run's spec may carry besides the run's own columns (iterations, seed, sampling).
SPEC_SETTINGS = ("correlations", "percentiles", "target", "var_level", "stop_tolerance",
                 "stop_confidence")
_COLUMN_SETTINGS = ("iterations", "seed", "sampling", "device")


def run_settings(record: RunRecord, device: str = "cpu") -> RunSettings:
    """The engine's RunSettings for a run; ``device`` is the resolved one ("cpu"/"cuda")."""
    return settings_of(record.spec, record.iterations, record.seed, record.sampling, device)


def settings_of(spec: dict[str, Any] | None, iterations: int, seed: int, sampling: str,
                device: str = "cpu") -> RunSettings:
    """RunSettings from a run's spec and columns; ValueError names what is wrong."""
    extra = dict((spec or {}).get("settings") or {})
    unknown = sorted(set(extra) - set(SPEC_SETTINGS) - set(_COLUMN_SETTINGS))
    if unknown:
        raise ValueError(f"unknown run setting {', '.join(unknown)} (allowed: "
                         f"{', '.join(SPEC_SETTINGS)})")
    kwargs = {k: extra[k] for k in SPEC_SETTINGS if extra.get(k) is not None}
    if "correlations" in kwargs:
        pairs: dict[tuple[str, str], float] = {}
        for item in kwargs["correlations"]:
            if len(item) != 3:
                raise ValueError(f"a correlation is [input, input, coefficient], got {item!r}")
            pairs[(str(item[0]), str(item[1]))] = float(item[2])
        kwargs["correlations"] = pairs
    if "percentiles" in kwargs:
        kwargs["percentiles"] = tuple(float(p) for p in kwargs["percentiles"])
    settings = RunSettings(iterations=int(iterations), seed=int(seed), sampling=sampling,
                           device=device, **kwargs)
    settings.validate()
    return settings


def model_ref(record: RunRecord, workbook: WorkbookRecord) -> Any:
    """Where a worker finds the run's model: the stored upload and the run's inputs/outputs."""
    from engine.montecarlo.cluster import ModelRef

    spec = record.spec or {}
    return ModelRef(workbook.stored_path, workbook.content_hash,
                    inputs=dict(spec.get("inputs") or {}),
                    outputs=tuple(spec.get("outputs") or ()))


def jsonable(value: Any) -> Any:
    """The run's results as plain JSON: numpy scalars and arrays become Python values, and NaN
    or infinities become null (PostgreSQL's jsonb refuses them)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
