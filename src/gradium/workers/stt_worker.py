"""The body of one STT worker process: many SttPipelines keyed by stream id, fed over a pipe.

Kept apart from ``stt_pool`` so that a spawned worker imports only what it runs (no asyncio side).
Requests are tuples:

    ("open", sid, input_format, language, delay_in_frames, temp, engine, task)   ("feed", sid, data)
    ("flush", sid, flush_id)   ("finish", sid)   ("close", sid)   ("stop",)

Replies: ``("ready",)`` once the default engine is loaded, then ``("events", sid, [event, ...])``.

**Threads.** A worker runs ``threads`` requests at once (``SttEngineOptions.threads``), each on
its own thread: Whisper passes run in CTranslate2 and the Silero VAD in onnxruntime, both outside
the GIL. One stream's requests run one at a time and in order, so its replies stay in order; the
streams with requests waiting take turns in one queue (:class:`_Dispatcher`), so whichever thread
is free serves the stream that has waited longest. With one thread per process, a stream whose
pass is slow held up every other stream of its worker while another worker's core might idle:
with another job taking about one of 2 cores, 6 and 8 streams then fell more than 1 s behind in
3 of 8 runs, and in none with two threads in one process (README, "Engines and quality").
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gradium.speech.stt_engines import Recognizers, SttEngineOptions
from gradium.speech.stt_pipeline import SttEvent, SttPipeline

__all__ = ["Finished", "Flushed", "PoolEvent", "StreamError", "serve"]


@dataclass(frozen=True)
class Flushed:
    """Every byte fed before the flush request has been processed."""

    flush_id: int | str  # echoed as the client sent it (pipecat sends strings)


@dataclass(frozen=True)
class Finished:
    """The stream ended normally; no events follow."""


@dataclass(frozen=True)
class StreamError:
    """The stream failed (bad audio, bad configuration, crashed worker); no events follow."""

    message: str


PoolEvent = SttEvent | Flushed | Finished | StreamError


# Partial passes (interim words) may take a share of a worker's core (SttEngineOptions); the rest
# stays for the VAD, the utterances' final passes and queueing slack. Measured on 2 cores (tiny.en,
# ~0.2 CPU s a pass every 1.2 s per stream): without a cap, 6 streams kept the workers at ~85 %
# and a few coinciding final passes put streams 2.6-3.2 s behind.
_BURST_S = 0.5  # CPU seconds of partial passes a quiet worker may spend at once


class _Gate:
    """One feed's answer to "may a due partial pass run now?" (remembers whether it said yes)."""

    def __init__(self, budget: PartialBudget, busy: bool) -> None:
        self.budget = budget
        self.busy = busy
        self.granted = False

    def __call__(self, first: bool) -> bool:
        self.granted = not self.busy and (first or self.budget.available())
        return self.granted


