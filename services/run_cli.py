"""``python -m services.runs``: submit, follow and cancel runs of the run ledger from a shell.

For scripts and CI on the server: the same settings as the app (DATABASE_URL, DATA_DIR, ...
from the environment), the same upload validation as the browser (services.workbooks
``save_upload``) and the same run definition as ``python -m engine run`` (its options, parsed
by engine.cli). A run submitted here is executed by the worker service (``python -m
services.worker``) like one started on the Run page, and ``wait`` prints what ``engine run
--json`` prints for it.

It is an operator's tool: ``submit`` acts for the user named by ``--user``, while ``status``,
``wait`` and ``cancel`` act as the system (db.entities SYSTEM_ACTOR) and reach every user's
runs. Exit status: 0 done or ok, 1 the run failed, was cancelled or did not end in time, 2 bad
input (unknown user or run, a file that is not a workbook, a bad option or environment
variable), with one sentence on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

from db.config import Settings
from db.entities import CHUNK_STATES, SYSTEM_ACTOR, Actor, RunRecord
from db.errors import ConfigError, StoreError
from db.store import Store, open_store
from engine.cli import add_run_arguments, run_definition
from engine.errors import WorkbookError
from services.runs import RunError, RunRequest, start_run
from services.runspec import settings_of
from services.workbooks import UploadError, save_upload

PROG = "python -m services.runs"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
POLL_S = 0.1  # how often ``wait`` reads the ledger


class CliError(Exception):
    """A request this command line refuses; ``str()`` is one sentence for stderr."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one sentence (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help).", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


@dataclass
class CliContext:
    """What ``save_upload`` and ``start_run`` use of the app's context: its settings and store.
    Not ``open_context``: a command line must not start the cleanup schedule, create an admin
    account or a cookie key, nor write log lines to stdout (where ``--json`` goes)."""

    settings: Settings
    store: Any

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"


class _NamingStore:
    """The store, with the run's display name given to ``create_run`` (``start_run`` takes
    none); everything else is the store's own."""

    def __init__(self, store: Store, name: str | None) -> None:
        self._store = store
        self._name = name

    def create_run(self, *args: Any, **kwargs: Any) -> RunRecord:
        return self._store.create_run(*args, name=self._name, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)


# ---------------------------------------------------------------------- commands

def _cmd_submit(args: argparse.Namespace, ctx: CliContext) -> int:
    user = ctx.store.get_user(args.user)
    if user is None:
        raise CliError(f"There is no user {args.user!r}: an admin creates accounts on the "
                       "Admin page.")
    if user.disabled:
        raise CliError(f"The user {user.username!r} is disabled.")
    actor = Actor.for_user(user)
    inputs, correlations = run_definition(args)
    settings: dict[str, Any] = {"var_level": args.var_level}
    if correlations:
        settings["correlations"] = [[a, b, rho] for (a, b), rho in correlations.items()]
    if args.percentiles:
        settings["percentiles"] = list(args.percentiles)
    if args.target is not None:
        settings["target"] = args.target
    if args.stop_tolerance is not None:
        settings["stop_tolerance"] = args.stop_tolerance
    request = RunRequest.from_setup({
        "inputs": inputs, "outputs": list(args.output), "settings": settings,
        "iterations": args.iterations, "seed": args.seed, "sampling": args.sampling,
        "device": args.device})
    try:  # what start_run checks too, here before anything is stored
        settings_of(request.spec, request.iterations, request.seed, request.sampling)
    except ValueError as exc:
        raise CliError(f"{exc}.") from None
    path = Path(args.book)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"Cannot open {args.book} ({exc.strerror or exc}).") from None
    workbook = save_upload(ctx, actor, path.name, data)
    record = start_run(CliContext(ctx.settings, _NamingStore(ctx.store, args.name)), actor,
                       workbook.id, request)
    if args.json:
        _print_json({"run_id": record.id})
    else:
        print(f"run {record.id} queued")
    return EXIT_OK


def _cmd_status(args: argparse.Namespace, ctx: CliContext) -> int:
    record = ctx.store.get_run(SYSTEM_ACTOR, args.run_id)
    chunks = dict.fromkeys(CHUNK_STATES, 0)
    for chunk in ctx.store.list_chunks(record.id):
        chunks[chunk.state] = chunks.get(chunk.state, 0) + 1
    done = int(record.iterations_done)
    if args.json:
        _print_json({"run_id": record.id, "status": record.status, "iterations_done": done,
                     "iterations": record.iterations, "chunks": chunks, "error": record.error})
        return EXIT_OK
    counts = ", ".join(f"{n} {state}" for state, n in chunks.items())
    print(f"run {record.id}: {record.status} · {done:,} of {record.iterations:,} iterations · "
          f"chunks: {counts}")
    if record.error:
        print(record.error)
    return EXIT_OK


