"""Logs on stdout, one JSON object per line (LOG_FORMAT=json, the default) or plain text.

Why JSON: a container platform collects stdout, and a log pipeline can filter on ``level`` and
``logger`` without parsing free text. Every process of the app configures logging here (the
launcher in ``services.serve``, the Streamlit process through ``services.context``, the worker),
and the launcher wraps the lines Streamlit prints itself (``wrap_line``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("json", "text")
# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# The format the launcher asks Streamlit for, so that its lines can be parsed back.
STREAMLIT_FORMAT = "%(levelname)s %(name)s %(message)s"
_STREAMLIT_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) (.*)$")


def _timestamp(created: float | None = None) -> str:
    moment = datetime.now(UTC) if created is None else datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry(level: str, logger: str, message: str, **fields: Any) -> str:
    """One log line as JSON text."""
    return json.dumps({"time": _timestamp(), "level": level, "logger": logger,
                       "message": message, **fields}, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record arrives: test runners and Streamlit's
    script runner swap it, and a handler holding an old, closed one would lose records."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": _timestamp(record.created), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def settings_problems(env: Mapping[str, str]) -> list[str]:
    """One sentence per invalid LOG_LEVEL or LOG_FORMAT."""
    problems = []
    if env.get("LOG_LEVEL", "").strip().upper() not in ("", *LEVELS):
        problems.append(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, "
                        f"got {env['LOG_LEVEL']!r}.")
    if log_format(env) not in FORMATS:
        problems.append(f"LOG_FORMAT must be json or text, got {env['LOG_FORMAT']!r}.")
    return problems


def log_format(env: Mapping[str, str]) -> str:
    return env.get("LOG_FORMAT", "").strip().lower() or "json"


def configure_logging(env: Mapping[str, str] | None = None, stream: IO[str] | None = None
                      ) -> None:
    """Send this process's log records (Streamlit's own loggers included) to ``stream``
    (stdout) in the format LOG_FORMAT chooses, at LOG_LEVEL (INFO). Calling it again replaces
    the handler rather than adding a second one. Invalid values fall back to the defaults:
    ``services.serve`` has refused them before any process gets here."""
    env = os.environ if env is None else env
    level = env.get("LOG_LEVEL", "").strip().upper()
    handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.set_name("xlsim")
    handler.setFormatter(JsonFormatter() if log_format(env) != "text" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "xlsim"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level in LEVELS else "INFO")
    for name in list(logging.root.manager.loggerDict):
        if name == "streamlit" or name.startswith("streamlit."):
            logger = logging.getLogger(name)
            logger.handlers.clear()  # Streamlit's own handler writes plain text to stderr
            logger.propagate = True


def wrap_line(line: str, previous_level: str = "INFO") -> tuple[str, str]:
    """A line that the Streamlit child process printed, as a JSON log line, and its level.

    JSON lines (our own loggers in that process) pass through; lines in STREAMLIT_FORMAT keep
    their level and logger; anything else (a traceback's continuation, Streamlit's banner) is a
    message of the ``streamlit`` logger at the level of the line before."""
    text = line.rstrip("\n")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return text, str(data.get("level", previous_level))
    match = _STREAMLIT_LINE.match(text)
    if match:
        level, logger, message = match.groups()
        return entry(level, logger, message), level
    return entry(previous_level, "streamlit", text.strip()), previous_level
