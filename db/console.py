"""The analysts' ad-hoc SQL console: DuckDB over the acting user's runs, and nothing else.

Untrusted SQL meets DuckDB, which can read and write any file the process can, download and load
extensions, and attach other databases. Two independent layers keep a query inside the user's own
runs, and the tests prove each layer on its own:

1. DuckDB's own lock-down (:func:`open_sandbox`). The views live in a catalog file opened
   read-only, so nothing can be created, changed or dropped in it; each view reads the explicit
   list of its run's files (``db.samples.duckdb_source``: the chunk parts, or the single file of
   an older run), never a glob. Then ``allowed_paths`` lists exactly those Parquet files,
   ``enable_external_access = false`` closes every other file, URL, ``ATTACH``, ``COPY``,
   ``EXPORT`` and extension install/load, and ``lock_configuration = true`` makes every setting
   final, so no ``SET``/``RESET`` can reopen them. Python-variable scans and
   extension autoloading are off. DuckDB always allows its temporary directory
   (``allowed_directories``), so it is a private folder of this console, deleted on close, not
   the default ``.tmp`` in the working directory.
2. A statement filter (:func:`check_statement`) that refuses anything else before DuckDB runs
   it, with one sentence saying why: it parses the text with DuckDB's own parser (so comments and
   quoted semicolons cannot hide a second statement), accepts one SELECT-type statement
   (SELECT, WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE) and walks its syntax tree:
   tables must be the run views or the query's own CTEs (a quoted path such as
   ``FROM '/etc/passwd'`` is a table name to DuckDB's replacement scans), table functions must
   be on a short list of harmless ones, and no string may be a URL.

The caller passes only the acting user's runs, so a console never has a view, nor an allowed
path, for anyone else's file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from db.samples import duckdb_source, sample_files, sql_string


class ConsoleError(Exception):
    """A statement the console refuses or could not run; the message is one sentence for the
    user."""


@dataclass(frozen=True)
class ConsoleResult:
    """A query's answer: at most ``row_limit`` rows, ``truncated`` when there were more."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed: float
    """Seconds from the start of execution to the last row fetched."""


ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest",
    "duckdb_columns", "duckdb_tables", "duckdb_types", "duckdb_functions", "duckdb_keywords",
})
"""Table functions a query may call: generators and catalog listings. Everything else is refused:
the file readers (read_csv, read_parquet, read_json, read_text, read_blob, glob, parquet_*,
sniff_csv), ``query``/``query_table``/``json_execute_serialized_sql`` (SQL inside a string), the
pointer scans of the Python client (arrow_scan, pandas_scan), settings, secrets, logs, and
duckdb_views (its SQL shows the server's paths)."""

DENIED_FUNCTIONS = frozenset({"current_setting", "getenv", "write_log"})
"""Scalar functions refused: settings (they show server paths), environment, the log."""

_ALLOWED_SCHEMAS = frozenset({"", "main"})
_CATALOG_VIEWS = frozenset({"tables", "columns", "schemata"})
"""information_schema views a query may read (not ``views``: its SQL shows the server's paths)."""
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$ ]*")
_URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)

_FILE_WORDS = "the console cannot read or write files"
_REFUSALS = {
    "COPY": f"COPY is not allowed: {_FILE_WORDS}.",
    "EXPORT": f"EXPORT DATABASE is not allowed: {_FILE_WORDS}.",
    "IMPORT": f"IMPORT DATABASE is not allowed: {_FILE_WORDS}.",
    "ATTACH": "ATTACH is not allowed: the console sees only the views of your runs.",
    "DETACH": "DETACH is not allowed: the console sees only the views of your runs.",
    "USE": "USE is not allowed: the console sees only the views of your runs.",
    "INSTALL": "Installing extensions is not allowed in the console.",
    "UPDATE EXTENSIONS": "Updating extensions is not allowed in the console.",
    "FORCE": "Installing extensions is not allowed in the console.",
    "LOAD": "Loading extensions is not allowed in the console.",
    "SET": "SET is not allowed: the console's settings cannot be changed.",
    "RESET": "RESET is not allowed: the console's settings cannot be changed.",
    "PRAGMA": "PRAGMA is not allowed: use DESCRIBE or SHOW to look at the runs.",
    "CALL": "CALL is not allowed: the console only runs queries.",
}


