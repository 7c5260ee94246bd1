"""``python -m services.health``: the container's health check.

Healthy means Streamlit answers ``/_stcore/health`` on PORT and the metadata database answers a
query: Streamlit's own endpoint stays green while PostgreSQL is down, and an app that cannot read
its users or runs is not serving anyone. Redis is left out on purpose: without it the app runs
on, uncached, and Redis has its own health check. Exit 0 when healthy, else 1 with one line per
problem (``docker inspect`` shows them).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

from db.config import Settings
from db.errors import ConfigError
from db.store import database_problem
from services.serve import port

TIMEOUT_S = 4.0


def app_problem(env: Mapping[str, str]) -> str | None:
    url = f"http://127.0.0.1:{port(env)}/_stcore/health"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (local)
            if response.status == 200:
                return None
            return f"Streamlit answered {url} with status {response.status}"
    except urllib.error.HTTPError as exc:
        return f"Streamlit answered {url} with status {exc.code}"
    except OSError as exc:
        return f"Streamlit does not answer {url}: {getattr(exc, 'reason', exc)}"


def problems(env: Mapping[str, str]) -> list[str]:
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        return exc.problems
    return [p for p in (app_problem(env), database_problem(settings)) if p]


def main(env: Mapping[str, str] | None = None) -> int:
    found = problems(os.environ if env is None else env)
    for problem in found:
        print(f"unhealthy: {problem}")
    if not found:
        print("healthy")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
