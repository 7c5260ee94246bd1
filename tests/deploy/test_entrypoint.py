"""The image's entry and health-check commands, run outside Docker with the image's environment.

No Docker engine runs here, so the test does what the container would: it reads the runtime
stage's ENV, CMD and HEALTHCHECK from the Dockerfile, points the database and cache variables at
the real PostgreSQL and Redis (as docker-compose.yml points them at its services), starts the
CMD and waits for the HEALTHCHECK command to pass; then the health check must fail once the
database is unreachable, and SIGTERM must stop the app.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from services.serve import environment_problems

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)


def runtime_stage() -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    last = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last:]


def image_env() -> dict[str, str]:
    env = {}
    for line in runtime_stage():
        if line.upper().startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def exec_form(prefix: str) -> list[str]:
    """The JSON array after ``prefix`` (``CMD`` or ``HEALTHCHECK ... CMD``)."""
    for line in runtime_stage():
        if line.upper().startswith(prefix.split()[0]) and " CMD [" in f" {line}":
            return json.loads(line[line.index("CMD [") + 4:])
    raise AssertionError(f"no exec-form {prefix} in the Dockerfile")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def container_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What the container would see: the image's ENV, the compose file's kind of settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "COOKIE_KEY", "ADMIN_USERNAME",
                        "ADMIN_PASSWORD", "LOG_FORMAT", "LOG_LEVEL", "PORT", "ADDRESS")}
    env.update(image_env())
    env.update(DATA_DIR=str(tmp_path / "data"), PORT=str(free_port()), ADDRESS="127.0.0.1",
               NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"),
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    env.update(overrides)
    return env


def test_every_problem_is_one_sentence_and_no_url_is_echoed():
    problems = environment_problems({
        "DATABASE_URL": "mysql://admin:hunter2@db/x", "DASK_WORKERS": "many", "DEVICE": "tpu",
        "COOKIE_KEY": "short", "ADMIN_PASSWORD": "password1", "PORT": "99999",
        "LOG_LEVEL": "chatty", "MAX_UPLOAD_MB": "0"})
    assert len(problems) == 8, problems
    assert all(p.endswith(".") and "\n" not in p for p in problems)
    assert not any("hunter2" in p for p in problems)
    for name in ("DATABASE_URL", "DASK_WORKERS", "DEVICE", "COOKIE_KEY", "ADMIN_PASSWORD", "PORT",
                 "LOG_LEVEL", "MAX_UPLOAD_MB"):
        assert sum(p.startswith(name) for p in problems) == 1, name
    assert environment_problems({}) == []


def test_image_command_refuses_a_bad_environment_line_by_line(tmp_path):
    env = container_env(tmp_path, DASK_WORKERS="0", COOKIE_KEY="too short")
    done = subprocess.run(exec_form("CMD"), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    records = [json.loads(line) for line in done.stdout.splitlines()]
    messages = [r["message"] for r in records if r["level"] == "ERROR"]
    assert messages[:2] == ["DASK_WORKERS must be a whole number of at least 1, got 0.",
                            "COOKIE_KEY must be at least 32 bytes long (or unset)."]
    assert "not started: 2 configuration problem(s)" in messages[2]
    assert not (tmp_path / "data").exists()  # nothing was started or created


def test_unreachable_database_stops_the_start_with_exit_3(tmp_path, monkeypatch, caplog,
                                                         restore_logging):
    from services import serve

    monkeypatch.setattr(serve, "DATABASE_WAIT_S", 0.0)
    started = []
    monkeypatch.setattr(serve, "supervise", lambda *args, **kw: started.append(args) or 0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"postgresql://postgres:secret@127.0.0.1:{s.getsockname()[1]}/test"
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": dead}
    assert serve.main(env) == 3
    assert started == []
    assert "not started: Cannot connect to PostgreSQL" in caplog.text
    assert "secret" not in caplog.text


def test_image_command_starts_the_app_and_health_follows_the_database(
        tmp_path, postgres_schema, redis_url):
    env = container_env(tmp_path, DATABASE_URL=postgres_schema, REDIS_URL=redis_url,
                        ADMIN_USERNAME="boss", ADMIN_PASSWORD="a long password")
    health = exec_form("HEALTHCHECK")
    assert health[-2:] == ["-m", "services.health"]
    log_path = tmp_path / "stdout.log"
    with log_path.open("w") as log:
        app = subprocess.Popen(exec_form("CMD"), cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            check = subprocess.run(health, cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=30)
            if check.returncode == 0:
                break
            assert app.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, check.stdout + log_path.read_text()[-3000:]
            time.sleep(1)
        assert check.stdout.strip() == "healthy"

        records = [json.loads(line) for line in log_path.read_text().splitlines()]
        started = next(r for r in records if r["message"] == "starting the app")
        assert (started["database"], started["cache"]) == ("postgresql", "redis")
        assert any(r["logger"].startswith("streamlit") for r in records)

        # The same check against a database that does not answer: unhealthy, and it says why.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"postgresql://postgres@127.0.0.1:{s.getsockname()[1]}/test"
        down = subprocess.run(health, cwd=ROOT, env={**env, "DATABASE_URL": dead},
                              capture_output=True, text=True, timeout=30)
        assert down.returncode == 1
        assert "unhealthy: Cannot connect to PostgreSQL" in down.stdout

        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


def test_make_run_uses_the_image_command():
    """`make run` and the image start the app the same way (one path to keep working)."""
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert exec_form("CMD") == ["python", "-m", "services.serve"]
    assert "$(PY) -m services.serve" in recipe
