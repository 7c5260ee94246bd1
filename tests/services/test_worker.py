"""The worker service over real Dask LocalCluster processes and both stores: same numbers as
the in-process CLI for 1, 2 and 4 workers, faults that lose nothing (a Dask worker killed by
PID, the worker service killed with SIGKILL and restarted), cancel within two seconds, the
memory limit as a message, and one user's runs not starving another's."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db.config import Settings
from db.entities import Actor, RunRecord
from db.samples import SampleFiles
from db.store import Store, open_store
from engine.loader import load_workbook
from engine.montecarlo.model import build_model
from engine.montecarlo.simulate import simulate
from engine.version import engine_version
from services.demo import write_workbook
from services.runspec import jsonable, settings_of
from services.worker import start_cluster
from tests.db.conftest import (  # noqa: F401 - fixtures
    actor,
    make_actor,
    other_actor,
    store,
    store_settings,
)
from tests.db.runs import upload

REPO = Path(__file__).resolve().parents[2]
# Three chunks of 2^18 iterations (the last one shorter), Latin hypercube, two inputs
# correlated: everything that has to line up across chunks.
SPEC = {"inputs": {}, "outputs": [],
        "settings": {"correlations": [["Capex", "Peak volume", -0.6]], "target": 0.0}}
ITERATIONS = 600_000


def project_workbook(db: Store, user: Actor, data_dir: Path) -> Any:
    """The demo's 10-year project model as the user's upload."""
    folder = data_dir / "uploads" / str(user.user_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = write_workbook(folder / "project.xlsx")
    data = path.read_bytes()
    return db.add_workbook(user, "project.xlsx", hashlib.sha256(data).hexdigest(), len(data),
                           path)


def submit(db: Store, user: Actor, workbook: Any, iterations: int = ITERATIONS,
           spec: dict | None = None, seed: int = 5, sampling: str = "lhs") -> RunRecord:
    spec = SPEC if spec is None else spec
    step = settings_of(spec, iterations, seed, sampling).step()
    return db.create_run(user, workbook.id, spec, seed, iterations, sampling, "cpu",
                         engine_version(), chunk_size=step)


def wait_final(db: Store, user: Actor, run_id: int, timeout: float = 180) -> RunRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = db.get_run(user, run_id)
        if not record.active:
            return record
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


def wait_until(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def own_cluster(settings: Settings, db: Store) -> Iterator[tuple[Any, Any]]:
    """(client, worker service) on a LocalCluster of this test's own, closed afterwards."""
    from services.worker import WorkerService

    client, cluster = start_cluster(settings)
    try:
        yield client, WorkerService(settings, db, client)
    finally:
        client.close()
        cluster.close()


def drive(service: Any, db: Store, user: Actor, run_id: int, timeout: float = 240
          ) -> RunRecord:
    """Rounds of the service (in this thread) until the run ends."""
    deadline = time.monotonic() + timeout
    while db.get_run(user, run_id).active and time.monotonic() < deadline:
        service.tick()
        time.sleep(0.01)
    return db.get_run(user, run_id)


def reference(workbook_path: str, record: RunRecord) -> Any:
    """The in-process engine's run of the same definition (what ``engine run`` computes)."""
    model = build_model(load_workbook(workbook_path), record.spec["inputs"] or None,
                        record.spec["outputs"] or None)
    return model, simulate(model, settings_of(record.spec, record.iterations, record.seed,
                                              record.sampling))


def comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("elapsed_seconds", "device")}


def samples_of(settings: Settings, run_id: int) -> pa.Table:
    parts = SampleFiles(settings.data_dir).parts(run_id)
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")


def assert_same_as_in_process(settings: Settings, record: RunRecord, workbook: Any) -> None:
    model, result = reference(workbook.stored_path, record)
    assert record.status == "done", record.error
    assert comparable(record.summary) == comparable(jsonable(result.to_dict()))
    table = samples_of(settings, record.id)
    iterations = table.column("iteration").to_numpy()
    assert np.array_equal(iterations, np.arange(1, record.iterations + 1))  # once each
    for j, site in enumerate(model.inputs):
        assert np.array_equal(table.column(site.name).to_numpy(), result.input_samples[j])
    for k, label in enumerate(model.outputs):
        got = table.column(model.output_names.get(label, label)).to_numpy(zero_copy_only=False)
        assert np.array_equal(got, result.output_values[k], equal_nan=True)


