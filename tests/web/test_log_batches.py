"""Log records made on an event loop's thread reach their handlers in batches (web.fast_path:
`DeferredFormatQueueHandler.enqueue`, `BatchQueueListener`): in order, within `HAND_OVER_SECONDS`, a WARNING
or worse at once with what was gathered before it, records of other threads at once, nothing left behind
at exit, and each batch written as the handler would have written its records one by one."""

from __future__ import annotations

import asyncio
import io
import logging
import queue
import threading
import time

import pytest

from fiduciary.web.access_log import JsonLogFormatter
from fiduciary.web.fast_path import HAND_OVER_SECONDS, BatchQueueListener, DeferredFormatQueueHandler


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("fiduciary.access", level, __file__, 1, "%s", (message,), None)


class _Kept(logging.Handler):
    """Keeps the messages it handles."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _pipeline(*handlers: logging.Handler) -> tuple[DeferredFormatQueueHandler, BatchQueueListener]:
    front = DeferredFormatQueueHandler(queue.SimpleQueue())
    listener = BatchQueueListener(front, *handlers)
    return front, listener


def test_records_on_a_loop_go_together_in_order_and_soon() -> None:
    front = DeferredFormatQueueHandler(queue.SimpleQueue())
    items: queue.SimpleQueue[object] = front.queue

    async def log() -> float:
        for n in range(5):
            front.emit(_record(f"line {n}"))
        assert items.empty(), "held on the loop's thread for the others"
        started = time.monotonic()
        while items.empty():
            await asyncio.sleep(0.001)
        return time.monotonic() - started

    waited = asyncio.run(log())
    batch = items.get_nowait()
    assert isinstance(batch, list) and [r.getMessage() for r in batch] == [f"line {n}" for n in range(5)]
    assert waited <= HAND_OVER_SECONDS + 0.5 and items.empty()


def test_a_warning_goes_at_once_with_what_came_before_it() -> None:
    front = DeferredFormatQueueHandler(queue.SimpleQueue())
    items: queue.SimpleQueue[object] = front.queue

    async def log() -> None:
        front.emit(_record("before"))
        front.emit(_record("trouble", logging.WARNING))
        assert [r.getMessage() for r in items.get_nowait()] == ["before", "trouble"]  # type: ignore[attr-defined]
        front.emit(_record("alone", logging.ERROR))
        assert items.get_nowait().getMessage() == "alone"  # type: ignore[attr-defined]
        front.emit(_record("after"))
        await asyncio.sleep(HAND_OVER_SECONDS * 3)

    asyncio.run(log())
    assert [r.getMessage() for r in items.get_nowait()] == ["after"]  # type: ignore[attr-defined]
    assert items.empty()


def test_records_of_other_threads_go_at_once() -> None:
    front = DeferredFormatQueueHandler(queue.SimpleQueue())
    worker = threading.Thread(target=front.emit, args=(_record("from a thread"),))
    worker.start()
    worker.join()
    assert front.queue.get_nowait().getMessage() == "from a thread"


def test_stop_writes_what_is_still_gathered() -> None:
    kept = _Kept()
    front, listener = _pipeline(kept)
    listener.start()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.sleep(0))

        async def log() -> None:
            front.emit(_record("last words"))

        loop.run_until_complete(log())  # the loop stops before its hand-over is due
    finally:
        loop.close()
    listener.stop()
    assert kept.messages == ["last words"]


def test_a_batch_is_written_as_its_records_would_be(monkeypatch: pytest.MonkeyPatch) -> None:
    """One write for the batch, the same text as the handler writes record by record, with its level,
    its filters and its error handling kept."""
    one_by_one, batched = io.StringIO(), io.StringIO()
    records = [_record("a"), _record("quiet", logging.DEBUG), _record("secret"), _record("b", logging.WARNING)]
    reference = logging.StreamHandler(one_by_one)
    handler = logging.StreamHandler(batched)
    for h in (reference, handler):
        h.setLevel(logging.INFO)
        h.setFormatter(JsonLogFormatter())
        h.addFilter(lambda r: r.getMessage() != "secret")
    for record in records:
        if record.levelno >= reference.level:
            reference.handle(record)
    writes: list[str] = []
    original = batched.write
    monkeypatch.setattr(batched, "write", lambda text: writes.append(text) or original(text))
    _, listener = _pipeline(handler)
    listener.handle(records)
    assert batched.getvalue() == one_by_one.getvalue() and len(writes) == 1
    assert '"message": "secret"' not in batched.getvalue() and '"quiet"' not in batched.getvalue()

    class Broken(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            if record.getMessage() == "a":
                raise ValueError("cannot format")
            return record.getMessage()

    errors: list[str] = []
    failing = logging.StreamHandler(io.StringIO())
    failing.setFormatter(Broken())
    monkeypatch.setattr(failing, "handleError", lambda record: errors.append(record.getMessage()))
    _, listener = _pipeline(failing)
    listener.handle([_record("a"), _record("b")])
    assert errors == ["a"] and failing.stream.getvalue() == "b\n"  # type: ignore[attr-defined]