class PartialBudget:
    """A token bucket of core-seconds for partial passes: refilled at ``share`` per second and core.

    When a worker carries more streams than the share affords, each stream's interim words come
    less often (their interval stretches) instead of every stream falling behind real time. An
    utterance's first partial always runs: the first interim words stay prompt. A pass is charged
    its wall time (each pass runs on one core; process CPU time would also count the other
    threads' passes), which is its CPU time or, on an overloaded machine, more.
    """

    def __init__(self, share: float, cores: int = 1) -> None:
        self.share = share * cores
        self.burst = _BURST_S * cores
        self.balance = self.burst
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def available(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.balance = min(self.burst, self.balance + (now - self.updated) * self.share)
            self.updated = now
            return self.balance > 0

    def spend(self, seconds: float) -> None:
        with self._lock:
            self.balance -= seconds

    def gate(self, *, busy: bool) -> _Gate:
        """The gate of one feed; ``busy``: other streams' requests wait for a thread, so no partial
        runs now (the others' audio is not held up by interim words; it is due again next feed)."""
        return _Gate(self, busy)


class _Streams:
    """The pipelines of one worker and the request handlers that drive them (from any thread; one
    stream's requests never run at once, :class:`_Dispatcher` sees to that)."""

    def __init__(self, recognizers: Recognizers) -> None:
        self.recognizers = recognizers
        self.pipelines: dict[int, SttPipeline] = {}
        options = recognizers.options
        self.budget = PartialBudget(options.partial_cpu_share, options.threads)

    def handle(
        self, request: tuple[Any, ...], *, backlog: bool = False, busy: bool = False
    ) -> list[PoolEvent]:
        """Run one request. ``backlog``: more of this stream's audio waits behind it; ``busy``:
        other streams' requests wait for a free thread."""
        kind, sid = request[0], request[1]
        if kind == "open":
            try:
                self._open(sid, *request[2:])
            except Exception as exc:  # e.g. an unknown input format
                return [StreamError(str(exc) or type(exc).__name__)]
            return []
        pipeline = self.pipelines.get(sid)
        if pipeline is None:
            return []  # the stream already failed or was closed: drop late requests
        try:
            return self._run(kind, sid, pipeline, request[2:], backlog, busy)
        except Exception as exc:  # any failure ends this stream only, never the worker
            self._drop(sid)
            return [StreamError(str(exc) or type(exc).__name__)]

    def _open(
        self,
        sid: int,
        input_format: str,
        language: str,
        delay: int,
        temp: float,
        engine: str,
        task: str = "transcribe",
    ) -> None:
        decoder = self.recognizers.decoder(engine, language, temp, task)
        try:
            self.pipelines[sid] = SttPipeline(
                input_format,
                language=language,
                delay_in_frames=delay,
                temp=temp,
                decoder=decoder,
                vad=self.recognizers.vad(engine),
            )
        except Exception:
            self.recognizers.give_back(decoder)
            raise

    def _run(
        self, kind: str, sid: int, pipeline: SttPipeline, args: tuple[Any, ...], backlog: bool, busy: bool
    ) -> list[PoolEvent]:
        if kind == "feed":
            # With more requests already waiting (a batch upload, or a worker that fell behind),
            # partial hypotheses would be stale at once: skip them; utterance ends still commit.
            if backlog:
                return list(pipeline.feed(args[0], partials=False))
            gate = self.budget.gate(busy=busy)
            started = time.perf_counter()
            fed: list[PoolEvent] = list(pipeline.feed(args[0], partials=gate))
            if gate.granted:
                self.budget.spend(time.perf_counter() - started)
            return fed
        if kind == "flush":
            return [*pipeline.flush(), Flushed(args[0])]
        if kind == "finish":
            events: list[PoolEvent] = [*pipeline.finish(), Finished()]
            self._drop(sid)
            return events
        if kind == "close":
            self._drop(sid)
            return []
        raise ValueError(f"unknown STT worker request {kind!r}")

    def _drop(self, sid: int) -> None:
        pipeline = self.pipelines.pop(sid, None)
        if pipeline is not None:
            self.recognizers.give_back(pipeline.decoder)


class _Dispatcher:
    """The worker's requests, queued per stream; its threads take turns over the streams.

    A stream is *ready* when it has requests and none of them is running; ready streams wait in
    arrival order, and a thread takes the first one's oldest request. So one stream never runs two
    requests at once (its replies stay in order), and the stream that has waited longest is next.
    """

    def __init__(self, streams: _Streams, replies: Connection) -> None:
        self._streams, self._replies = streams, replies
        self._queues: dict[int, deque[tuple[Any, ...]]] = {}
        self._ready: deque[int] = deque()
        self._running: set[int] = set()
        self._stopping = False
        self._changed = threading.Condition()
        self._send_lock = threading.Lock()  # a Connection is not safe to send on from two threads

    def put(self, request: tuple[Any, ...]) -> None:
        with self._changed:
            sid = request[1]
            waiting = self._queues.setdefault(sid, deque())
            waiting.append(request)
            if len(waiting) == 1 and sid not in self._running:
                self._ready.append(sid)
                self._changed.notify()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    def run(self) -> None:
        """A thread's loop: until :meth:`stop`, take the next ready stream's request and run it."""
        while (taken := self._take()) is not None:
            request, backlog, busy = taken
            events = self._streams.handle(request, backlog=backlog, busy=busy)
            if events:
                # A failed send: the parent is gone; the main loop sees it too and returns.
                with self._send_lock, contextlib.suppress(OSError, ValueError):
                    self._replies.send(("events", request[1], events))
            self._done(request[1])

    def _take(self) -> tuple[tuple[Any, ...], bool, bool] | None:
        with self._changed:
            while not self._ready and not self._stopping:
                self._changed.wait()
            if self._stopping:
                return None
            sid = self._ready.popleft()
            waiting = self._queues[sid]
            request = waiting.popleft()
            self._running.add(sid)
            backlog = request[0] == "feed" and any(later[0] == "feed" for later in waiting)
            return request, backlog, bool(self._ready)

    def _done(self, sid: int) -> None:
        with self._changed:
            self._running.discard(sid)
            if self._queues.get(sid):
                self._ready.append(sid)
                self._changed.notify()
            else:
                self._queues.pop(sid, None)


def serve(requests: Connection, replies: Connection, options: SttEngineOptions | None = None) -> None:
    """Worker process entry point: serve requests until "stop" or until the parent goes away."""
    recognizers = Recognizers(options)
    # Load the default engine's models now: the first stream should not wait for a load. (Workers
    # start with the first stream, so an idle server that never transcribed holds no model.)
    recognizers.warm()
    dispatcher = _Dispatcher(_Streams(recognizers), replies)
    threads = [
        threading.Thread(target=dispatcher.run, name=f"stt-pass-{i}", daemon=True)
        for i in range(recognizers.options.threads)
    ]
    for thread in threads:
        thread.start()
    replies.send(("ready",))
    try:
        while (request := requests.recv())[0] != "stop":
            dispatcher.put(request)
    except (EOFError, OSError):
        pass  # the parent closed its end or died
    finally:
        dispatcher.stop()
    # Passes in flight finish before the process exits (daemon threads would be cut mid-pass).
    for thread in threads:
        thread.join()
