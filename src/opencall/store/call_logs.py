"""Per-call log files behind `GET /call/{id}/call-logs` (Vapi's `artifact.logUrl`).

Any log record that carries a `call_id` attribute is appended, as one JSON line, to
`data_dir/logs/<call_id>.jsonl`. Code running a call binds the id once with a LoggerAdapter:

    log = logging.LoggerAdapter(logging.getLogger("opencall.engine"), {"call_id": call_id})
    log.info("turn released after %.0f ms", ms)      # -> data_dir/logs/<call_id>.jsonl

or per record with `log.info(..., extra={"call_id": call_id})`. The handler only enqueues; a
daemon thread does the disk writes, so logging from the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import weakref
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from opencall.settings import Settings

BATCH_LINES = 500  # lines written per wake-up; a burst of logs costs one open() per call, not per line

_handlers: weakref.WeakSet[CallLogHandler] = weakref.WeakSet()


def call_log_path(settings: Settings, call_id: str) -> Path:
    if not call_id or "/" in call_id or "\\" in call_id or call_id in (".", ".."):
        raise ValueError(f"unsafe call id: {call_id!r}")
    return Path(settings.data_dir) / "logs" / f"{call_id}.jsonl"


class CallLogHandler(logging.Handler):
    def __init__(self, settings: Settings, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._settings = settings
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._drain, name="call-logs", daemon=True)
        self._writer.start()
        _handlers.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        call_id = getattr(record, "call_id", None)
        if not call_id or not self._writer.is_alive():
            return
        try:
            line = json.dumps(self._fields(record), default=str)
        except Exception:  # noqa: BLE001 - logging's contract: a bad record is reported, never raised
            self.handleError(record)
            return
        self._queue.put((str(call_id), line))

    def _fields(self, record: logging.LogRecord) -> dict[str, object]:
        fields: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            fields["exception"] = logging.Formatter().formatException(record.exc_info)
        return fields

    def flush(self) -> None:
        """Wait until every record handed to `emit` so far is on disk."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued and stop the writer (app shutdown, or `logging.shutdown` at exit)."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=5)
        _handlers.discard(self)
        super().close()

    def _drain(self) -> None:
        running = True
        while running:
            batch = [self._queue.get()]
            while len(batch) < BATCH_LINES:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            running = None not in batch
            try:
                self._write([item for item in batch if item is not None])
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(self, batch: list[tuple[str, str]]) -> None:
        by_call: dict[str, list[str]] = defaultdict(list)
        for call_id, line in batch:
            by_call[call_id].append(line)
        for call_id, lines in by_call.items():
            try:
                path = call_log_path(self._settings, call_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as out:
                    out.write("\n".join(lines) + "\n")
            except (OSError, ValueError) as exc:
                # Not through `logging`: a failing log write must not feed itself more records.
                print(f"opencall: call log for {call_id!r} not written: {exc}", file=sys.stderr, flush=True)


def call_logs_url(base_url: str, call_id: str) -> str:
    """`artifact.logUrl`: the call-logs download route."""
    return f"{base_url.rstrip('/')}/call/{call_id}/call-logs"


def call_log_handler(settings: Settings) -> logging.Handler:
    """The handler to add to the `opencall` logger (once per app): `getLogger("opencall").addHandler(...)`."""
    return CallLogHandler(settings)


def flush_call_logs() -> None:
    """Wait until every call-log line logged so far is on disk (before serving a log file)."""
    for handler in list(_handlers):
        handler.flush()
