"""The SQL console's sandbox, proven layer by layer.

Every hostile statement is shown to be refused twice: by the statement filter, with a clear
sentence, through ``SqlConsole.execute``; and, where the statement touches anything outside the
user's runs, by DuckDB's own lock-down alone, on a connection from ``open_sandbox`` that no filter
guards. Either layer would hold without the other.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from db.console import ConsoleError, SqlConsole, check_statement, open_sandbox
from db.samples import SampleFiles, sql_string


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs of the acting user, one of someone else, and a secret beside them.

    The user's data folder has a single quote in its path (every view must quote it). Run 1 is
    stored as chunk parts (three parts; the middle one has no "Profit error" column because that
    chunk had no error), run 2 as the single file of a run from before chunking, with a
    temporary file of an interrupted write beside its parts, which no view may read.
    """
    root = tmp_path_factory.mktemp("data")
    mine = SampleFiles(root / "o'brien's data")
    mine.write_part(1, 0, pa.table({
        "iteration": [1, 2], "Sheet1!A1": [1.0, 2.0],
        "Profit": pa.array([10.0, None], pa.float64()),
        "Profit error": pa.array([None, "#DIV/0!"], pa.string())}), {"summary": "{}"})
    mine.write_part(1, 2, pa.table({"iteration": [3], "Sheet1!A1": [3.0], "Profit": [30.0]}))
    mine.write_part(1, 3, pa.table({
        "iteration": [4], "Sheet1!A1": [4.0], "Profit": pa.array([None], pa.float64()),
        "Profit error": pa.array(["#VALUE!"], pa.string())}))
    half = mine.run_dir(1) / ".part-000000000004.1.abc.tmp"
    pq.write_table(pa.table({"iteration": [5], "Profit": [1e9]}), half)
    mine2 = mine.write(2, pa.table({"iteration": [1, 2], "Profit": [5.0, 7.0]}))
    theirs = SampleFiles(root / "other").write(99, pa.table({"secret_salary": [250_000.0]}))
    secret = root / "secret.csv"
    secret.write_text("password\nhunter2\n")
    return {"mine1": mine.run_dir(1), "mine2": mine2, "theirs": theirs, "secret": secret,
            "root": root, "half": half}


@pytest.fixture(scope="module")
def console(files: dict[str, Path]):
    with SqlConsole({1: files["mine1"], 2: files["mine2"]}, timeout_s=10) as con:
        yield con


LEGITIMATE = [
    ("SELECT count(*) FROM run_1", [(4,)]),
    ('select avg("Profit") from run_1', [(20.0,)]),
    ('SELECT "Profit error", count(*) FROM run_1 WHERE "Profit error" IS NOT NULL '
     'GROUP BY 1 ORDER BY 1', [("#DIV/0!", 1), ("#VALUE!", 1)]),
    ("SELECT * FROM runs ORDER BY run_id", [(1, "run_1"), (2, "run_2")]),
    ('WITH p AS (SELECT "Profit" AS v FROM run_2) SELECT sum(v) FROM p;', [(12.0,)]),
    ('FROM run_1 a JOIN run_2 b USING (iteration) SELECT a.iteration, b."Profit" '
     'ORDER BY 1', [(1, 5.0), (2, 7.0)]),
    ("-- a comment first\nSELECT max(iteration) FROM run_2 /* and one after */", [(2,)]),
    ("SELECT 'a;b' AS s", [("a;b",)]),
    ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3) "
     "SELECT sum(i) FROM r", [(6,)]),
    ("SELECT count(*) FROM range(1000)", [(1000,)]),
    ("SELECT column_name FROM information_schema.columns WHERE table_name = 'run_2' "
     "ORDER BY ordinal_position", [("iteration",), ("Profit",)]),
    ("VALUES (1, 'x')", [(1, "x")]),
]


@pytest.mark.parametrize("sql, rows", LEGITIMATE)
def test_legitimate_queries(console: SqlConsole, sql: str, rows: list[tuple]) -> None:
    result = console.execute(sql)
    assert result.rows == rows and not result.truncated and result.elapsed >= 0


