"""Settings from the environment: defaults, every variable, and all problems reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.config import Settings
from db.errors import ConfigError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url is None and settings.redis_url is None
    assert settings.data_dir == Path("data")
    assert settings.sqlite_path == Path("data/metadata.sqlite3")
    assert (settings.retention_days, settings.cleanup_interval_hours) == (7, 6)
    assert (settings.max_concurrent_runs_per_user, settings.dask_workers) == (2, 2)


def test_every_variable_is_read() -> None:
    settings = Settings.from_env({
        "DATABASE_URL": "postgresql://app:secret@db:5432/xlsim",
        "REDIS_URL": "redis://cache:6379/1",
        "DATA_DIR": "~/xlsim-data",
        "RETENTION_DAYS": "0.5",
        "CLEANUP_INTERVAL_HOURS": "1",
        "MAX_CONCURRENT_RUNS_PER_USER": "5",
        "DASK_WORKERS": " 8 ",
        "UNRELATED": "ignored",
    })
    assert settings.database_url == "postgresql://app:secret@db:5432/xlsim"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.data_dir == Path("~/xlsim-data").expanduser()
    assert settings.retention_days == 0.5 and settings.cleanup_interval_hours == 1.0
    assert settings.max_concurrent_runs_per_user == 5 and settings.dask_workers == 8


def test_empty_variables_count_as_unset() -> None:
    env = {name: "" for name in ("DATABASE_URL", "REDIS_URL", "DATA_DIR", "RETENTION_DAYS",
                                 "CLEANUP_INTERVAL_HOURS", "MAX_CONCURRENT_RUNS_PER_USER",
                                 "DASK_WORKERS")}
    assert Settings.from_env(env) == Settings()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({
            "DATABASE_URL": "mysql://root:hunter2@db/x",
            "REDIS_URL": "http://cache",
            "RETENTION_DAYS": "-1",
            "CLEANUP_INTERVAL_HOURS": "nan",
            "MAX_CONCURRENT_RUNS_PER_USER": "2.5",
            "DASK_WORKERS": "0",
        })
    problems = caught.value.problems
    assert len(problems) == 6
    assert str(caught.value) == "\n".join(problems)
    assert problems == [
        "MAX_CONCURRENT_RUNS_PER_USER must be a whole number of at least 1, got '2.5'.",
        "DATABASE_URL must be a postgresql:// URL.",
        "REDIS_URL must be a redis://, rediss:// or unix:// URL.",
        "RETENTION_DAYS must be a positive number of days, got -1.0.",
        "CLEANUP_INTERVAL_HOURS must be a positive number of hours, got nan.",
        "DASK_WORKERS must be a whole number of at least 1, got 0.",
    ]
    assert "hunter2" not in str(caught.value)  # URLs may hold passwords: never echoed


@pytest.mark.parametrize(("name", "value"), [
    ("RETENTION_DAYS", "a week"), ("RETENTION_DAYS", "inf"), ("RETENTION_DAYS", "0"),
    ("CLEANUP_INTERVAL_HOURS", "-6"), ("DASK_WORKERS", "two"), ("DASK_WORKERS", "-1"),
    ("MAX_CONCURRENT_RUNS_PER_USER", "0"),
])
def test_one_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(name)


def test_direct_construction_is_validated_too(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), dask_workers=4)  # type: ignore[arg-type]
    assert settings.data_dir == tmp_path and settings.sqlite_path.parent == tmp_path
    with pytest.raises(ConfigError, match="DASK_WORKERS"):
        Settings(dask_workers=True)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings(database_url="sqlite:///x.db")
    assert Settings(database_url="postgres://h/db").database_url == "postgres://h/db"


def test_the_run_cluster_settings_are_read_and_checked():
    settings = Settings.from_env({"DASK_SCHEDULER_ADDRESS": "tcp://scheduler:8786",
                                  "DASK_WORKER_MEMORY": "1.5GiB", "RUN_TIME_LIMIT_S": "90",
                                  "WORKER_STALE_S": "5"})
    assert settings.dask_scheduler_address == "tcp://scheduler:8786"
    assert settings.dask_worker_memory == 3 * 2**29
    assert (settings.run_time_limit_s, settings.worker_stale_s) == (90.0, 5.0)
    assert Settings.from_env({"DASK_WORKER_MEMORY": "512 MB"}).dask_worker_memory == 512 * 10**6
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DASK_SCHEDULER_ADDRESS": "http://scheduler:8786",
                           "DASK_WORKER_MEMORY": "plenty", "WORKER_HEARTBEAT_S": "0"})
    assert str(caught.value).count("\n") == 2  # one sentence each
    assert "DASK_WORKER_MEMORY must be a size such as 2GiB" in str(caught.value)