def test_a_run_is_bit_identical_to_the_in_process_engine(store, store_settings, actor,  # noqa: F811
                                                         start_worker):
    workbook = project_workbook(store, actor, store_settings.data_dir)
    run = submit(store, actor, workbook)
    assert [(c.start, c.count) for c in store.list_chunks(run.id)] == \
        [(0, 262_144), (262_144, 262_144), (524_288, 75_712)]
    start_worker(store_settings)
    done = wait_final(store, actor, run.id)
    assert_same_as_in_process(store_settings, done, workbook)
    assert all(c.state == "done" and c.attempts == 1 for c in store.list_chunks(run.id))


@pytest.mark.parametrize("workers", [1, 4])
def test_any_number_of_dask_workers_gives_the_same_numbers(tmp_path, workers):
    settings = Settings(data_dir=tmp_path / "data", dask_workers=workers)
    with open_store(settings) as db:
        user = Actor.for_user(db.create_user("ann", "correct horse"))
        workbook = project_workbook(db, user, settings.data_dir)
        run = submit(db, user, workbook)
        with own_cluster(settings, db) as (client, service):
            assert len(client.nthreads()) == workers
            done = drive(service, db, user, run.id)
        assert_same_as_in_process(settings, done, workbook)


def test_a_stop_rule_run_stops_at_the_same_chunk_as_in_process(store, store_settings,  # noqa: F811
                                                              actor, start_worker):  # noqa: F811
    workbook = project_workbook(store, actor, store_settings.data_dir)
    spec = {"inputs": {}, "outputs": [], "settings": {"stop_tolerance": 0.05}}
    run = submit(store, actor, workbook, iterations=400_000, spec=spec, sampling="mc")
    assert len(store.list_chunks(run.id)) == 40  # the rule checks every 10,000 iterations
    start_worker(store_settings)
    done = wait_final(store, actor, run.id)
    _, result = reference(workbook.stored_path, run)
    assert result.iterations < 400_000  # the rule fired
    assert comparable(done.summary) == comparable(jsonable(result.to_dict()))
    assert samples_of(store_settings, run.id).num_rows == result.iterations


def _worker_pids(client) -> list[int]:
    return sorted(client.run(os.getpid).values())


