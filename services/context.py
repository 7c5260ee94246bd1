"""Everything the app holds for the life of its process: settings, store, cache, samples and
the cleanup schedule. Opened once per process (the UI caches it). Runs are not here: the app
only writes them to the ledger and reads them back (services.runs); the worker service
executes them, so any number of app processes can run side by side."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from db.cache import Cache, open_cache
from db.cleanup import CleanupScheduler
from db.config import Settings
from db.samples import SampleFiles
from db.secrets import load_or_create_secret
from db.store import MIN_PASSWORD_LENGTH, Store, open_store
from services.logs import configure_logging

log = logging.getLogger("xlsim.app")

MIN_COOKIE_KEY_BYTES = 32


@dataclass
class AppContext:
    settings: Settings
    store: Store
    cache: Cache
    samples: SampleFiles
    cleanup: CleanupScheduler
    cookie_key: str

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    def close(self) -> None:
        self.cleanup.stop()
        self.store.close()


def _cookie_key_problem(env: Mapping[str, str]) -> str | None:
    given = env.get("COOKIE_KEY", "")
    if given and len(given.encode()) < MIN_COOKIE_KEY_BYTES:
        return f"COOKIE_KEY must be at least {MIN_COOKIE_KEY_BYTES} bytes long (or unset)."
    return None


def _admin_problem(env: Mapping[str, str]) -> str | None:
    username = env.get("ADMIN_USERNAME", "").strip()
    password = env.get("ADMIN_PASSWORD", "")
    if username and not password:
        return "ADMIN_USERNAME is set but ADMIN_PASSWORD is not: set both or neither."
    if password and not username:
        return "ADMIN_PASSWORD is set but ADMIN_USERNAME is not: set both or neither."
    if password and len(password) < MIN_PASSWORD_LENGTH:
        return f"ADMIN_PASSWORD must be at least {MIN_PASSWORD_LENGTH} characters long."
    return None


def secret_problems(env: Mapping[str, str]) -> list[str]:
    """One sentence per invalid COOKIE_KEY or admin bootstrap variable, for the start-up check."""
    return [p for p in (_cookie_key_problem(env), _admin_problem(env)) if p]


def cookie_key(settings: Settings, env: Mapping[str, str]) -> str:
    """The key that signs login cookies: COOKIE_KEY (at least 32 bytes), else a random key
    generated on first start and kept under the data directory. Never a constant."""
    problem = _cookie_key_problem(env)
    if problem:
        raise ValueError(problem)
    return env.get("COOKIE_KEY", "") or load_or_create_secret(settings.data_dir, "cookie-key").hex()


def bootstrap_admin(store: Store, env: Mapping[str, str]) -> str | None:
    """Make sure an admin exists. ADMIN_USERNAME/ADMIN_PASSWORD create it; without them the
    first start creates ``admin`` with a random password printed once to the server log.
    Returns the username created, or None when an admin already existed."""
    username = env.get("ADMIN_USERNAME", "").strip()
    password = env.get("ADMIN_PASSWORD", "")
    if username and store.get_user(username) is not None:
        return None
    if not username and store.has_admin():
        return None
    if username:
        problem = _admin_problem(env)
        if problem:
            raise ValueError(problem)
        store.create_user(username, password, display_name=username, roles=("admin",))
        log.info("created the admin user %s from ADMIN_USERNAME", username)
        return username
    password = secrets.token_urlsafe(12)
    store.create_user("admin", password, display_name="Administrator", roles=("admin",))
    log.warning("created the first admin user 'admin' with password %s -- shown once; "
                "change it after logging in, or set ADMIN_USERNAME/ADMIN_PASSWORD", password)
    return "admin"


def open_context(env: Mapping[str, str] | None = None) -> AppContext:
    env = os.environ if env is None else env
    configure_logging(env)
    settings = Settings.from_env(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "uploads").mkdir(exist_ok=True)
    store = open_store(settings)
    bootstrap_admin(store, env)
    samples = SampleFiles(settings.data_dir)
    cache = open_cache(settings)
    cleanup = CleanupScheduler.for_settings(store, samples, settings)
    cleanup.start()
    return AppContext(settings, store, cache, samples, cleanup,
                      cookie_key(settings, env))
