"""Starting runs and reading their progress, for the Runs page (Streamlit-free).

A run never executes in the app: ``start_run`` writes it and its chunks to the run ledger in
one transaction, and the worker service (services.worker) takes it from there, in another
process or on another machine. Progress is what the ledger says (iterations of finished
chunks, the start time), so it is the same whichever tab, app replica or process asks, and a
page can be left, reloaded or opened after an app restart at any time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from db.entities import Actor, RunRecord  # Actor: also the pages' name for who acts
from db.errors import StoreError
from engine.montecarlo.settings import MAX_ITERATIONS
from engine.version import engine_version
from services import formatting as fmt
from services.context import AppContext
from services.runspec import settings_of

SAMPLINGS = ("mc", "lhs")
DEVICES = ("cpu", "cuda", "auto")
MAX_SEED = 2 ** 63 - 1


class RunError(ValueError):
    """A run that cannot be started; the message is one sentence for the user."""


@dataclass(frozen=True)
class RunRequest:
    """What a run needs besides its workbook: the spec stored with the run (inputs, outputs,
    settings) and the run's own columns."""

    spec: dict[str, Any]
    iterations: int
    seed: int
    sampling: str
    device: str

    @classmethod
    def from_setup(cls, setup: Any) -> RunRequest:
        """From engineer B's set-up object (``to_run_spec()`` plus iterations, seed, sampling
        and device attributes) or a plain mapping in the run-spec format with those keys."""
        if isinstance(setup, Mapping):
            data = dict(setup)
            spec = {"inputs": dict(data.get("inputs") or {}),
                    "outputs": list(data.get("outputs") or []),
                    "settings": dict(data.get("settings") or {})}
        else:
            spec = setup.to_run_spec()
            data = {k: getattr(setup, k) for k in ("iterations", "seed", "sampling", "device")}
        request = cls(spec=spec, iterations=data.get("iterations", 10_000),
                      seed=data.get("seed", 1), sampling=data.get("sampling", "mc"),
                      device=data.get("device", "cpu"))
        request.validate()
        return request

    def validate(self) -> None:
        """Refuse what the store or the engine would refuse later, with a message for the page
        instead of a failed run."""
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) \
                or not 1 <= self.iterations <= MAX_ITERATIONS:
            raise RunError(f"Iterations must be a whole number from 1 to {MAX_ITERATIONS:,}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed <= MAX_SEED:
            raise RunError("The seed must be a whole number from 0 to 2**63-1.")
        if self.sampling not in SAMPLINGS:
            raise RunError("Sampling must be Monte Carlo (mc) or Latin hypercube (lhs).")
        if self.device not in DEVICES:
            raise RunError("The device must be cpu, cuda or auto.")


def start_run(ctx: AppContext, actor: Actor, workbook_id: int, setup: Any) -> RunRecord:
    """Queue a run of ``workbook_id`` for ``actor``: the run and its chunks in the ledger.

    Raises RunError when the set-up is invalid or the user already has as many runs queued or
    running as allowed (nothing is written then)."""
    request = setup if isinstance(setup, RunRequest) else RunRequest.from_setup(setup)
    request.validate()
    try:
        step = settings_of(request.spec, request.iterations, request.seed,
                           request.sampling).step()
    except ValueError as exc:
        raise RunError(str(exc)) from exc
    try:
        return ctx.store.create_run(actor, workbook_id, request.spec, request.seed,
                                    request.iterations, request.sampling, request.device,
                                    engine_version(), chunk_size=step,
                                    max_active=ctx.settings.max_concurrent_runs_per_user)
    except StoreError as exc:  # LimitReached, a workbook the user may not read, bad values
        raise RunError(str(exc)) from exc


def cancel_run(ctx: AppContext, actor: Actor, run_id: int) -> bool:
    """Ask a run to stop (a queued one stops at once, a running one within a second or
    two); False when it had already ended."""
    return ctx.store.request_cancel(actor, run_id)


@dataclass(frozen=True)
class RunProgress:
    """A run's progress as the page shows it."""

    status: str
    fraction: float  # 0..1, for the progress bar
    done: int  # iterations done (estimated from the recorded fraction while running)
    total: int
    elapsed_s: float | None
    speed: float | None  # iterations per second
    remaining_s: float | None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def text(self) -> str:
        """``"45,000 of 100,000 iterations · 30,000 iterations/s · 1.8 s left"``."""
        parts = [f"{fmt.integer(self.done)} of {fmt.integer(self.total)} iterations"]
        if self.status == "queued":
            parts.append("waiting for a worker")
        elif self.status == "running":
            if self.done >= self.total:
                parts.append("merging the results")
            elif self.speed:
                parts += [fmt.rate(self.speed), f"{fmt.duration(self.remaining_s)} left"]
        elif self.elapsed_s is not None:
            parts.append(f"{self.status} after {fmt.duration(self.elapsed_s)}")
        return " · ".join(parts)


def progress_of(record: RunRecord, now: datetime | None = None) -> RunProgress:
    """Iterations done (those of the finished chunks), speed and time left."""
    now = now or datetime.now(UTC)
    total = int(record.iterations)
    end = record.finished or now
    elapsed = (end - record.started).total_seconds() if record.started else None
    done = total if record.status == "done" else min(total, int(record.iterations_done))
    speed = done / elapsed if elapsed and done else None
    remaining = (total - done) / speed if speed and record.status == "running" else None
    return RunProgress(record.status, min(1.0, max(0.0, record.progress)), done, total,
                       elapsed, speed, remaining)


def run_label(record: RunRecord, workbook_name: str | None = None, *,
              with_status: bool = True) -> str:
    """One line naming a run in pickers: ``"Run 7 · model.xlsx · 100,000 iterations · done"``.
    A picker whose runs change status while it is shown leaves the status out: the browser
    keeps an open select box's labels until the user picks again."""
    parts = [f"Run {record.id}"]
    if workbook_name:
        parts.append(workbook_name)
    parts.append(f"{fmt.integer(record.iterations)} iterations")
    if with_status:
        parts.append(record.status)
    return " · ".join(parts)


def workbook_names(ctx: AppContext, actor: Actor) -> dict[int, str]:
    """Workbook id -> file name, for labelling the actor's runs."""
    return {w.id: w.filename for w in ctx.store.list_workbooks(actor)}


if __name__ == "__main__":
    from services.run_cli import main

    raise SystemExit(main())