@pytest.mark.parametrize("sql, first_column", [
    ("DESCRIBE run_1", "column_name"),
    ("SHOW run_1", "column_name"),
    ("SHOW TABLES", "name"),
    ("SHOW ALL TABLES", "database"),
    ("SUMMARIZE run_1", "column_name"),
    ('SUMMARIZE SELECT "Profit" FROM run_2', "column_name"),
])
def test_describe_show_summarize(console: SqlConsole, sql: str, first_column: str) -> None:
    result = console.execute(sql)
    assert result.columns[0] == first_column and result.rows


def hostile(files: dict[str, Path]) -> list[tuple[str, str]]:
    """(statement, expected words of the refusal)."""
    theirs, secret = files["theirs"], files["secret"]
    out = files["root"] / "stolen.csv"
    return [
        ("SELECT * FROM read_csv('/etc/passwd')", "Reading files is not allowed"),
        ("select * from READ_CSV_AUTO('/etc/passwd', sep = ':')", "Reading files is not allowed"),
        ("SeLeCt * FrOm Read_Text('/etc/passwd')", "Reading files is not allowed"),
        ("SELECT * FROM read_blob('/etc/hostname')", "Reading files is not allowed"),
        ("SELECT * FROM glob('/*')", "Reading files is not allowed"),
        ("SELECT * FROM '/etc/passwd'", "Reading files is not allowed"),
        ("FROM '/etc/passwd'", "Reading files is not allowed"),
        (f"SELECT * FROM '{secret}'", "Reading files is not allowed"),
        (f"SELECT * FROM read_parquet('{theirs}')", "Reading files is not allowed"),
        (f"SELECT * FROM '{theirs}'", "Reading files is not allowed"),
        ('SELECT * FROM "runs/99.parquet"', "Reading files is not allowed"),
        ("SELECT * FROM run_99", "no table run_99"),
        (f"SELECT * FROM parquet_metadata('{theirs}')", "Reading files is not allowed"),
        ("SELECT * FROM sniff_csv('/etc/passwd')", "Reading files is not allowed"),
        ("WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM t",
         "Reading files is not allowed"),
        ("SELECT * FROM run_1 WHERE iteration IN (SELECT 1 FROM read_text('/etc/passwd'))",
         "Reading files is not allowed"),
        ("SELECT * FROM run_1 UNION ALL SELECT * FROM '/etc/passwd'",
         "Reading files is not allowed"),
        ("SUMMARIZE SELECT * FROM read_csv('/etc/passwd')", "Reading files is not allowed"),
        ("DESCRIBE '/etc/passwd'", "Reading files is not allowed"),
        ("SHOW '/etc/passwd'", "Reading files is not allowed"),
        ("SELECT * FROM 'https://example.com/data.parquet'", "URLs are not allowed"),
        ("SELECT * FROM read_parquet('s3://bucket/data.parquet')", "Reading files"),
        ("SELECT 'http://example.com/x' AS u", "URLs are not allowed"),
        (f"COPY run_1 TO '{out}'", "COPY is not allowed"),
        (f"copy (select 1) to '{out}' (FORMAT parquet)", "COPY is not allowed"),
        (f"COPY run_1 FROM '{secret}'", "COPY is not allowed"),
        (f"ATTACH '{files['root'] / 'evil.duckdb'}' AS evil", "ATTACH is not allowed"),
        ("ATTACH ':memory:' AS scratch", "ATTACH is not allowed"),
        ("DETACH views", "DETACH is not allowed"),
        ("USE views", "USE is not allowed"),
        ("INSTALL httpfs", "Installing extensions"),
        ("FORCE INSTALL httpfs FROM community", "Installing extensions"),
        ("LOAD httpfs", "Loading extensions"),
        ("UPDATE EXTENSIONS", "Updating extensions"),
        ("SET enable_external_access = true", "SET is not allowed"),
        ("set lock_configuration = false", "SET is not allowed"),
        ("SET allowed_directories = ['/']", "SET is not allowed"),
        ("SET VARIABLE x = 1", "SET is not allowed"),
        ("RESET enable_external_access", "RESET is not allowed"),
        ("PRAGMA enable_profiling", "PRAGMA is not allowed"),
        ("PRAGMA database_list", "PRAGMA is not allowed"),
        ("CALL pragma_version()", "CALL is not allowed"),
        (f"EXPORT DATABASE '{files['root'] / 'dump'}'", "EXPORT DATABASE is not allowed"),
        (f"IMPORT DATABASE '{files['root']}'", "IMPORT DATABASE is not allowed"),
        ("CREATE TABLE t AS SELECT * FROM run_1", "read-only"),
        ("create temp table t as select 1", "read-only"),
        ("CREATE OR REPLACE VIEW run_1 AS SELECT 1", "read-only"),
        ("CREATE SECRET (TYPE s3, KEY_ID 'a', SECRET 'b')", "read-only"),
        ("INSERT INTO run_1 VALUES (1)", "read-only"),
        ("UPDATE run_1 SET iteration = 0", "read-only"),
        ("DELETE FROM run_1", "read-only"),
        ("DROP VIEW run_1", "read-only"),
        ("ALTER VIEW run_1 RENAME TO r", "read-only"),
        ("CHECKPOINT", "CHECKPOINT is not allowed"),
        ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN is not allowed"),
        ("PIVOT run_1 ON iteration", "PIVOT is not allowed"),
        ("SELECT 1; SELECT 2", "Only one statement at a time"),
        (f"SELECT 1; COPY run_1 TO '{out}'", "Only one statement at a time"),
        ("SELECT 1 /* harmless */; DROP VIEW run_1", "Only one statement at a time"),
        ("SELECT 1 -- comment\n; ATTACH ':memory:' AS x", "Only one statement at a time"),
        ("SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')",
         "table function query is not allowed"),
        ("SELECT * FROM query_table('run_1')", "table function query_table is not allowed"),
        ("SELECT * FROM json_execute_serialized_sql('{}')",
         "table function json_execute_serialized_sql"),
        ("SELECT * FROM arrow_scan(0, 0, 0)", "table function arrow_scan is not allowed"),
        ("SELECT * FROM duckdb_settings()", "table function duckdb_settings is not allowed"),
        ("SELECT * FROM duckdb_secrets()", "table function duckdb_secrets is not allowed"),
        ("SELECT * FROM duckdb_views()", "table function duckdb_views is not allowed"),
        ("SELECT current_setting('allowed_paths')", "function current_setting is not allowed"),
        ("SELECT * FROM information_schema.views", "no table information_schema.views"),
        ("SELECT * FROM secret_table", "no table secret_table"),
        ("", "Enter a SELECT query"),
        ("SELEC 1", "not valid SQL"),
    ]