def test_a_dask_worker_killed_mid_run_loses_nothing(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", dask_workers=2)
    with open_store(settings) as db:
        user = Actor.for_user(db.create_user("ann", "correct horse"))
        workbook = project_workbook(db, user, settings.data_dir)
        run = submit(db, user, workbook, iterations=3_000_000)  # 12 chunks
        with own_cluster(settings, db) as (client, service):
            victim = _worker_pids(client)[0]

            def some_done() -> bool:
                service.tick()
                return db.get_run(user, run.id).iterations_done > 0

            wait_until(some_done, "a chunk is done")
            os.kill(victim, signal.SIGKILL)
            done = drive(service, db, user, run.id)
            assert victim not in _worker_pids(client)
        assert_same_as_in_process(settings, done, workbook)


def _service(settings: Settings) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(settings.data_dir), DASK_WORKERS="1", WORKER_STALE_S="2",
               WORKER_HEARTBEAT_S="0.5", LOG_FORMAT="text")
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return subprocess.Popen([sys.executable, "-m", "services.worker"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def test_the_worker_service_killed_and_restarted_resumes_the_run(store, store_settings,  # noqa: F811
                                                                 actor):  # noqa: F811
    workbook = project_workbook(store, actor, store_settings.data_dir)
    run = submit(store, actor, workbook, iterations=1_500_000)  # 6 chunks
    first = _service(store_settings)
    try:
        wait_until(lambda: store.get_run(actor, run.id).iterations_done > 0, "a chunk is done")
        os.killpg(first.pid, signal.SIGKILL)  # the whole container: service and its cluster
        first.wait(timeout=30)
        before = {c.idx for c in store.list_chunks(run.id) if c.state == "done"}
        assert store.get_run(actor, run.id).status == "running"  # nobody ends it early
        second = _service(store_settings)
        try:
            done = wait_final(store, actor, run.id, timeout=240)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    chunks = store.list_chunks(run.id)
    assert all(c.attempts == 1 for c in chunks if c.idx in before)  # not computed again
    assert_same_as_in_process(store_settings, done, workbook)


def test_cancel_stops_a_running_run_within_two_seconds(store, store_settings,  # noqa: F811
                                                       actor, start_worker):  # noqa: F811
    workbook = project_workbook(store, actor, store_settings.data_dir)
    run = submit(store, actor, workbook, iterations=20_000_000, sampling="mc")
    start_worker(store_settings)
    wait_until(lambda: store.get_run(actor, run.id).iterations_done > 0, "the run is running")
    asked = time.monotonic()
    assert store.request_cancel(actor, run.id)
    ended = wait_final(store, actor, run.id, timeout=10)
    latency = time.monotonic() - asked
    assert ended.status == "cancelled" and latency < 2.0, latency
    samples = SampleFiles(store_settings.data_dir)
    wait_until(lambda: not samples.exists(run.id), "the cancelled run's parts are removed", 30)


def test_a_chunk_over_the_memory_limit_fails_the_run_with_its_reason(tmp_path):
    # 400 outputs of 2^18 iterations: about 2.5 GB of arrays in one chunk.
    cells = {"A1": "=RiskNormal(0,1)"}
    cells.update({f"B{i}": f"=RiskOutput()+A1*{i}" for i in range(1, 401)})
    settings = Settings(data_dir=tmp_path / "data", dask_workers=1,
                        dask_worker_memory=900 * 2**20)
    with open_store(settings) as db:
        user = Actor.for_user(db.create_user("ann", "correct horse"))
        workbook = upload(db, user, settings.data_dir, cells=cells)
        run = submit(db, user, workbook, iterations=262_144, spec={}, sampling="mc")
        with own_cluster(settings, db) as (_, service):
            failed = drive(service, db, user, run.id)
    assert failed.status == "failed"
    assert "memory limit of 0.879 GiB per worker" in failed.error, failed.error


def test_one_users_runs_do_not_starve_another_users_run(store, store_settings,  # noqa: F811
                                                        actor, other_actor,  # noqa: F811
                                                        start_worker):
    workbook = project_workbook(store, actor, store_settings.data_dir)
    theirs = project_workbook(store, other_actor, store_settings.data_dir)
    spec = {"inputs": {}, "outputs": [], "settings": {"stop_tolerance": 1e-9}}  # 10k chunks
    many = [submit(store, actor, workbook, iterations=150_000, spec=spec, sampling="mc")
            for _ in range(3)]
    one = submit(store, other_actor, theirs, iterations=150_000, spec=spec, sampling="mc")
    start_worker(store_settings)
    ended = [wait_final(store, actor, r.id) for r in many]
    single = wait_final(store, other_actor, one.id)
    assert all(r.status == "done" for r in [*ended, single])
    later = sum(r.finished > single.finished for r in ended)
    assert later >= 2, [(r.id, r.finished) for r in [*ended, single]]


def test_an_app_restarted_mid_run_finds_the_run_going_on(tmp_path, start_worker):
    from services.context import open_context
    from services.runs import start_run

    env = {"DATA_DIR": str(tmp_path / "data"), "ADMIN_USERNAME": "root",
           "ADMIN_PASSWORD": "correct horse"}
    first = open_context(env)
    user = Actor.for_user(first.store.create_user("ann", "correct horse"))
    workbook = project_workbook(first.store, user, first.settings.data_dir)
    run = start_run(first, user, workbook.id, {"inputs": {}, "outputs": [], "settings": {},
                                               "iterations": 2_000_000, "seed": 3,
                                               "sampling": "mc", "device": "cpu"})
    start_worker(first.settings)
    wait_until(lambda: first.store.get_run(user, run.id).iterations_done > 0, "a chunk is done")
    first.close()  # the app stops; a new one starts on the same store
    second = open_context(env)
    try:
        assert second.store.get_run(user, run.id).status == "running"
        done = wait_final(second.store, user, run.id)
    finally:
        second.close()
    assert done.status == "done" and done.summary["iterations"] == 2_000_000


def test_a_run_over_its_time_limit_fails_with_the_limit_named(store, store_settings,  # noqa: F811
                                                              actor, start_worker):  # noqa: F811
    workbook = project_workbook(store, actor, store_settings.data_dir)
    run = submit(store, actor, workbook, iterations=30_000_000, sampling="mc")
    start_worker(dataclasses.replace(store_settings, run_time_limit_s=1.5))
    ended = wait_final(store, actor, run.id, timeout=60)
    assert ended.status == "failed"
    assert ended.error == ("Stopped: the run took longer than its time limit of 1.5 seconds "
                           "(RUN_TIME_LIMIT_S).")
    assert (ended.finished - ended.started).total_seconds() < 4.0


def test_a_worker_service_stopped_politely_gives_its_runs_back(store, store_settings,  # noqa: F811
                                                               actor):  # noqa: F811
    workbook = project_workbook(store, actor, store_settings.data_dir)
    run = submit(store, actor, workbook, iterations=20_000_000, sampling="mc")
    service = _service(store_settings)
    try:
        wait_until(lambda: store.get_run(actor, run.id).iterations_done > 0, "a chunk is done")
        os.killpg(service.pid, signal.SIGTERM)
        assert service.wait(timeout=60) == 0
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
    back = store.get_run(actor, run.id)
    assert (back.status, back.worker) == ("queued", None)  # claimable now, not in 30 s
    assert back.iterations_done > 0
    assert all(c.state in ("queued", "done") for c in store.list_chunks(run.id))
