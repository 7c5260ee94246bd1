"""Migrations on both backends: from an empty database, from every previous version, to a next
version with data in place, idempotent, all-or-nothing, and safe when processes open together."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from db.config import Settings
from db.entities import Actor
from db.errors import StoreError
from db.schema import MIGRATIONS_DIR, current_version, load_migrations, migrate
from db.store import Store, open_database, open_store
from tests.db.conftest import PASSWORD, TEST_BCRYPT_ROUNDS

LATEST = len(load_migrations("sqlite"))
TABLES = ("users", "workbooks", "runs", "audit")

# A plausible next version, written for each dialect, to test upgrading a database with data.
NEXT = {
    "sqlite": "ALTER TABLE workbooks ADD COLUMN note TEXT NOT NULL DEFAULT '';\n"
              "CREATE INDEX workbooks_note ON workbooks (note);\n",
    "postgres": "ALTER TABLE workbooks ADD COLUMN note text NOT NULL DEFAULT '';\n"
                "CREATE INDEX workbooks_note ON workbooks (note);\n",
}


def versions(settings: Settings) -> list[int]:
    db = open_database(settings)
    try:
        with db.transaction() as tx:
            return [r["version"] for r in tx.all("SELECT version FROM schema_version"
                                                 " ORDER BY version")]
    finally:
        db.close()


def with_next_version(tmp_path: Path, sql_by_dialect: dict[str, str]) -> Path:
    """A copy of the real migrations plus one more file per dialect."""
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    for dialect, sql in sql_by_dialect.items():
        (directory / dialect / f"{LATEST + 1:04d}_next.sql").write_text(sql)
    return directory


def test_both_dialects_have_the_same_versions() -> None:
    sqlite, postgres = load_migrations("sqlite"), load_migrations("postgres")
    assert LATEST >= 1
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in postgres]


def test_empty_database_migrates_to_latest_once(store_settings: Settings) -> None:
    db = open_database(store_settings)
    try:
        assert migrate(db) == list(range(1, LATEST + 1))
        assert migrate(db) == []
        with db.transaction() as tx:
            assert current_version(tx) == LATEST
            for table in TABLES:
                assert tx.one(f"SELECT COUNT(*) AS n FROM {table}")["n"] == 0
    finally:
        db.close()
    open_store(store_settings).close()
    assert versions(store_settings) == list(range(1, LATEST + 1))


@pytest.mark.parametrize("start", range(LATEST))
def test_upgrade_from_each_earlier_version(store_settings: Settings, start: int) -> None:
    db = open_database(store_settings)
    try:
        assert migrate(db, target=start) == list(range(1, start + 1))
    finally:
        db.close()
    with open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) as store:
        assert store.create_user("alice", PASSWORD).id == 1
    assert versions(store_settings) == list(range(1, LATEST + 1))


def test_upgrade_to_the_next_version_keeps_the_data(store_settings: Settings,
                                                    tmp_path: Path) -> None:
    with open_store(store_settings, bcrypt_rounds=TEST_BCRYPT_ROUNDS) as store:
        alice = Actor.for_user(store.create_user("alice", PASSWORD))
        wb = store.add_workbook(alice, "a.xlsx", "h", 10, "/a.xlsx")
        run = store.create_run(alice, wb.id, {"outputs": ["S!A1"]}, 1, 10, "mc", "cpu", "0.1")
        run = store.set_run_status(run.id, "done", summary={"mean": 2.0})
    directory = with_next_version(tmp_path, NEXT)
    db = open_database(store_settings)
    try:
        assert migrate(db, directory=directory) == [LATEST + 1]
        assert migrate(db, directory=directory) == []
        with db.transaction() as tx:
            assert tx.one("SELECT note FROM workbooks WHERE id = ?", (wb.id,))["note"] == ""
        store = Store(db, bcrypt_rounds=TEST_BCRYPT_ROUNDS)
        assert store.get_workbook(alice, wb.id) == wb
        assert store.get_run(alice, run.id) == run
        assert store.verify_password("alice", PASSWORD) is not None
    finally:
        db.close()
    # This program only knows the real versions: a database one step ahead is refused.
    with pytest.raises(StoreError, match="newer than this program"):
        open_store(store_settings)


def test_a_failing_migration_changes_nothing(store_settings: Settings, tmp_path: Path) -> None:
    open_store(store_settings).close()
    broken = "CREATE TABLE extra (id integer);\nINSERT INTO no_such_table VALUES (1);\n"
    directory = with_next_version(tmp_path, {"sqlite": broken, "postgres": broken})
    db = open_database(store_settings)
    try:
        with pytest.raises(StoreError, match=rf"Migration {LATEST + 1:04d}_next .* failed"):
            migrate(db, directory=directory)
        with db.transaction() as tx:
            assert current_version(tx) == LATEST
            with pytest.raises(db.error):
                tx.one("SELECT * FROM extra")
    finally:
        db.close()


def test_processes_opening_together_migrate_once(store_settings: Settings) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        try:
            barrier.wait()
            open_store(store_settings).close()
        except BaseException as exc:  # collected: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert versions(store_settings) == list(range(1, LATEST + 1))


def test_migration_files_are_checked(tmp_path: Path) -> None:
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "sqlite" / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "sqlite" / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="skip from 1 to 3"):
        load_migrations("sqlite", tmp_path)
    (tmp_path / "sqlite" / "0003_c.sql").unlink()
    (tmp_path / "sqlite" / "2_b.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="not named NNNN_name.sql"):
        load_migrations("sqlite", tmp_path)