def check_statement(con: duckdb.DuckDBPyConnection, sql: str, views: set[str]) -> str:
    """The one statement in ``sql`` if the console may run it; otherwise ConsoleError.

    ``views`` are the lower-case names of the tables a query may read. Parsing uses ``con``'s
    parser only (nothing is executed beyond ``json_serialize_sql``, a pure function).
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise ConsoleError(f"The statement is not valid SQL: {_first_line(exc)}") from exc
    if not statements:
        raise ConsoleError("Enter a SELECT query.")
    if len(statements) > 1:
        raise ConsoleError("Only one statement at a time is allowed.")
    statement = statements[0]
    try:
        is_select = statement.type == duckdb.StatementType.SELECT
    except ValueError:  # a statement type the Python client cannot name (UPDATE EXTENSIONS)
        is_select = False
    if not is_select:
        keyword = _first_keyword(statement.query)
        raise ConsoleError(_REFUSALS.get(
            keyword, f"{keyword or 'This statement'} is not allowed: the console is read-only "
                     "and runs only SELECT, WITH, DESCRIBE, SHOW and SUMMARIZE queries."))
    text = statement.query.strip().rstrip(";").rstrip()
    serialized = json.loads(
        con.execute("SELECT json_serialize_sql($1)", [text]).fetchall()[0][0])
    if serialized.get("error") or len(serialized.get("statements", ())) != 1:
        raise ConsoleError("The console could not check this query, so it does not run it: "
                           f"{serialized.get('error_message', 'unsupported syntax')}.")
    _check_tree(serialized["statements"][0], views)
    return text


def open_sandbox(paths_by_run: Mapping[int, os.PathLike[str] | str], workdir: Path, *,
                 memory_limit: str = "2GB", temp_limit: str = "4GB",
                 threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """DuckDB locked down to the given runs: views ``run_<id>`` and ``runs`` in a read-only
    catalog, no other file, URL or extension, settings frozen (see the module's docstring).

    ``workdir`` is a private empty folder: it holds the catalog file and the spill folder, the
    only places DuckDB itself may still touch.
    """
    try:
        views = _view_definitions(paths_by_run)
    except FileNotFoundError as exc:
        raise ConsoleError(f"A run's samples cannot be opened: {_first_line(exc)}") from exc
    catalog = workdir / "views.duckdb"
    spill = workdir / "spill"
    spill.mkdir()
    with duckdb.connect(str(catalog)) as writer:  # trusted SQL: the paths are the app's own
        for sql in views:
            try:
                writer.execute(sql)
            except duckdb.Error as exc:
                raise ConsoleError(f"A run's samples cannot be opened: {_first_line(exc)}") \
                    from exc
    con = duckdb.connect(str(catalog), read_only=True, config={
        "temp_directory": str(spill),
        "max_temp_directory_size": temp_limit,
        "memory_limit": memory_limit,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "python_enable_replacements": False,
        **({"threads": threads} if threads else {}),
    })
    try:
        allowed = ", ".join(sql_string(str(f)) for p in paths_by_run.values()
                            for f in sample_files(p))
        con.execute(f"SET allowed_paths = [{allowed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


class SqlConsole:
    """One user's console session: ``execute(sql)`` runs one checked query under the limits.

    Build it with the acting user's runs only (``{run_id: samples path}``); each becomes the view
    ``run_<id>``, and ``runs`` lists them. Close it (or use it as a context manager) to drop its
    DuckDB and private folder; a forgotten console is cleaned up when garbage-collected.
    """

    def __init__(self, paths_by_run: Mapping[int, os.PathLike[str] | str],
                 row_limit: int = 10_000, timeout_s: float = 10, *,
                 memory_limit: str = "2GB", threads: int | None = None) -> None:
        if row_limit < 1 or timeout_s <= 0:
            raise ValueError("row_limit and timeout_s must be positive")
        self.row_limit = row_limit
        self.timeout_s = timeout_s
        self.views = frozenset({"runs", *(f"run_{run_id}" for run_id in paths_by_run)})
        self._lock = threading.Lock()
        workdir = Path(tempfile.mkdtemp(prefix="xlsim-console-"))
        try:
            self._con = open_sandbox(paths_by_run, workdir, memory_limit=memory_limit,
                                     threads=threads)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._workdir = workdir
        self._close = weakref.finalize(self, _dispose, self._con, workdir)

    def execute(self, sql: str) -> ConsoleResult:
        """Run one query: refused with ConsoleError before it starts unless it passes
        :func:`check_statement`; stopped with ConsoleError after ``timeout_s`` (a timer thread
        interrupts DuckDB); at most ``row_limit`` rows come back."""
        with self._lock:
            if not self._close.alive:
                raise ConsoleError("The console is closed.")
            text = check_statement(self._con, sql, set(self.views))
            timer = threading.Timer(self.timeout_s, self._con.interrupt)
            start = time.perf_counter()
            timer.start()
            try:
                relation = self._con.sql(text)
                rows = relation.limit(self.row_limit + 1).fetchall()
                columns = list(relation.columns)
            except duckdb.InterruptException as exc:
                raise ConsoleError(f"The query was stopped at the time limit of "
                                   f"{self.timeout_s:g} s.") from exc
            except duckdb.PermissionException as exc:
                raise ConsoleError("The console cannot access files, URLs or extensions: "
                                   f"{_first_line(exc)}") from exc
            except duckdb.OutOfMemoryException as exc:
                raise ConsoleError("The query needs more memory than the console allows; "
                                   "filter or aggregate more.") from exc
            except duckdb.Error as exc:
                raise ConsoleError(f"The query failed: {_first_line(exc)}") from exc
            finally:
                timer.cancel()
            elapsed = time.perf_counter() - start
        truncated = len(rows) > self.row_limit
        return ConsoleResult(columns, rows[: self.row_limit], truncated, elapsed)

    def close(self) -> None:
        """Close DuckDB and delete the console's private folder (idempotent)."""
        self._close()

    def __enter__(self) -> SqlConsole:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _dispose(con: duckdb.DuckDBPyConnection, workdir: Path) -> None:
    con.close()
    shutil.rmtree(workdir, ignore_errors=True)


def _view_definitions(paths_by_run: Mapping[int, os.PathLike[str] | str]) -> list[str]:
    sql = []
    rows = []
    for run_id, path in sorted(paths_by_run.items()):
        if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 0:
            raise ValueError(f"a run id is a non-negative integer, not {run_id!r}")
        sql.append(f"CREATE VIEW run_{run_id} AS SELECT * FROM {duckdb_source(path)}")
        rows.append(f"({run_id}, 'run_{run_id}')")
    listing = (f"SELECT * FROM (VALUES {', '.join(rows)}) AS t(run_id, view_name)" if rows
               else "SELECT NULL::BIGINT AS run_id, NULL::VARCHAR AS view_name WHERE false")
    sql.append(f"CREATE VIEW runs AS {listing}")
    return sql


def _check_tree(tree: Any, views: set[str]) -> None:
    """Refuse a parsed SELECT that reads anything but ``views`` and its own CTEs."""
    nodes = list(_walk(tree))
    ctes = {entry["key"].lower() for node in nodes
            for entry in (node.get("cte_map") or {}).get("map", ()) if _is_plain(entry["key"])}
    readable = views | ctes
    for node in nodes:
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = node["function"]["function_name"].lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise ConsoleError(_function_refusal(name, views))
        elif kind == "BASE_TABLE" or (kind == "SHOW_REF" and node.get("table_name")
                                      and node.get("show_type") != "SHOW_SPECIAL"):
            _check_table(node, readable, views)
        elif node.get("class") == "FUNCTION":
            name = node["function_name"].lower()
            if name in DENIED_FUNCTIONS or name.startswith("read_"):
                raise ConsoleError(f"The function {name} is not allowed in the console.")
        elif node.get("class") == "CONSTANT":
            literal = node.get("literal") or {}
            if isinstance(literal.get("text"), str) and _URL.match(literal["text"]):
                raise ConsoleError("URLs are not allowed: the console has no network access.")


def _check_table(node: dict[str, Any], readable: set[str], views: set[str]) -> None:
    name = node.get("table_name") or ""
    catalog = (node.get("catalog_name") or "").lower()
    schema = (node.get("schema_name") or "").lower()
    if _URL.match(name):
        raise ConsoleError("URLs are not allowed: the console has no network access.")
    if not _is_plain(name):
        raise ConsoleError(f"Reading files is not allowed ({name!r}): query the views of your "
                           f"runs instead ({_listing(views)}).")
    if schema == "information_schema" and catalog in ("", "system") \
            and name.lower() in _CATALOG_VIEWS:
        return
    if catalog not in ("", "views") or schema not in _ALLOWED_SCHEMAS \
            or name.lower() not in readable:
        shown = ".".join(part for part in (catalog, schema, name) if part)
        raise ConsoleError(f"There is no table {shown} here: the console sees only the views of "
                           f"your runs ({_listing(views)}).")


def _function_refusal(name: str, views: set[str]) -> str:
    if name.startswith(("read_", "parquet_")) or name in {"glob", "sniff_csv", "parquet_scan"}:
        return (f"Reading files is not allowed ({name}): query the views of your runs instead "
                f"({_listing(views)}).")
    return f"The table function {name} is not allowed in the console."


def _listing(views: set[str]) -> str:
    return ", ".join(sorted(views, key=lambda v: (v != "runs", len(v), v)))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_plain(name: str) -> bool:
    """A name that cannot be a path or URL to DuckDB's replacement scans."""
    return bool(_PLAIN_NAME.fullmatch(name))


def _first_keyword(sql: str) -> str:
    """The statement's leading keyword (two for UPDATE EXTENSIONS), for the refusal message."""
    rest = sql[_LEADING_NOISE.match(sql).end():]
    word = re.match(r"update\s+extensions\b|[a-z_]+", rest, re.I)
    return " ".join(word.group(0).upper().split()) if word else ""


def _first_line(exc: BaseException) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return line if line.endswith((".", "!", "?")) else line + "."
