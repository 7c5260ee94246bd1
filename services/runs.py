"""Starting runs and reading their progress, for the Runs page (Streamlit-free).

A run never executes inside the Streamlit script: ``start_run`` records it in the store and
hands it to the context's worker pool (``ctx.runs.submit``); the page only polls the run's row.
Progress is derived from what the worker records (a fraction and the start time), so it is the
same whichever tab or process asks, and the page can be left and reopened at any time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from db.entities import Actor, RunRecord
from db.errors import StoreError
from db.jobs import SIMULATION_SHARE, engine_version
from services import formatting as fmt
from services.context import AppContext

SAMPLINGS = ("mc", "lhs")
DEVICES = ("cpu", "cuda", "auto")
MAX_ITERATIONS = 100_000_000  # engine.montecarlo.simulate.MAX_ITERATIONS, without importing numba
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
    """Record a queued run of ``workbook_id`` for ``actor`` and submit it to the worker pool.

    Raises RunError when the set-up is invalid or the user already has as many runs going as
    allowed (the refused run is kept, cancelled with the reason, so the list explains it)."""
    request = setup if isinstance(setup, RunRequest) else RunRequest.from_setup(setup)
    request.validate()
    try:
        record = ctx.store.create_run(actor, workbook_id, request.spec, request.seed,
                                      request.iterations, request.sampling, request.device,
                                      engine_version())
        ctx.runs.submit(actor, record.id)
    except StoreError as exc:  # LimitReached, a workbook the user may not read, bad values
        raise RunError(str(exc)) from exc
    return ctx.store.get_run(actor, record.id)


def cancel_run(ctx: AppContext, actor: Actor, run_id: int) -> bool:
    """Ask a run to stop; False when it had already ended."""
    return ctx.runs.cancel(actor, run_id)


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
                parts.append("writing the samples")
            elif self.speed:
                parts += [fmt.rate(self.speed), f"{fmt.duration(self.remaining_s)} left"]
        elif self.elapsed_s is not None:
            parts.append(f"{self.status} after {fmt.duration(self.elapsed_s)}")
        return " · ".join(parts)


def progress_of(record: RunRecord, now: datetime | None = None) -> RunProgress:
    """Iterations done, speed and time left, from the run's recorded progress.

    The worker gives the iterations ``SIMULATION_SHARE`` of the bar and writing the samples the
    rest, so iterations done are the recorded fraction over that share."""
    now = now or datetime.now(UTC)
    total = int(record.iterations)
    end = record.finished or now
    elapsed = (end - record.started).total_seconds() if record.started else None
    if record.status == "done":
        done = total
    else:
        done = min(total, round(record.progress / SIMULATION_SHARE * total))
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