def test_at_least_twenty_hostile_statements(files: dict[str, Path]) -> None:
    assert len(hostile(files)) >= 20


def test_each_hostile_statement_is_refused_with_a_clear_sentence(
        console: SqlConsole, files: dict[str, Path]) -> None:
    secret_table = pa.table({"x": [1]})  # a Python variable DuckDB must not scan  # noqa: F841
    before = sorted(files["root"].rglob("*"))
    for sql, words in hostile(files):
        with pytest.raises(ConsoleError) as caught:
            console.execute(sql)
        message = str(caught.value)
        assert words in message, (sql, message)
        assert "\n" not in message and message.endswith((".", "!")), (sql, message)
    assert sorted(files["root"].rglob("*")) == before  # nothing written
    assert files["secret"].read_text() == "password\nhunter2\n"
    assert console.execute("SELECT count(*) FROM run_1").rows == [(4,)]  # still usable


@pytest.fixture
def raw(files: dict[str, Path], tmp_path: Path):
    """The lock-down alone: a sandbox connection that no statement filter guards."""
    con = open_sandbox({1: files["mine1"]}, tmp_path)
    yield con
    con.close()


def lockdown_hostile(files: dict[str, Path], tmp_path: Path) -> list[str]:
    theirs, secret, out = files["theirs"], files["secret"], files["root"] / "stolen.csv"
    return [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM '/etc/passwd'",
        f"SELECT * FROM '{secret}'",
        f"SELECT * FROM read_parquet('{theirs}')",
        f"SELECT * FROM '{theirs}'",
        f"SELECT * FROM parquet_metadata('{theirs}')",
        "SELECT * FROM 'https://example.com/data.parquet'",
        f"COPY (SELECT 1) TO '{out}'",
        f"COPY (SELECT 1) TO '{tmp_path / 'views.duckdb'}'",
        f"ATTACH '{files['root'] / 'evil.duckdb'}' AS evil",
        f"EXPORT DATABASE '{files['root'] / 'dump'}'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "SET allowed_directories = ['/']",
        f"SET allowed_paths = ['{secret}']",
        "SET python_enable_replacements = true",
        "SET autoinstall_known_extensions = true",
        "CREATE TABLE t AS SELECT 1",
        "CREATE OR REPLACE VIEW run_1 AS SELECT 1",
        "DROP VIEW run_1",
        "SELECT * FROM secret_table",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')",
    ]


