"""``python -m services.serve``: start the app, the image's command and what ``make run`` runs.

In order: configure logging; check every variable the app reads and stop with one line per
problem (exit 2) rather than fail later in a page; wait for the database and bring its schema
up to date (an upgrade's migrations run here, once, under the store's migration lock; exit 3 if
the database stays unreachable); then run Streamlit as a child process with the port, address
and upload limit from the environment, forwarding SIGTERM/SIGINT to it and, with JSON logs,
turning each line it prints into a JSON log line (``services.logs.wrap_line``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from db.config import Settings
from db.errors import ConfigError, StoreError
from db.store import database_problem, open_store
from services.context import bootstrap_admin, secret_problems
from services.logs import (
    STREAMLIT_FORMAT,
    configure_logging,
    log_format,
    settings_problems,
    wrap_line,
)

log = logging.getLogger("xlsim.serve")

APP = Path(__file__).resolve().parent.parent / "app.py"
DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "127.0.0.1"  # the image sets ADDRESS=0.0.0.0; a laptop keeps it local
DATABASE_WAIT_S = 60.0  # PostgreSQL restarting beside the app is not a reason to give up


def port(env: Mapping[str, str]) -> int:
    """PORT, or 8501; `network_problems` has refused anything else before this is called."""
    raw = env.get("PORT", "").strip()
    return int(raw) if raw else DEFAULT_PORT


def network_problems(env: Mapping[str, str]) -> list[str]:
    raw = env.get("PORT", "").strip()
    if raw and not (raw.isdigit() and 1 <= int(raw) <= 65535):
        return [f"PORT must be a whole number from 1 to 65535, got {raw!r}."]
    return []


def environment_problems(env: Mapping[str, str]) -> list[str]:
    """Every problem with the environment, one sentence each, found in one pass."""
    problems: list[str] = []
    settings = None
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        problems += exc.problems
    problems += secret_problems(env) + settings_problems(env) + network_problems(env)
    if settings is not None and settings.device == "cuda":
        from engine.montecarlo.device import cuda_problem

        reason = cuda_problem()
        if reason:
            problems.append(f"DEVICE is cuda, but no GPU is usable here ({reason}); "
                            "use DEVICE=auto or cpu.")
    return problems


def prepare_store(settings: Settings, env: Mapping[str, str],
                  wait_s: float | None = None) -> None:
    """Wait while the database does not answer, then open the store once, which migrates it,
    and make sure an admin exists (a first start logs the generated password here). A failed
    migration is not retried: it changed nothing, and it will fail the same way again."""
    deadline = time.monotonic() + (DATABASE_WAIT_S if wait_s is None else wait_s)
    while settings.database_url and (problem := database_problem(settings)):
        if time.monotonic() >= deadline:
            raise StoreError(problem)
        log.warning("waiting for the database: %s", problem)
        time.sleep(2)
    with open_store(settings) as store:
        bootstrap_admin(store, env)


def streamlit_command(settings: Settings, env: Mapping[str, str]) -> list[str]:
    level = env.get("LOG_LEVEL", "").strip().lower() or "info"
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port(env)),
            "--server.address", env.get("ADDRESS", "").strip() or DEFAULT_ADDRESS,
            "--server.headless", "true",
            "--server.maxUploadSize", str(settings.max_upload_mb),
            "--logger.level", {"critical": "error"}.get(level, level),
            "--logger.messageFormat", STREAMLIT_FORMAT]


def supervise(command: list[str], wrap: bool) -> int:
    """Run ``command`` to its end, passing on SIGTERM and SIGINT; its exit status."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE if wrap else None,
                             stderr=subprocess.STDOUT if wrap else None, text=True, bufsize=1)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    if wrap and child.stdout is not None:
        level = "INFO"
        for line in child.stdout:
            if line.strip():
                text, level = wrap_line(line, level)
                print(text, flush=True)
    return child.wait()


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    configure_logging(env)
    problems = environment_problems(env)
    if problems:
        for problem in problems:
            log.error(problem)
        log.error("not started: %d configuration problem(s); .env.example documents every "
                  "variable", len(problems))
        return 2
    settings = Settings.from_env(env)
    try:
        prepare_store(settings, env)
    except StoreError as exc:
        log.error("not started: %s", exc)
        return 3
    log.info("starting the app", extra={
        "port": port(env), "database": "postgresql" if settings.database_url else "sqlite",
        "cache": "redis" if settings.redis_url else "in-process", "device": settings.device,
        "data_dir": str(settings.data_dir)})
    return supervise(streamlit_command(settings, env), wrap=log_format(env) == "json")


if __name__ == "__main__":
    sys.exit(main())
