"""Benchmarks of the run service: runs leave the app for the ledger, the worker service and Dask.

    python benchmarks/run_service.py overhead [--repeat 5]   # Dask path vs in-process, 1 vs 2
    python benchmarks/run_service.py health [--users 4]       # the app while users run 1e6 each
    python benchmarks/run_service.py big [--iterations 1e8]   # peak RSS of every process

Each part starts what it measures as real processes on a fresh data directory (embedded SQLite
store, no Redis): the worker service (``python -m services.worker``, its own LocalCluster) and,
for ``health``, the app (``python -m services.serve``). Times are wall-clock, repeated and
alternated, with medians reported, because this machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from db.config import Settings  # noqa: E402
from db.entities import SYSTEM_ACTOR, Actor  # noqa: E402
from db.store import Store, open_store  # noqa: E402
from engine.version import engine_version  # noqa: E402
from services.demo import write_workbook  # noqa: E402
from services.runspec import settings_of  # noqa: E402

SETUP = {"inputs": {}, "outputs": [], "settings": {}}


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(data_dir), LOG_FORMAT="text", LOG_LEVEL="warning", **extra)
    return env


def start_worker(data_dir: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.worker"], cwd=REPO,
                            env=environment(data_dir, DASK_WORKERS=str(workers)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Bench:
    """A fresh store with users and the project workbook."""

    def __init__(self, root: Path, users: int = 1) -> None:
        self.data_dir = root / "data"
        self.settings = Settings(data_dir=self.data_dir)
        self.store: Store = open_store(self.settings)
        self.users = [Actor.for_user(self.store.create_user(f"user{i}", "correct horse"))
                      for i in range(users)]
        self.book = write_workbook(root / "project.xlsx")
        self.workbooks = {}
        for user in self.users:
            import hashlib

            data = self.book.read_bytes()
            path = self.data_dir / "uploads" / str(user.user_id) / "project.xlsx"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.workbooks[user.user_id] = self.store.add_workbook(
                user, "project.xlsx", hashlib.sha256(data).hexdigest(), len(data), path)

    def submit(self, user: Actor, iterations: int, seed: int = 1) -> int:
        step = settings_of(SETUP, iterations, seed, "mc").step()
        return self.store.create_run(user, self.workbooks[user.user_id].id, SETUP, seed,
                                     iterations, "mc", "cpu", engine_version(),
                                     chunk_size=step).id

    def wait(self, run_id: int, timeout: float = 3600) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.store.get_run(SYSTEM_ACTOR, run_id)
            if not record.active:
                if record.status != "done":
                    raise SystemExit(f"run {run_id} {record.status}: {record.error}")
                return time.monotonic()
            time.sleep(0.01)
        raise SystemExit(f"run {run_id} did not end in {timeout} s")

    def timed_run(self, iterations: int, seed: int) -> float:
        started = time.monotonic()
        return self.wait(self.submit(self.users[0], iterations, seed)) - started


def cli_seconds(book: Path, iterations: int, seed: int) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "engine", "run", str(book), "--iterations",
                    str(iterations), "--seed", str(seed), "--device", "cpu", "--json"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def in_process_seconds(book: Path, iterations: int, seed: int) -> float:
    """``simulate`` on an already built model: the engine's own time, no process start."""
    from engine.loader import load_workbook
    from engine.montecarlo.model import build_model
    from engine.montecarlo.simulate import RunSettings, simulate

    model = build_model(load_workbook(str(book)))
    simulate(model, RunSettings(iterations=10_000))  # compiled code loaded
    started = time.monotonic()
    simulate(model, RunSettings(iterations=iterations, seed=seed))
    return time.monotonic() - started


def overhead(args: argparse.Namespace) -> None:
    n = int(args.iterations)
    with tempfile.TemporaryDirectory() as tmp:
        benches = {w: Bench(Path(tmp) / f"w{w}") for w in (1, 2)}
        workers = {w: start_worker(b.data_dir, w) for w, b in benches.items()}
        try:
            for b in benches.values():  # the cluster is up and warm, the model cached
                b.timed_run(50_000, 0)
                b.timed_run(n, 0)
            times: dict[str, list[float]] = {"cli": [], "simulate": [], "dask1": [],
                                             "dask2": []}
            book = benches[1].book
            for r in range(args.repeat):
                times["cli"].append(cli_seconds(book, n, r + 1))
                times["dask2"].append(benches[2].timed_run(n, r + 1))
                times["simulate"].append(in_process_seconds(book, n, r + 1))
                times["dask1"].append(benches[1].timed_run(n, r + 1))
        finally:
            for w in workers.values():
                stop(w)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"iterations": n, "repeat": args.repeat, "median_s": med,
                      "all_s": times}, indent=1))
    print(f"ledger + Dask (2 workers) / in-process CLI process: {med['dask2'] / med['cli']:.2f}x "
          f"(overhead {100 * (med['dask2'] / med['cli'] - 1):+.0f}%)")
    print(f"ledger + Dask (2 workers) / simulate() in a warm process: "
          f"{med['dask2'] / med['simulate']:.2f}x")
    print(f"1 worker / 2 workers: {med['dask1'] / med['dask2']:.2f}x")