def _cmd_wait(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.timeout is not None and not args.timeout >= 0:
        raise CliError(f"--timeout must be a number of seconds of at least 0, got "
                       f"{args.timeout}.")
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    record = ctx.store.get_run(SYSTEM_ACTOR, args.run_id)
    while record.active:
        if deadline is not None and time.monotonic() >= deadline:
            print(f"error: run {record.id} is still {record.status} after {args.timeout:g} s "
                  f"({int(record.iterations_done):,} of {record.iterations:,} iterations "
                  f"done); it goes on: wait again or cancel it.", file=sys.stderr)
            return EXIT_FAILED
        time.sleep(POLL_S if deadline is None else
                   max(0.0, min(POLL_S, deadline - time.monotonic())))
        record = ctx.store.get_run(SYSTEM_ACTOR, args.run_id)
    if record.status != "done":
        reason = (record.error or "no reason was recorded").rstrip(".")
        print(f"error: run {record.id} {record.status}: {reason}.", file=sys.stderr)
        return EXIT_FAILED
    summary = record.summary or {}
    if args.json:
        _print_json(summary)
    else:
        print(_report(summary))
    return EXIT_OK


def _cmd_cancel(args: argparse.Namespace, ctx: CliContext) -> int:
    asked = ctx.store.request_cancel(SYSTEM_ACTOR, args.run_id)
    record = ctx.store.get_run(SYSTEM_ACTOR, args.run_id)
    if not asked:
        print(f"error: run {record.id} had already ended ({record.status}); nothing to "
              "cancel.", file=sys.stderr)
        return EXIT_FAILED
    if record.status == "cancelled":
        print(f"run {record.id} cancelled (it was still queued)")
    else:
        print(f"run {record.id}: cancel requested; its worker stops it within a second or two")
    return EXIT_OK


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout)
    sys.stdout.write("\n")


def _report(summary: Mapping[str, Any]) -> str:
    """A finished run as ``engine run`` without ``--json`` prints it."""
    from engine.cli import _report as engine_report

    result = SimpleNamespace(
        iterations=summary.get("iterations", 0), seed=summary.get("seed"),
        sampling=summary.get("sampling"), elapsed_seconds=summary.get("elapsed_seconds") or 0.0,
        outputs=summary.get("outputs") or {}, warnings=summary.get("warnings") or [],
        sensitivity={label: (summary.get("sensitivity") or {}).get(label) or {}
                     for label in summary.get("outputs") or {}})
    return f"device: {summary.get('device', 'cpu')}\n{engine_report(result)}"


# ---------------------------------------------------------------------- parser and entry point

def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Submit, follow and cancel runs of the run ledger, with the app's settings "
                    "(DATABASE_URL, DATA_DIR, ... from the environment). An operator's tool on "
                    "the server: submit acts for --user, status/wait/cancel act as the system "
                    "and reach every user's runs. The worker service (python -m "
                    "services.worker) executes the runs.",
        epilog="exit status: 0 done or ok; 1 the run failed or was cancelled, cancel found it "
               "already ended, or wait timed out; 2 bad input (unknown user or run, not a "
               "workbook, a bad option or environment variable), one sentence on stderr.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = sub.add_parser(
        "submit", help="store BOOK as the user's upload and queue a run of it",
        description="Store BOOK as --user's upload (validated as in the browser) and queue a "
                    "run with the options of python -m engine run. Prints 'run N queued', or "
                    '{"run_id": N} with --json.')
    submit.add_argument("book", help=".xlsx or .xlsm file")
    add_run_arguments(submit)
    submit.add_argument("--user", required=True, metavar="NAME",
                        help="the user the upload and the run belong to (must exist)")
    submit.add_argument("--name", metavar="TEXT", help="the run's display name")
    submit.add_argument("--json", action="store_true", help='print {"run_id": N}')
    submit.set_defaults(run=_cmd_submit)

    status = sub.add_parser(
        "status", help="a run's state, iterations done and chunks by state",
        description="A run's state, iterations done of the total and its chunks by state "
                    "(queued, running, done, failed). Exit 0 whatever the state.")
    status.add_argument("run_id", type=int, metavar="RUN_ID")
    status.add_argument("--json", action="store_true",
                        help='{"run_id", "status", "iterations_done", "iterations", "chunks": '
                             '{state: n}, "error"}')
    status.set_defaults(run=_cmd_status)

    wait = sub.add_parser(
        "wait", help="wait for a run to end and print its results",
        description="Poll the ledger until the run ends. Done: print its results (with --json "
                    "the stored summary, exactly what python -m engine run --json prints) and "
                    "exit 0. Failed or cancelled: the run's error on stderr, exit 1. Still "
                    "queued or running after --timeout seconds: a sentence on stderr and exit "
                    "1; the run is left to go on (cancel it to stop it).")
    wait.add_argument("run_id", type=int, metavar="RUN_ID")
    wait.add_argument("--timeout", type=float, metavar="S",
                      help="give up after S seconds (exit 1); default: wait as long as it takes")
    wait.add_argument("--json", action="store_true", help="the results as one JSON object")
    wait.set_defaults(run=_cmd_wait)

    cancel = sub.add_parser(
        "cancel", help="stop a queued or running run",
        description="Ask a run to stop: a queued one is cancelled at once, a running one by its "
                    "worker within a second or two. Exit 0 when asked, 1 when the run had "
                    "already ended.")
    cancel.add_argument("run_id", type=int, metavar="RUN_ID")
    cancel.set_defaults(run=_cmd_cancel)
    return ap


def _open(env: Mapping[str, str]) -> CliContext:
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        raise CliError(" ".join(exc.problems)) from None
    try:
        store = open_store(settings)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    except (OSError, sqlite3.Error) as exc:
        raise CliError(f"Cannot open the metadata database {settings.sqlite_path}: "
                       f"{exc}.") from None
    return CliContext(settings, store)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad option already reported (2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        ctx = _open(os.environ if env is None else env)
        try:
            return args.run(args, ctx)
        finally:
            ctx.store.close()
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except (StoreError, RunError, UploadError, WorkbookError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted; a submitted run goes on (cancel it to stop it).",
              file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT
