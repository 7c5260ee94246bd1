"""RunService on both stores: runs end done with complete samples, fail with their message, report
progress, can be cancelled, respect the per-user limit and ownership, and a new service marks
what an old one left behind as interrupted."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from db.cache import MemoryCache, model_key
from db.config import Settings
from db.entities import Actor
from db.errors import PermissionDenied, StoreError
from db.jobs import LimitReached, RunService, engine_version, jsonable, run_settings
from db.samples import SampleFiles
from db.store import Store
from tests.db.runs import queue_run, upload

TWO_CHUNKS = (1 << 20) + 1000  # the engine reports progress after each chunk of 2**20


class GatedStore:
    """The store, except that ``update_progress`` waits for ``go``: a test can hold a run
    between two chunks, with ``reached`` telling it the run got there."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reached = threading.Event()
        self.go = threading.Event()
        self.progress: list[tuple[int, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def update_progress(self, run_id: int, progress: float) -> None:
        self.progress.append((run_id, progress))
        self.reached.set()
        assert self.go.wait(60), "the test never released the run"
        self._store.update_progress(run_id, progress)


@pytest.fixture
def data_dir(store_settings: Settings) -> Path:
    return store_settings.data_dir


@pytest.fixture
def samples(data_dir: Path) -> SampleFiles:
    return SampleFiles(data_dir)


@pytest.fixture
def gated(store: Store) -> Iterator[GatedStore]:
    gate = GatedStore(store)
    yield gate
    gate.go.set()  # never leave a worker thread waiting


def service_for(store: Any, samples: SampleFiles, settings: Settings, **limits: int
                ) -> RunService:
    return RunService(store, samples, dataclasses.replace(settings, **limits))


def test_a_run_ends_done_with_its_samples_and_summary(store: Store, store_settings: Settings,
                                                      samples: SampleFiles, actor: Actor,
                                                      admin_actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    service = RunService(store, samples, store_settings)
    run = queue_run(store, actor, workbook, 5000, device="auto")
    try:
        assert service.submit(actor, run.id).result(120) == "done"
    finally:
        service.shutdown()
    done = store.get_run(actor, run.id)
    assert done.status == "done" and done.progress == 1.0 and done.error is None
    assert done.started is not None and done.finished is not None
    assert done.finished >= done.started >= done.created
    assert done.samples_path == str(samples.path_for(run.id))
    table = pq.read_table(done.samples_path)
    assert table.num_rows == 5000
    assert table.column_names == ["iteration", "Sheet1!A1", "Sheet1!A2"]
    a1 = table["Sheet1!A1"].to_numpy()
    assert np.allclose(table["Sheet1!A2"].to_numpy(), a1 * 2)
    output = done.summary["outputs"]["Sheet1!A2"]
    assert output["mean"] == pytest.approx(200, abs=1.5)
    assert output["std"] == pytest.approx(20, rel=0.05)
    assert done.summary["iterations"] == 5000 and done.summary["seed"] == 7
    assert done.summary["device"] in ("cpu", "cuda")  # "auto": the GPU where there is one
    assert "Sheet1!A1" in done.summary["sensitivity"]["Sheet1!A2"]["inputs"]
    actions = [e.action for e in store.list_audit(admin_actor)]
    assert "run.start" in actions
    assert not service.active()


def test_spec_inputs_outputs_and_settings_are_used(store: Store, store_settings: Settings,
                                                   samples: SampleFiles, actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir, cells={
        "A1": "=RiskNormal(100,10)", "B1": "=RiskNormal(50,5)", "C1": "=RiskOutput()+A1+B1",
        "D1": "=A1*2"})
    correlated = {"inputs": {}, "outputs": [], "settings": {
        "correlations": [["Sheet1!A1", "Sheet1!B1", 0.9]], "percentiles": [5, 50, 95],
        "target": 150, "var_level": 0.9}}
    overridden = {"inputs": {"Sheet1!A1": "uniform(0,1)"}, "outputs": ["Sheet1!D1"],
                  "settings": {}}
    service = service_for(store, samples, store_settings, max_concurrent_runs_per_user=3)
    runs = [queue_run(store, actor, workbook, 4000, spec=correlated, sampling="lhs"),
            queue_run(store, actor, workbook, 4000, spec=overridden),
            queue_run(store, actor, workbook, 4000, spec=overridden)]
    try:
        futures = [service.submit(actor, r.id) for r in runs]
        assert [f.result(120) for f in futures] == ["done"] * 3
    finally:
        service.shutdown()
    first, second, third = (store.get_run(actor, r.id) for r in runs)
    table = pq.read_table(first.samples_path)
    a, b = table["Sheet1!A1"].to_numpy(), table["Sheet1!B1"].to_numpy()
    ranks = np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1]
    assert ranks == pytest.approx(0.9, abs=0.03)
    c1 = first.summary["outputs"]["Sheet1!C1"]
    assert set(c1["percentiles"]) == {"5", "50", "95"}
    assert first.summary["sampling"] == "lhs" and c1["var_level"] == 0.9
    d1 = second.summary["outputs"]["Sheet1!D1"]
    assert list(second.summary["outputs"]) == ["Sheet1!D1"]
    assert d1["mean"] == pytest.approx(1.0, abs=0.05)  # 2 * uniform(0, 1)
    assert d1["max"] <= 2
    assert third.summary["outputs"] == second.summary["outputs"]  # same seed, same numbers


def test_error_iterations_are_kept_in_the_samples(store: Store, store_settings: Settings,
                                                  samples: SampleFiles, actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir, cells={
        "A1": "=RiskUniform(0,1)", "A2": "=RiskOutput()+IF(A1<0.25,1/0,A1)"})
    service = RunService(store, samples, store_settings)
    run = queue_run(store, actor, workbook, 4000)
    try:
        assert service.submit(actor, run.id).result(120) == "done"
    finally:
        service.shutdown()
    done = store.get_run(actor, run.id)
    output = done.summary["outputs"]["Sheet1!A2"]
    assert output["errors"] == pytest.approx(1000, abs=120)
    assert output["error_kinds"] == {"#DIV/0!": output["errors"]}
    table = pq.read_table(done.samples_path)
    assert table["Sheet1!A2 error"].to_pylist().count("#DIV/0!") == output["errors"]
    assert table["Sheet1!A2"].null_count == output["errors"]


@pytest.mark.parametrize("problem", ["no such sheet", "unknown setting", "unknown device",
                                     "missing file", "bad distribution"])
def test_failures_are_recorded_with_their_message(problem: str, store: Store,
                                                  store_settings: Settings,
                                                  samples: SampleFiles, actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    spec: dict[str, Any] = {"inputs": {}, "outputs": [], "settings": {}}
    device = "cpu"
    expected = {"no such sheet": "no sheet 'Nope'",
                "unknown setting": "unknown run setting bogus",
                "unknown device": "device must be one of cpu, cuda, auto",
                "missing file": "model.xlsx is missing",
                "bad distribution": "Sheet1!A1"}[problem]
    if problem == "no such sheet":
        spec["outputs"] = ["Nope!A1"]
    elif problem == "unknown setting":
        spec["settings"] = {"bogus": 1}
    elif problem == "unknown device":
        device = "tpu"
    elif problem == "missing file":
        Path(workbook.stored_path).unlink()
    else:
        spec["inputs"] = {"Sheet1!A1": "normal(100,-1)"}
    service = RunService(store, samples, store_settings)
    run = queue_run(store, actor, workbook, 1000, spec=spec, device=device)
    try:
        assert service.submit(actor, run.id).result(120) == "failed"
    finally:
        service.shutdown()
    failed = store.get_run(actor, run.id)
    assert failed.status == "failed" and failed.finished is not None
    assert expected.lower() in (failed.error or "").lower(), failed.error
    assert failed.samples_path is None and not samples.exists(run.id)


def test_progress_is_reported_and_cancel_stops_between_chunks(
        store: Store, gated: GatedStore, store_settings: Settings, samples: SampleFiles,
        actor: Actor, admin_actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    service = RunService(gated, samples, store_settings)
    run = queue_run(store, actor, workbook, TWO_CHUNKS)
    try:
        future = service.submit(actor, run.id)
        assert gated.reached.wait(60)
        running = store.get_run(actor, run.id)
        assert running.status == "running" and running.started is not None
        assert service.active() == [run.id]
        assert service.cancel(actor, run.id)
        gated.go.set()
        assert future.result(60) == "cancelled"
    finally:
        service.shutdown()
    cancelled = store.get_run(actor, run.id)
    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by the user"
    assert 0 < cancelled.progress < 1
    assert gated.progress == [(run.id, pytest.approx(0.9 * (1 << 20) / TWO_CHUNKS))]
    assert not samples.exists(run.id) and cancelled.samples_path is None
    assert "run.cancel" in [e.action for e in store.list_audit(admin_actor)]
    assert not service.cancel(actor, run.id)  # already ended


def test_progress_rises_to_done(store: Store, gated: GatedStore, store_settings: Settings,
                                samples: SampleFiles, actor: Actor) -> None:
    gated.go.set()
    workbook = upload(store, actor, store_settings.data_dir)
    service = RunService(gated, samples, store_settings)
    run = queue_run(store, actor, workbook, TWO_CHUNKS)
    try:
        assert service.submit(actor, run.id).result(120) == "done"
    finally:
        service.shutdown()
    values = [p for _, p in gated.progress]
    assert values == sorted(values) and len(values) == 2 and values[-1] == pytest.approx(0.9)
    assert store.get_run(actor, run.id).progress == 1.0


def test_a_queued_run_can_be_cancelled_before_it_starts(
        store: Store, gated: GatedStore, store_settings: Settings, samples: SampleFiles,
        actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    service = service_for(gated, samples, store_settings, workers=1,
                          max_concurrent_runs_per_user=5)
    first = queue_run(store, actor, workbook, TWO_CHUNKS)
    second = queue_run(store, actor, workbook, 1000)
    never_submitted = queue_run(store, actor, workbook, 1000)
    try:
        running = service.submit(actor, first.id)
        assert gated.reached.wait(60)
        waiting = service.submit(actor, second.id)  # behind the first: one worker
        assert service.cancel(actor, second.id)
        assert waiting.cancelled()
        assert service.cancel(actor, never_submitted.id)
        gated.go.set()
        assert running.result(120) == "done"
    finally:
        service.shutdown()
    assert store.get_run(actor, second.id).status == "cancelled"
    assert store.get_run(actor, never_submitted.id).status == "cancelled"
    assert store.get_run(actor, first.id).status == "done"


def test_the_per_user_limit(store: Store, gated: GatedStore, store_settings: Settings,
                            samples: SampleFiles, actor: Actor, other_actor: Actor) -> None:
    mine = upload(store, actor, store_settings.data_dir)
    theirs = upload(store, other_actor, store_settings.data_dir)
    service = service_for(gated, samples, store_settings, workers=2,
                          max_concurrent_runs_per_user=1)
    first = queue_run(store, actor, mine, TWO_CHUNKS)
    refused = queue_run(store, actor, mine, 1000)
    other = queue_run(store, other_actor, theirs, 1000)
    try:
        running = service.submit(actor, first.id)
        assert gated.reached.wait(60)
        with pytest.raises(LimitReached, match="limit is 1"):
            service.submit(actor, refused.id)
        status = store.get_run(actor, refused.id)
        assert status.status == "cancelled" and "limit" in (status.error or "")
        theirs_future = service.submit(other_actor, other.id)  # another user is not limited
        gated.go.set()
        assert running.result(120) == "done" and theirs_future.result(120) == "done"
        later = queue_run(store, actor, mine, 1000)  # the slot is free again
        assert service.submit(actor, later.id).result(120) == "done"
    finally:
        service.shutdown()


def test_ownership_is_enforced(store: Store, store_settings: Settings, samples: SampleFiles,
                               actor: Actor, other_actor: Actor, admin_actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    service = RunService(store, samples, store_settings)
    run = queue_run(store, actor, workbook, 1000)
    try:
        with pytest.raises(PermissionDenied):
            service.submit(other_actor, run.id)
        with pytest.raises(PermissionDenied):
            service.cancel(other_actor, run.id)
        assert store.get_run(actor, run.id).status == "queued"
        assert service.submit(admin_actor, run.id).result(120) == "done"  # admins may
        with pytest.raises(StoreError, match="only a queued run"):
            service.submit(actor, run.id)
    finally:
        service.shutdown()


def test_a_new_service_marks_leftover_runs_interrupted(store: Store, store_settings: Settings,
                                                       samples: SampleFiles,
                                                       actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    queued = queue_run(store, actor, workbook)
    running = queue_run(store, actor, workbook)
    store.set_run_status(running.id, "running", progress=0.3)
    service = RunService(store, samples, store_settings)
    service.shutdown()
    assert service.interrupted == [queued.id, running.id]
    for run_id in service.interrupted:
        record = store.get_run(actor, run_id)
        assert record.status == "interrupted" and record.error


def test_shutdown_interrupts_a_running_run(store: Store, gated: GatedStore,
                                           store_settings: Settings, samples: SampleFiles,
                                           actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    service = RunService(gated, samples, store_settings)
    run = queue_run(store, actor, workbook, TWO_CHUNKS)
    future = service.submit(actor, run.id)
    assert gated.reached.wait(60)
    service.shutdown(wait=False)
    gated.go.set()
    assert future.result(60) == "interrupted"
    assert store.get_run(actor, run.id).status == "interrupted"
    assert not samples.exists(run.id)


def test_loaded_workbooks_are_cached_by_hash_and_engine_version(
        store: Store, store_settings: Settings, samples: SampleFiles, actor: Actor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.loader

    loads: list[str] = []
    real = engine.loader.load_workbook

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine.loader, "load_workbook", counting)
    workbook = upload(store, actor, store_settings.data_dir)
    cache = MemoryCache()
    service = RunService(store, samples, store_settings, cache=cache)
    try:
        for _ in range(2):
            run = queue_run(store, actor, workbook, 1000)
            assert service.submit(actor, run.id).result(120) == "done"
    finally:
        service.shutdown()
    assert loads == [workbook.stored_path]
    assert cache.get(model_key(workbook.content_hash, engine_version())) is not None


def test_results_become_plain_json() -> None:
    value = {"a": np.float64(1.5), "b": [np.int64(3), math.nan, -math.inf],
             "c": np.array([1.0, np.nan]), 4: (np.bool_(True), None, "x")}
    assert jsonable(value) == {"a": 1.5, "b": [3, None, None], "c": [1.0, None],
                               "4": [True, None, "x"]}


def test_run_settings_come_from_the_columns_and_the_spec(store: Store, store_settings: Settings,
                                                         actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    run = queue_run(store, actor, workbook, 1234, seed=99, sampling="lhs", spec={
        "inputs": {}, "outputs": [], "settings": {
            "iterations": 5, "seed": 1, "correlations": [["X", "Y", "0.5"]],
            "percentiles": [10, 90], "stop_tolerance": None}})
    settings = run_settings(run)
    assert (settings.iterations, settings.seed, settings.sampling) == (1234, 99, "lhs")
    assert settings.correlations == {("X", "Y"): 0.5}
    assert tuple(settings.percentiles) == (10.0, 90.0) and settings.stop_tolerance is None


def test_deleting_a_run_deletes_its_samples_and_only_for_its_owner(
        store: Store, store_settings: Settings, samples: SampleFiles, actor: Actor,
        other_actor: Actor) -> None:
    workbook = upload(store, actor, store_settings.data_dir)
    service = RunService(store, samples, store_settings)
    try:
        run = queue_run(store, actor, workbook, 1000)
        assert service.submit(actor, run.id).result(120) == "done"
        assert samples.exists(run.id)
        with pytest.raises(PermissionDenied):
            service.delete_run(other_actor, run.id)
        assert samples.exists(run.id)
        service.delete_run(actor, run.id)
        assert not samples.exists(run.id)
        with pytest.raises(StoreError):
            store.get_run(actor, run.id)
    finally:
        service.shutdown()