def _latency(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return time.monotonic() - started


def health(args: argparse.Namespace) -> None:
    """p50/p99 of the app's health check and page while ``users`` users each run 1e6."""
    port = 8765
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), users=args.users)
        worker = start_worker(bench.data_dir, 2)
        app = subprocess.Popen([sys.executable, "-m", "services.serve"], cwd=REPO,
                               env=environment(bench.data_dir, PORT=str(port)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    _latency(f"{base}/_stcore/health")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the app did not start") from None
                    time.sleep(0.5)
            bench.wait(bench.submit(bench.users[0], 50_000, 0))  # the cluster is warm
            idle = {"health": [_latency(f"{base}/_stcore/health") for _ in range(50)],
                    "page": [_latency(f"{base}/") for _ in range(50)]}
            runs = [bench.submit(u, int(args.iterations), i + 1)
                    for i, u in enumerate(bench.users)]
            busy: dict[str, list[float]] = {"health": [], "page": []}
            done = threading.Event()

            def wait_all() -> None:
                for r in runs:
                    bench.wait(r)
                done.set()

            waiter = threading.Thread(target=wait_all)
            started = time.monotonic()
            waiter.start()
            while not done.is_set():
                busy["health"].append(_latency(f"{base}/_stcore/health"))
                busy["page"].append(_latency(f"{base}/"))
                time.sleep(0.02)
            waiter.join()
            elapsed = time.monotonic() - started
        finally:
            stop(app)
            stop(worker)

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    report = {f"{phase}_{kind}": {"n": len(v), "p50_ms": 1000 * pct(v, 50),
                                  "p99_ms": 1000 * pct(v, 99), "max_ms": 1000 * max(v)}
              for phase, data in (("idle", idle), ("busy", busy)) for kind, v in data.items()}
    report["runs_seconds"] = elapsed
    print(json.dumps(report, indent=1))


def big(args: argparse.Namespace) -> None:
    """One run of ``iterations`` through the worker service: peak RSS of each process (the
    service, the nannies, the Dask workers) sampled every 0.2 s, and the samples on disk."""
    import psutil

    n = int(float(args.iterations))
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        worker = start_worker(bench.data_dir, 2)
        peaks: dict[int, tuple[str, int]] = {}
        stop_sampling = threading.Event()

        def sample() -> None:
            root = psutil.Process(worker.pid)
            while not stop_sampling.is_set():
                try:
                    for p in [root, *root.children(recursive=True)]:
                        rss = p.memory_info().rss
                        name = " ".join(p.cmdline()[1:4])[:60]
                        if rss > peaks.get(p.pid, ("", 0))[1]:
                            peaks[p.pid] = (name, rss)
                except psutil.Error:
                    pass
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            bench.wait(bench.submit(bench.users[0], 50_000, 0))
            started = time.monotonic()
            run_id = bench.submit(bench.users[0], n, 1)
            bench.wait(run_id, timeout=7200)
            elapsed = time.monotonic() - started
            parts = list((bench.data_dir / "runs" / str(run_id)).glob("part-*.parquet"))
            disk = sum(p.stat().st_size for p in parts)
        finally:
            stop_sampling.set()
            sampler.join()
            stop(worker)
    print(json.dumps({"iterations": n, "seconds": elapsed, "parts": len(parts),
                      "samples_bytes_on_disk": disk,
                      "peak_rss_mb": {f"{pid} {name}": round(rss / 2**20)
                                      for pid, (name, rss) in peaks.items()}}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("overhead")
    p.add_argument("--iterations", type=float, default=1e6)
    p.add_argument("--repeat", type=int, default=5)
    p.set_defaults(run=overhead)
    p = sub.add_parser("health")
    p.add_argument("--users", type=int, default=4)
    p.add_argument("--iterations", type=float, default=1e6)
    p.set_defaults(run=health)
    p = sub.add_parser("big")
    p.add_argument("--iterations", type=float, default=1e8)
    p.set_defaults(run=big)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