def test_duckdb_itself_refuses_without_the_filter(raw: duckdb.DuckDBPyConnection,
                                                  files: dict[str, Path],
                                                  tmp_path: Path) -> None:
    secret_table = pa.table({"x": [1]})  # noqa: F841  (the replacement scan would find it)
    before = sorted(files["root"].rglob("*"))
    for sql in lockdown_hostile(files, tmp_path):
        with pytest.raises(duckdb.Error) as caught:
            raw.execute(sql).fetchall()
        assert isinstance(caught.value, duckdb.PermissionException | duckdb.InvalidInputException
                          | duckdb.CatalogException | duckdb.BinderException), (sql, caught.value)
    assert sorted(files["root"].rglob("*")) == before
    assert raw.execute("SELECT count(*) FROM run_1").fetchall() == [(4,)]


def test_the_lockdown_settings(raw: duckdb.DuckDBPyConnection, files: dict[str, Path],
                               tmp_path: Path) -> None:
    settings = dict(raw.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
        "'lock_configuration', 'python_enable_replacements', 'autoinstall_known_extensions', "
        "'autoload_known_extensions', 'allow_community_extensions', 'allowed_paths', "
        "'allowed_directories', 'temp_directory')").fetchall())
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"
    for name in ("python_enable_replacements", "autoinstall_known_extensions",
                 "autoload_known_extensions", "allow_community_extensions"):
        assert settings[name] == "false", name
    # exactly the run's files, each by name: not its folder, whose temporary file is not data
    allowed = [p for p in raw.execute("SELECT current_setting('allowed_paths')").fetchall()[0][0]
               if not p.startswith(f"{tmp_path}/")]  # DuckDB adds its own catalog files
    parts = SampleFiles(files["root"] / "o'brien's data").parts(1)
    assert sorted(allowed) == sorted(str(p.resolve()) for p in parts) and len(parts) == 3
    assert str(files["theirs"]) not in settings["allowed_paths"]
    # DuckDB always allows its spill folder: it must be the console's private one
    assert settings["temp_directory"] == str(tmp_path / "spill")
    assert settings["allowed_directories"] == f"[{tmp_path / 'spill'}/]"


def test_only_harmless_statements_get_past_the_lockdown(raw: duckdb.DuckDBPyConnection,
                                                        tmp_path: Path) -> None:
    """What DuckDB alone lets through touches no file and nothing shared: temporary objects in
    this connection's memory, version information, the private spill folder. The filter refuses
    these too."""
    spill = tmp_path / "spill"
    raw.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
    # DuckDB always lets COPY write into its spill folder: the console's private one, deleted
    # on close, and the filter refuses COPY anyway
    raw.execute(f"COPY (SELECT 1) TO '{spill / 'x.csv'}'")
    assert (spill / "x.csv").is_file()
    raw.execute("SET VARIABLE v = 1")
    assert raw.execute("CALL pragma_version()").fetchall()
    for sql in ("CREATE TEMP TABLE scratch AS SELECT 1 AS x", "SET VARIABLE v = 1",
                "CALL pragma_version()", f"COPY (SELECT 1) TO '{spill / 'x.csv'}'"):
        with pytest.raises(ConsoleError):
            check_statement(raw, sql, {"run_1"})


def test_time_limit_interrupts_a_slow_query(files: dict[str, Path]) -> None:
    with SqlConsole({1: files["mine1"]}, timeout_s=0.5) as con:
        start = time.perf_counter()
        with pytest.raises(ConsoleError, match="stopped at the time limit of 0.5 s"):
            con.execute("SELECT count(*) FROM range(100000000) a, range(100000000) b "
                        "WHERE a.range + b.range = -1")
        assert time.perf_counter() - start < 5
        assert con.execute("SELECT 42").rows == [(42,)]  # the interrupt does not linger


