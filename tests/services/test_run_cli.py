"""``python -m services.runs`` (services.run_cli): submit a workbook as a user's run, follow it
in the ledger while a real worker service executes it, cancel it; exit codes 0/1/2 with one
sentence on stderr. The results ``wait`` prints are those of ``python -m engine run --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import engine.cli
from db.config import Settings
from db.entities import SYSTEM_ACTOR
from db.store import open_store
from services.run_cli import main
from tests.db.runs import save_workbook

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse"
# A1 and A3 are plain numbers the options make uncertain; A2 is the output.
PLAIN_CELLS = {"A1": 100, "A3": 2, "A2": "=A1*2+A3"}
# Every run-definition option: a rank correlation, Latin hypercube, own percentiles, target,
# VaR level and a stop tolerance that stops the run after 20,000 of 100,000 iterations (two
# chunks of 10,000), so each one changes the results if it were lost on the way.
RUN_OPTIONS = ["--input", "Sheet1!A1=normal(100,10)", "--input", "Sheet1!A3=uniform(0,5)",
               "--output", "Sheet1!A2", "--iterations", "100000", "--seed", "11",
               "--sampling", "lhs", "--correlation", "Sheet1!A1,Sheet1!A3=0.6",
               "--percentile", "5", "--percentile", "95", "--target", "200",
               "--var-level", "0.9", "--stop-tolerance", "0.005", "--device", "cpu"]
# @RISK inputs declared in the workbook, a non-linear output.
RISK_PRODUCT = {"A1": "=RiskNormal(100,10)", "A3": "=RiskUniform(1,2)",
                "A2": "=RiskOutput()+A1*A3"}
# The smallest run definition of PLAIN_CELLS.
ONE_INPUT = ["--input", "Sheet1!A1=normal(100,10)", "--output", "Sheet1!A2"]
# Five chunks of 10,000 iterations that never converge (the tolerance is out of reach).
CHUNKED = ["--iterations", "50000", "--stop-tolerance", "1e-9", "--device", "cpu"]

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli("status", "1")`` -> (exit status, stdout, stderr) of an in-process call."""

    def call(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MAX_CONCURRENT_RUNS_PER_USER", "MAX_UPLOAD_MB", "DEVICE"):
        monkeypatch.delenv(name, raising=False)


def _with_user(settings: Settings) -> Settings:
    with open_store(settings, bcrypt_rounds=4) as store:
        store.create_user("alice", PASSWORD, roles=("analyst",))
    return settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """DATA_DIR set to a new folder (SQLite store, no DATABASE_URL) holding the user alice."""
    _clean_env(monkeypatch)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return _with_user(Settings.from_env())


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return save_workbook(tmp_path / "model.xlsx", PLAIN_CELLS)


def engine_json(capsys: pytest.CaptureFixture[str], book: Path, options: list[str]) -> dict:
    """What ``python -m engine run BOOK --json`` prints for the same options."""
    capsys.readouterr()
    assert engine.cli.main(["run", str(book), *options, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("elapsed_seconds", "device")}


def submit(cli: Cli, book: Path, *options: str) -> int:
    code, out, err = cli("submit", str(book), *options, "--user", "alice", "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)["run_id"]


def one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_submit_then_wait_prints_what_engine_run_prints(cli, settings, book, start_worker,
                                                       capsys):
    start_worker(settings)
    code, out, err = cli("submit", str(book), *RUN_OPTIONS, "--user", "alice",
                         "--name", "nightly check")
    assert (code, err) == (0, "")
    assert out.strip() == "run 1 queued"

    code, out, err = cli("wait", "1", "--json", "--timeout", "120")
    assert (code, err) == (0, ""), err
    summary = json.loads(out)
    expected = engine_json(capsys, book, RUN_OPTIONS)
    assert comparable(summary) == comparable(expected)
    assert summary["iterations"] == 20_000 and summary["warnings"]  # the stop rule fired
    assert summary["device"] == "cpu" and summary["elapsed_seconds"] > 0

    with open_store(settings) as store:
        run = store.get_run(SYSTEM_ACTOR, 1)
        owner = store.get_user("alice")
    assert (run.status, run.owner_id, run.name) == ("done", owner.id, "nightly check")
    assert run.summary == summary

    code, out, err = cli("wait", "1")  # without --json: as engine run prints it
    assert code == 0 and out.startswith("device: cpu\n20,000 iterations, seed 11, Latin hypercube")
    assert "P5 " in out and "driver Sheet1!A1" in out


def test_a_run_on_postgresql(cli, tmp_path, postgres_schema, monkeypatch, start_worker, capsys):
    _clean_env(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", postgres_schema)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    settings = _with_user(Settings.from_env())
    assert settings.database_url == postgres_schema
    book = save_workbook(tmp_path / "risk.xlsx", RISK_PRODUCT)
    options = ["--iterations", "30000", "--seed", "3", "--device", "cpu"]
    run_id = submit(cli, book, *options)
    start_worker(settings)
    code, out, err = cli("wait", str(run_id), "--json", "--timeout", "120")
    assert (code, err) == (0, ""), err
    assert comparable(json.loads(out)) == comparable(engine_json(capsys, book, options))
    code, out, _ = cli("status", str(run_id), "--json")
    assert code == 0 and json.loads(out) == {
        "run_id": run_id, "status": "done", "iterations_done": 30_000, "iterations": 30_000,
        "chunks": {"queued": 0, "running": 0, "done": 1, "failed": 0}, "error": None}
    assert not (tmp_path / "data" / "metadata.sqlite3").exists()  # the run was in PostgreSQL


def test_status_shows_the_chunks_by_state(cli, settings, book, start_worker):
    run_id = submit(cli, book, *ONE_INPUT, *CHUNKED)
    code, out, err = cli("status", str(run_id), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "run_id": run_id, "status": "queued", "iterations_done": 0, "iterations": 50_000,
        "chunks": {"queued": 5, "running": 0, "done": 0, "failed": 0}, "error": None}
    code, out, _ = cli("status", str(run_id))
    assert (code, out) == (0, f"run {run_id}: queued · 0 of 50,000 iterations · chunks: "
                              "5 queued, 0 running, 0 done, 0 failed\n")

    start_worker(settings)
    assert cli("wait", str(run_id), "--timeout", "120")[0] == 0
    code, out, _ = cli("status", str(run_id), "--json")
    assert code == 0 and json.loads(out) == {
        "run_id": run_id, "status": "done", "iterations_done": 50_000, "iterations": 50_000,
        "chunks": {"queued": 0, "running": 0, "done": 5, "failed": 0}, "error": None}


def test_cancel_a_queued_run(cli, settings, book):
    run_id = submit(cli, book, *ONE_INPUT)  # no worker: stays queued
    code, out, err = cli("wait", str(run_id), "--timeout", "0.2")
    assert code == 1 and out == ""
    assert "still queued after 0.2 s" in one_sentence(err)

    code, out, err = cli("cancel", str(run_id))
    assert (code, out, err) == (0, f"run {run_id} cancelled (it was still queued)\n", "")
    code, out, _ = cli("status", str(run_id), "--json")
    status = json.loads(out)
    assert (code, status["status"], status["error"]) == (0, "cancelled", "Cancelled by the user.")

    code, out, err = cli("cancel", str(run_id))  # a second time: it had already ended
    assert (code, out) == (1, "")
    assert "already ended (cancelled)" in one_sentence(err)
    code, out, err = cli("wait", str(run_id))
    assert (code, out) == (1, "")
    assert one_sentence(err) == f"error: run {run_id} cancelled: Cancelled by the user."


def test_a_failed_run_makes_wait_exit_1_with_its_error(cli, settings, book, start_worker):
    # The engine refuses the parameters when it builds the model, i.e. in the worker.
    run_id = submit(cli, book, "--input", "Sheet1!A1=normal(0,-1)", "--output", "Sheet1!A2",
                    "--iterations", "10000")
    start_worker(settings)
    code, out, err = cli("wait", str(run_id), "--timeout", "120")
    assert (code, out) == (1, "")
    assert one_sentence(err) == (f"error: run {run_id} failed: Sheet1!A1: normal(mean, sd): "
                                 "sd must be >= 0, got -1.0.")
    code, out, _ = cli("status", str(run_id), "--json")
    assert code == 0 and json.loads(out)["status"] == "failed"
    assert "sd must be >= 0" in json.loads(out)["error"]


@pytest.mark.parametrize(("argv", "message"), [
    (["submit", "{book}", "--user", "nobody"], "There is no user 'nobody'"),
    (["submit", "{text}", "--user", "alice"], "is not an Excel workbook"),
    (["submit", "{csv}", "--user", "alice"], "is not an Excel workbook"),
    (["submit", "{missing}", "--user", "alice"], "Cannot open"),
    (["submit", "{book}", "--user", "alice", "--iterations", "0"], "Iterations must be"),
    (["submit", "{book}", "--user", "alice", "--correlation", "A1=0.5"], "--correlation"),
    (["submit", "{book}", "--user", "alice", "--stop-tolerance", "-1"],
     "the stop tolerance must be positive"),
    (["submit", "{book}", "--user", "alice", "--sampling", "sobol"], "invalid choice"),
    (["submit", "{book}"], "--user"),
    (["status", "999"], "There is no run 999."),
    (["wait", "999"], "There is no run 999."),
    (["cancel", "999"], "There is no run 999."),
    (["status", "seven"], "invalid int value"),
    (["explode"], "invalid choice"),
])
def test_bad_input_is_one_sentence_and_exit_2(cli, settings, book, tmp_path, argv, message):
    (tmp_path / "notes.xlsx").write_text("this is not a workbook\n")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    paths = {"{book}": str(book), "{text}": str(tmp_path / "notes.xlsx"),
             "{csv}": str(tmp_path / "data.csv"), "{missing}": str(tmp_path / "gone.xlsx")}
    code, out, err = cli(*[paths.get(a, a) for a in argv])
    assert (code, out) == (2, "")
    assert message in one_sentence(err)
    with open_store(settings) as store:
        assert store.list_runs(SYSTEM_ACTOR) == [] and store.list_workbooks(SYSTEM_ACTOR) == []


def test_a_bad_environment_variable_is_one_sentence_and_exit_2(cli, settings, monkeypatch):
    monkeypatch.setenv("MAX_CONCURRENT_RUNS_PER_USER", "zero")
    code, out, err = cli("status", "1")
    assert (code, out) == (2, "")
    assert "MAX_CONCURRENT_RUNS_PER_USER must be a whole number" in one_sentence(err)


def test_the_per_user_limit_is_one_sentence_and_exit_2(cli, settings, book, monkeypatch):
    monkeypatch.setenv("MAX_CONCURRENT_RUNS_PER_USER", "1")
    first = submit(cli, book, *ONE_INPUT)
    code, out, err = cli("submit", str(book), *ONE_INPUT, "--user", "alice")
    assert (code, out) == (2, "")
    assert one_sentence(err) == ("error: You already have 1 run queued or running; the limit "
                                 "is 1 at a time.")
    with open_store(settings) as store:
        assert [r.id for r in store.list_runs(SYSTEM_ACTOR)] == [first]


@pytest.fixture
def module_env(settings: Settings) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATA_DIR"] = str(settings.data_dir)
    yield env


def test_the_module_entry_point(settings, book, module_env, start_worker):
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "services.runs", *argv], cwd=REPO,
                              env=module_env, capture_output=True, text=True, timeout=180)

    submitted = run("submit", str(book), *ONE_INPUT, "--iterations", "20000", "--device",
                    "cpu", "--user", "alice", "--json")
    assert (submitted.returncode, submitted.stderr) == (0, "")
    run_id = json.loads(submitted.stdout)["run_id"]
    start_worker(settings)
    waited = run("wait", str(run_id), "--json", "--timeout", "120")
    assert waited.returncode == 0, waited.stderr
    with open_store(settings) as store:
        assert json.loads(waited.stdout) == store.get_run(SYSTEM_ACTOR, run_id).summary
    unknown = run("cancel", "999")
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == \
        (2, "", "error: There is no run 999.\n")
