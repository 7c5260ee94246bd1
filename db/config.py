"""Settings of the persistence layer, read from the environment.

Every deployment knob lives here so that the app, the worker process and the tests build the same
object; invalid values are all reported at once, one sentence each, instead of failing later in
the middle of a run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.errors import ConfigError

# (attribute, environment variable, parser of the text)
_VARIABLES: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("database_url", "DATABASE_URL", str),
    ("redis_url", "REDIS_URL", str),
    ("data_dir", "DATA_DIR", lambda raw: Path(raw).expanduser()),
    ("retention_days", "RETENTION_DAYS", float),
    ("cleanup_interval_hours", "CLEANUP_INTERVAL_HOURS", float),
    ("max_concurrent_runs_per_user", "MAX_CONCURRENT_RUNS_PER_USER", int),
    ("max_upload_mb", "MAX_UPLOAD_MB", int),
    ("device", "DEVICE", lambda raw: raw.lower()),
    ("dask_scheduler_address", "DASK_SCHEDULER_ADDRESS", str),
    ("dask_workers", "DASK_WORKERS", int),
    ("dask_worker_memory", "DASK_WORKER_MEMORY", lambda raw: parse_size(raw)),
    ("run_time_limit_s", "RUN_TIME_LIMIT_S", float),
    ("worker_heartbeat_s", "WORKER_HEARTBEAT_S", float),
    ("worker_stale_s", "WORKER_STALE_S", float),
)

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """Bytes from ``2GiB``, ``1.5GB``, ``512 MiB`` or a plain number of bytes."""
    number = text.strip().rstrip("bBiIkKmMgGtT ")
    unit = text.strip()[len(number):].strip().lower()
    if unit not in _UNITS:
        raise ValueError(text)
    return int(float(number) * _UNITS[unit])


@dataclass(frozen=True)
class Settings:
    """Where metadata, samples and cache live, and the limits of the job runner.

    With no ``database_url`` the metadata is an SQLite file under ``data_dir``; with no
    ``redis_url`` the cache is in-process. Constructing it directly validates like ``from_env``.
    """

    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("data"))
    retention_days: float = 7
    cleanup_interval_hours: float = 6
    max_concurrent_runs_per_user: int = 2
    max_upload_mb: int = 500  # Streamlit's upload limit and the engine's file-size check
    device: str = "auto"  # cpu | cuda | auto: which machines runs may use (see services.setups)
    # The run cluster: a Dask scheduler's address, or None for a LocalCluster of
    # ``dask_workers`` processes that the worker service starts itself.
    dask_scheduler_address: str | None = None
    dask_workers: int = 2
    dask_worker_memory: int = 2 * 2**30  # bytes per Dask worker process; past it, a chunk fails
    run_time_limit_s: float = 3600.0  # wall time of one run, queueing excluded
    worker_heartbeat_s: float = 2.0  # how often the worker service says it holds its runs
    worker_stale_s: float = 30.0  # a holder silent this long is dead: its runs are requeued

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        problems = _problems(vars(self))
        if problems:
            raise ConfigError(problems)

    @property
    def sqlite_path(self) -> Path:
        """The embedded store's file, used when ``database_url`` is not set."""
        return self.data_dir / "metadata.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Settings from the variables in ``_VARIABLES``; an empty variable counts as unset.
        Raises ``ConfigError`` listing every invalid variable."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for attr, name, parse in _VARIABLES:
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                values[attr] = parse(raw)
            except ValueError:  # only numbers fail to parse: their text is safe to echo
                problems.append(f"{name} must be {_KINDS[attr]}, got {raw!r}.")
        problems += _problems(values)
        if problems:
            raise ConfigError(problems)
        return cls(**values)


_KINDS = {
    "database_url": "a postgresql:// URL",
    "redis_url": "a redis://, rediss:// or unix:// URL",
    "data_dir": "a directory",
    "retention_days": "a positive number of days",
    "cleanup_interval_hours": "a positive number of hours",
    "max_concurrent_runs_per_user": "a whole number of at least 1",
    "dask_scheduler_address": "a Dask address such as tcp://host:8786",
    "dask_workers": "a whole number of at least 1",
    "dask_worker_memory": "a size such as 2GiB or 1500MB",
    "run_time_limit_s": "a positive number of seconds",
    "worker_heartbeat_s": "a positive number of seconds",
    "worker_stale_s": "a positive number of seconds",
    "max_upload_mb": "a whole number of megabytes, at least 1",
    "device": "one of cpu, cuda, auto",
}
_WHOLE = ("max_concurrent_runs_per_user", "max_upload_mb", "dask_workers", "dask_worker_memory")
_DEVICES = ("cpu", "cuda", "auto")
_SCHEMES = {
    "database_url": ("postgresql://", "postgres://"),
    "redis_url": ("redis://", "rediss://", "unix://"),
    "dask_scheduler_address": ("tcp://", "tls://", "ucx://", "inproc://"),
}


def _problems(values: Mapping[str, Any]) -> list[str]:
    """One sentence per invalid value among ``values`` (attribute name -> value)."""
    names = {attr: name for attr, name, _ in _VARIABLES}
    problems = []
    for attr, value in values.items():
        if attr == "data_dir":  # any path will do: it is created on first use
            continue
        if attr in _SCHEMES:
            ok = value is None or (isinstance(value, str)
                                   and value.lower().startswith(_SCHEMES[attr]))
        elif attr == "device":
            ok = value in _DEVICES
        else:
            whole = attr in _WHOLE
            ok = (isinstance(value, int if whole else int | float) and not isinstance(value, bool)
                  and math.isfinite(value) and value > 0)
        if not ok:
            # URLs may carry a password: name the variable, never echo its value.
            shown = "" if attr in _SCHEMES else f", got {value!r}"
            problems.append(f"{names[attr]} must be {_KINDS[attr]}{shown}.")
    return problems
