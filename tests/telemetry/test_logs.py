"""The log set-up every process shares: text by default, one JSON object per line with
LOG_FORMAT=json, and the request id on every record made while a request is being handled."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Final

import orjson
import pytest

from bench.stack import ROOT
from telemetry.logs import request_id_from

# A process that logs the way the gateway does: one line outside any request, one inside, and
# an exception with its traceback.
_LOGGING_PROCESS: Final = textwrap.dedent(
    """
    import logging, sys
    from config.settings import LogFormat
    from telemetry.logs import configure_logging, RequestContext

    configure_logging("INFO", LogFormat(sys.argv[1]))
    log = logging.getLogger("gateway.test")
    log.info("starting on port %d", 8080)
    with RequestContext("req-1.a_B"):
        log.warning("slow decision: %s", "hold")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("unhandled error")
    log.debug("not shown at INFO")
    """
)


def run_logging_process(log_format: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOGGING_PROCESS, log_format],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == "", "logs go to stderr, stdout is the process's own output"
    return done.stderr.splitlines()


def test_json_logs_are_one_object_per_line_with_the_request_id_when_set() -> None:
    lines = run_logging_process("json")
    records = [orjson.loads(line) for line in lines]  # every line parses on its own
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("INFO", "gateway.test", "starting on port 8080"),
        ("WARNING", "gateway.test", "slow decision: hold"),
        ("ERROR", "gateway.test", "unhandled error"),
    ]
    assert "request_id" not in records[0]
    assert [r["request_id"] for r in records[1:]] == ["req-1.a_B", "req-1.a_B"]
    assert records[2]["exc_info"].startswith("Traceback (most recent call last)")
    assert "ValueError: boom" in records[2]["exc_info"]
    for record in records:
        assert record["time"].endswith("Z"), record["time"]  # UTC, ISO 8601


def test_text_logs_carry_the_request_id_when_set() -> None:
    lines = run_logging_process("text")
    assert "INFO gateway.test: starting on port 8080" in lines[0]
    assert "request_id" not in lines[0]
    assert lines[1].endswith("WARNING gateway.test: slow decision: hold request_id=req-1.a_B")
    assert "Traceback (most recent call last):" in lines


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc-123_X.y", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("has space", False),
        ("new\nline", False),
        ("ünicode", False),
    ],
)
def test_only_short_printable_tokens_are_taken_as_request_ids(given: str, kept: bool) -> None:
    chosen = request_id_from(given)
    if kept:
        assert chosen == given
    else:
        assert chosen != given
        assert len(chosen) == 32
        assert int(chosen, 16) >= 0  # a fresh uuid4 hex


def test_a_missing_header_gets_a_fresh_request_id_each_time() -> None:
    assert request_id_from(None) != request_id_from(None)
