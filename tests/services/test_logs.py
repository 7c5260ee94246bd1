"""Structured logs: JSON lines from our loggers, Streamlit's lines wrapped, settings checked."""

from __future__ import annotations

import io
import json
import logging

from services.logs import configure_logging, settings_problems, wrap_line


def test_records_become_one_json_object_per_line(restore_logging):
    out = io.StringIO()
    configure_logging({}, stream=out)
    configure_logging({"LOG_LEVEL": "debug"}, stream=out)  # replaces, never duplicates
    log = logging.getLogger("xlsim.test")
    log.info("run %d done", 7, extra={"run_id": 7, "owner": "ann"})
    log.debug("detail")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert first["message"] == "run 7 done" and first["level"] == "INFO"
    assert first["logger"] == "xlsim.test" and first["run_id"] == 7 and first["owner"] == "ann"
    assert first["time"].endswith("Z")
    assert lines[1]["level"] == "DEBUG"
    assert lines[2]["level"] == "ERROR" and "ValueError: boom" in lines[2]["exception"]


def test_text_format_is_plain(restore_logging):
    out = io.StringIO()
    configure_logging({"LOG_FORMAT": "text", "LOG_LEVEL": "WARNING"}, stream=out)
    logging.getLogger("xlsim.test").info("hidden")
    logging.getLogger("xlsim.test").warning("shown")
    assert out.getvalue().count("\n") == 1 and "WARNING xlsim.test: shown" in out.getvalue()


def test_streamlit_loggers_are_routed_through_ours(restore_logging):
    streamlit_logger = logging.getLogger("streamlit.web.test")
    streamlit_logger.addHandler(logging.StreamHandler(io.StringIO()))
    streamlit_logger.propagate = False
    out = io.StringIO()
    configure_logging({}, stream=out)
    streamlit_logger.warning("from streamlit")
    assert json.loads(out.getvalue())["logger"] == "streamlit.web.test"


def test_streamlit_lines_are_wrapped():
    own = json.dumps({"level": "WARNING", "logger": "xlsim.app", "message": "x"})
    assert wrap_line(own + "\n") == (own, "WARNING")
    text, level = wrap_line("ERROR streamlit.runtime.scriptrunner Uncaught app exception\n")
    data = json.loads(text)
    assert (level, data["level"], data["logger"]) == ("ERROR", "ERROR",
                                                     "streamlit.runtime.scriptrunner")
    assert data["message"] == "Uncaught app exception"
    text, level = wrap_line('  File "app.py", line 3, in <module>\n', previous_level=level)
    data = json.loads(text)  # a traceback's continuation keeps the level of its first line
    assert (level, data["logger"], data["message"]) == ("ERROR", "streamlit",
                                                        'File "app.py", line 3, in <module>')
    assert json.loads(wrap_line("{not json\n")[0])["message"] == "{not json"


def test_invalid_log_settings_are_named():
    assert settings_problems({"LOG_LEVEL": "info", "LOG_FORMAT": "JSON"}) == []
    assert settings_problems({"LOG_LEVEL": "loud", "LOG_FORMAT": "xml"}) == [
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'.",
        "LOG_FORMAT must be json or text, got 'xml'."]
