"""Versioned migrations: numbered SQL files per backend, applied at open, each exactly once.

``db/migrations/<dialect>/NNNN_name.sql``; the ``schema_version`` table records every applied
version. Opening a store applies the missing ones in one transaction (PostgreSQL and SQLite both
roll DDL back), so a failed upgrade leaves the previous version intact, and a second process
opening at the same time waits and then finds nothing to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from db.backend import Database, Tx
from db.errors import StoreError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"(\d{4})_(\w+)\.sql")

# Plain types that both dialects accept, so the bookkeeping is written once.
_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied text NOT NULL
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The dialect's migrations in order; numbering must run 1, 2, 3... without gaps."""
    found = []
    for path in sorted((directory / dialect).glob("*.sql")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise StoreError(f"Migration file {path.name} is not named NNNN_name.sql.")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"Migrations for {dialect} skip from {expected - 1} to "
                             f"{migration.version}.")
    return found


def current_version(tx: Tx) -> int:
    """The highest applied version; 0 for an empty database."""
    tx.run(_VERSION_TABLE)
    row = tx.one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
    return int(row["v"]) if row else 0


def migrate(db: Database, *, target: int | None = None,
            directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Brings the database to ``target`` (default: the latest version); returns the versions
    applied now, none when it is already there. A database newer than this program is refused
    rather than used with the wrong expectations."""
    migrations = load_migrations(db.dialect, directory)
    latest = len(migrations) if target is None else target
    with db.transaction() as tx:
        db.lock_migrations(tx)
        version = current_version(tx)
        if version > len(migrations):
            raise StoreError(f"The database has schema version {version}, newer than this "
                             f"program's {len(migrations)}: upgrade the program.")
        applied = []
        for migration in migrations[version:latest]:
            try:
                tx.script(migration.sql)
            except db.error as exc:
                raise StoreError(f"Migration {migration.version:04d}_{migration.name} "
                                 f"({db.dialect}) failed, nothing was changed: {exc}") from exc
            tx.run("INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                   (migration.version, migration.name,
                    datetime.now(UTC).isoformat(timespec="seconds")))
            applied.append(migration.version)
    return applied
