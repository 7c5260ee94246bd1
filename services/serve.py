"""``python -m services.serve``: start the app, the image's command and what ``make run`` runs.

In order: configure logging; check every variable the app reads and stop with one line per
problem (exit 2) rather than fail later in a page; wait for the database and bring its schema
up to date (an upgrade's migrations run here, once, under the store's migration lock; exit 3 if
the database stays unreachable); then run Streamlit as a child process with the port, address
and upload limit from the environment, forwarding SIGTERM/SIGINT to it and, with JSON logs,
turning each line it prints into a JSON log line (``services.logs.wrap_line``). With
``--with-worker`` (``make run``) the worker service runs beside it, on a LocalCluster of its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
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


def worker_command() -> list[str]:
    """The embedded worker service (``make run``): it starts its own LocalCluster unless
    DASK_SCHEDULER_ADDRESS names one."""
    return [sys.executable, "-m", "services.worker"]


def supervise(command: list[str], wrap: bool, companions: Sequence[list[str]] = ()) -> int:
    """Run ``command`` to its end, with ``companions`` beside it (the embedded worker),
    passing SIGTERM and SIGINT to all; when one of them ends, the others are stopped too, so
    one Ctrl-C or one crash never leaves half a server. Returns ``command``'s exit status."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE if wrap else None,
                             stderr=subprocess.STDOUT if wrap else None, text=True, bufsize=1)
    others = [subprocess.Popen(c) for c in companions]
    everyone = [child, *others]

    def forward(signum: int, _frame: FrameType | None) -> None:
        for process in everyone:
            if process.poll() is None:
                process.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    watcher = threading.Thread(target=_stop_all_when_one_ends, args=(everyone,), daemon=True)
    watcher.start()
    if wrap and child.stdout is not None:
        level = "INFO"
        for line in child.stdout:
            if line.strip():
                text, level = wrap_line(line, level)
                print(text, flush=True)
    status = child.wait()
    for process in others:
        process.wait()
    return status


def _stop_all_when_one_ends(processes: list[subprocess.Popen]) -> None:
    while all(p.poll() is None for p in processes):
        time.sleep(0.2)
    for p in processes:
        if p.poll() is None:
            p.terminate()


def main(env: Mapping[str, str] | None = None, argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.serve")
    parser.add_argument("--with-worker", action="store_true",
                        help="also start the worker service (make run: one command, one "
                             "Ctrl-C for both)")
    with_worker = parser.parse_args(argv).with_worker
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
    companions = [worker_command()] if with_worker else []
    return supervise(streamlit_command(settings, env), wrap=log_format(env) == "json",
                     companions=companions)


if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:]))
