"""``python -m db.worker RUN_ID``: execute one queued run in a process of its own.

The same ``execute_run`` as the app's thread pool, configured from the environment (DATABASE_URL,
DATA_DIR, REDIS_URL), so a run can be isolated in a process that may die without taking the app
with it, and so the crash test can SIGKILL a real run in the middle of writing its samples.
SIGTERM is a polite stop: the run ends interrupted at its next chunk. Exit status: 0 when the
run is done, 1 when it ended otherwise, 2 when it could not be started.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from db.cache import open_cache
from db.config import Settings
from db.entities import SYSTEM_ACTOR
from db.errors import ConfigError, StoreError
from db.jobs import Cancelled, execute_run
from db.samples import SampleFiles
from db.store import open_store
from services.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db.worker",
                                     description="Execute one queued run.")
    parser.add_argument("run_id", type=int)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    stop: list[Cancelled] = []

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        stop.append(Cancelled("interrupted", "the worker was stopped before the run finished"))

    signal.signal(signal.SIGTERM, on_sigterm)
    store = open_store(settings)
    try:
        record = store.get_run(SYSTEM_ACTOR, args.run_id)
        if record.status != "queued":
            print(f"worker: run {record.id} is {record.status}; only a queued run can be "
                  "started", file=sys.stderr)
            return 2
        workbook = store.get_workbook(SYSTEM_ACTOR, record.workbook_id)
        status = execute_run(store, SampleFiles(settings.data_dir), record,
                             workbook.stored_path, workbook.content_hash,
                             stop=lambda: stop[0] if stop else None,
                             cache=open_cache(settings) if settings.redis_url else None)
    except StoreError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"run {args.run_id}: {status}")
    return 0 if status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
