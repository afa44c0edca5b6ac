"""The access log's cheap path (issue 13): with the default set-up each request's JSON line
is written straight to standard error, same content as through logging."""

from __future__ import annotations

import json
import re

from webapp.observability import requestlog


def test_default_setup_writes_one_json_line_to_stderr(client, capsys, monkeypatch):
    # pytest's log capture adds its handlers to the logger; production has only ours.
    assert requestlog._DEFAULT_HANDLERS[0] in requestlog.access_log.handlers
    monkeypatch.setattr(requestlog.access_log, "handlers", list(requestlog._DEFAULT_HANDLERS))
    through_logging: list = []
    monkeypatch.setattr(requestlog.access_log, "info", lambda *a, **k: through_logging.append(a))
    capsys.readouterr()
    client.get("/auth/login")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["route"] == "/auth/login" and entry["status"] == 200
    assert entry["role"] == "anonymous" and entry["method"] == "GET"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert through_logging == []  # written directly, not through a LogRecord


def test_timestamp_is_utc_with_milliseconds():
    assert requestlog._timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert requestlog._timestamp(1764577800.1234) == "2025-12-01T08:30:00.123Z"
    assert requestlog._timestamp(1764577800.999) == "2025-12-01T08:30:00.999Z"