def test_row_limit(files: dict[str, Path]) -> None:
    with SqlConsole({1: files["mine1"]}, row_limit=1000) as con:
        over = con.execute("SELECT range AS i FROM range(25000) ORDER BY i DESC")
        assert len(over.rows) == 1000 and over.truncated
        assert over.rows[0] == (24999,) and over.columns == ["i"]
        exact = con.execute("SELECT * FROM range(1000)")
        assert len(exact.rows) == 1000 and not exact.truncated


def test_one_query_at_a_time_from_several_threads(console: SqlConsole) -> None:
    results: list[list[tuple]] = []
    threads = [threading.Thread(target=lambda: results.append(
        console.execute("SELECT count(*) FROM run_1").rows)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[(4,)]] * 8


def test_close_removes_the_private_folder(files: dict[str, Path]) -> None:
    con = SqlConsole({1: files["mine1"]})
    folder = con._workdir
    assert folder.name.startswith("xlsim-console-") and (folder / "views.duckdb").is_file()
    con.close()
    con.close()
    assert not folder.exists()
    with pytest.raises(ConsoleError, match="closed"):
        con.execute("SELECT 1")


def test_no_runs_and_a_missing_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SqlConsole({}) as con:
        assert con.execute("SELECT * FROM runs").rows == []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    empty = tmp_path / "runs" / "7"
    empty.mkdir(parents=True)
    for missing in (tmp_path / "5.parquet", tmp_path / "runs" / "6", empty):
        with pytest.raises(ConsoleError, match="run's samples cannot be opened"):
            SqlConsole({5: missing})
    assert list(scratch.iterdir()) == []  # the private folder of the failed console is gone


def test_a_view_reads_its_runs_parts_as_one_table(console: SqlConsole) -> None:
    """Parts with and without the error column read as one table, in iteration order; the
    temporary file of an interrupted chunk beside them is not part of the run."""
    result = console.execute('SELECT iteration, "Profit", "Profit error" FROM run_1 '
                             "ORDER BY iteration")
    assert result.rows == [(1, 10.0, None), (2, None, "#DIV/0!"), (3, 30.0, None),
                           (4, None, "#VALUE!")]
    described = console.execute("DESCRIBE run_1")
    assert [row[0] for row in described.rows] == ["iteration", "Sheet1!A1", "Profit",
                                                  "Profit error"]
    assert console.execute('SELECT "Profit" FROM run_2 ORDER BY iteration').rows == [
        (5.0,), (7.0,)]  # the single-file run beside it


def own_files(files: dict[str, Path]) -> list[str]:
    """Statements that read the user's own samples directly, not through the views."""
    part = str(SampleFiles(files["root"] / "o'brien's data").parts(1)[0])
    folder = str(files["mine1"])
    return [
        f"SELECT * FROM read_parquet({sql_string(part)})",
        f"SELECT * FROM read_parquet([{sql_string(part)}], union_by_name = true)",
        f"SELECT * FROM {sql_string(part)}",
        f"SELECT * FROM {sql_string(folder + '/*.parquet')}",
        f"SELECT * FROM read_parquet({sql_string(folder + '/*.parquet')})",
        f"SELECT * FROM read_parquet({sql_string(str(files['half']))})",
        f"SELECT * FROM glob({sql_string(folder + '/*')})",
    ]


def test_user_sql_cannot_read_even_the_users_own_files(console: SqlConsole,
                                                       files: dict[str, Path]) -> None:
    for sql in own_files(files):
        with pytest.raises(ConsoleError, match="Reading files is not allowed"):
            console.execute(sql)


def test_duckdb_itself_reads_no_glob_nor_file_beyond_the_listed_parts(
        raw: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> None:
    """The views name their files one by one, so the lock-down needs no folder: the temporary
    file beside the parts, and globs over the user's folder or everyone's, stay closed."""
    root, folder = str(files["root"]), str(files["mine1"])
    for sql in (f"SELECT * FROM read_parquet({sql_string(str(files['half']))})",
                f"SELECT * FROM read_parquet({sql_string(folder + '/*.parquet')})",
                f"SELECT * FROM read_parquet({sql_string(folder + '/.*.tmp')})",
                f"SELECT * FROM read_parquet({sql_string(root + '/**/*.parquet')})",
                f"SELECT * FROM glob({sql_string(folder + '/*')})"):
        with pytest.raises(duckdb.PermissionException):
            raw.execute(sql).fetchall()
    assert raw.execute("SELECT count(*) FROM run_1").fetchall() == [(4,)]
