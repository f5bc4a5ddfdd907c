"""Per-call log files: records bound to a call id land in that call's file, nothing else does."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from opencall.settings import Settings
from opencall.store.call_logs import call_log_handler, call_log_path, flush_call_logs


def test_records_with_a_call_id_go_to_that_calls_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    handler = call_log_handler(settings)
    logger = logging.getLogger("opencall.test-call-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        one = logging.LoggerAdapter(logger, {"call_id": "call-1"})
        one.info("first turn in %d ms", 640)
        logger.info("no call bound: not kept")
        logger.warning("tool failed", extra={"call_id": "call-2"})
        try:
            raise ValueError("boom")
        except ValueError:
            one.exception("tool crashed")
        flush_call_logs()
        lines = [json.loads(line) for line in call_log_path(settings, "call-1").read_text().splitlines()]
        other = call_log_path(settings, "call-2").read_text().splitlines()
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert [line["message"] for line in lines] == ["first turn in 640 ms", "tool crashed"]
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "opencall.test-call-logs"
    assert "ValueError: boom" in lines[1]["exception"]
    assert [json.loads(line)["message"] for line in other] == ["tool failed"]
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["call-1.jsonl", "call-2.jsonl"]


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    handler = call_log_handler(settings)
    record = logging.LogRecord("opencall", logging.INFO, __file__, 1, "bye", None, None)
    record.call_id = "call-3"
    handler.handle(record)
    handler.close()
    assert json.loads(call_log_path(settings, "call-3").read_text())["message"] == "bye"
    handler.handle(record)  # after close: dropped, not queued forever
    flush_call_logs()
