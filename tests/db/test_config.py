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
    assert (settings.max_concurrent_runs_per_user, settings.workers) == (2, 2)


def test_every_variable_is_read() -> None:
    settings = Settings.from_env({
        "DATABASE_URL": "postgresql://app:secret@db:5432/xlsim",
        "REDIS_URL": "redis://cache:6379/1",
        "DATA_DIR": "~/xlsim-data",
        "RETENTION_DAYS": "0.5",
        "CLEANUP_INTERVAL_HOURS": "1",
        "MAX_CONCURRENT_RUNS_PER_USER": "5",
        "WORKERS": " 8 ",
        "UNRELATED": "ignored",
    })
    assert settings.database_url == "postgresql://app:secret@db:5432/xlsim"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.data_dir == Path("~/xlsim-data").expanduser()
    assert settings.retention_days == 0.5 and settings.cleanup_interval_hours == 1.0
    assert settings.max_concurrent_runs_per_user == 5 and settings.workers == 8


def test_empty_variables_count_as_unset() -> None:
    env = {name: "" for name in ("DATABASE_URL", "REDIS_URL", "DATA_DIR", "RETENTION_DAYS",
                                 "CLEANUP_INTERVAL_HOURS", "MAX_CONCURRENT_RUNS_PER_USER",
                                 "WORKERS")}
    assert Settings.from_env(env) == Settings()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({
            "DATABASE_URL": "mysql://root:hunter2@db/x",
            "REDIS_URL": "http://cache",
            "RETENTION_DAYS": "-1",
            "CLEANUP_INTERVAL_HOURS": "nan",
            "MAX_CONCURRENT_RUNS_PER_USER": "2.5",
            "WORKERS": "0",
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
        "WORKERS must be a whole number of at least 1, got 0.",
    ]
    assert "hunter2" not in str(caught.value)  # URLs may hold passwords: never echoed


@pytest.mark.parametrize(("name", "value"), [
    ("RETENTION_DAYS", "a week"), ("RETENTION_DAYS", "inf"), ("RETENTION_DAYS", "0"),
    ("CLEANUP_INTERVAL_HOURS", "-6"), ("WORKERS", "two"), ("WORKERS", "-1"),
    ("MAX_CONCURRENT_RUNS_PER_USER", "0"),
])
def test_one_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(name)


def test_direct_construction_is_validated_too(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), workers=4)  # type: ignore[arg-type]
    assert settings.data_dir == tmp_path and settings.sqlite_path.parent == tmp_path
    with pytest.raises(ConfigError, match="WORKERS"):
        Settings(workers=True)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings(database_url="sqlite:///x.db")
    assert Settings(database_url="postgres://h/db").database_url == "postgres://h/db"
