"""The body of one STT worker process: many SttPipelines keyed by stream id, fed over a pipe.

Kept apart from ``stt_pool`` so that a spawned worker imports only what it runs (no asyncio side).
Requests are tuples, handled strictly in arrival order, so each stream's replies stay in order:

    ("open", sid, input_format, language, delay_in_frames, temp, engine, task)   ("feed", sid, data)
    ("flush", sid, flush_id)   ("finish", sid)   ("close", sid)   ("stop",)

Replies: ``("ready",)`` once the default engine is loaded, then ``("events", sid, [event, ...])``.
"""

from __future__ import annotations

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
    """A token bucket of CPU seconds for partial passes: refilled at ``share`` per second.

    When a worker carries more streams than the share affords, each stream's interim words come
    less often (their interval stretches) instead of every stream falling behind real time. An
    utterance's first partial always runs: the first interim words stay prompt.
    """

    def __init__(self, share: float) -> None:
        self.share = share
        self.balance = _BURST_S
        self.updated = time.monotonic()

    def available(self) -> bool:
        now = time.monotonic()
        self.balance = min(_BURST_S, self.balance + (now - self.updated) * self.share)
        self.updated = now
        return self.balance > 0

    def spend(self, cpu_s: float) -> None:
        self.balance -= cpu_s

    def gate(self, *, busy: bool) -> _Gate:
        """The gate of one feed; ``busy``: other streams' requests wait behind it, so no partial
        runs now (the others' audio is not held up by interim words; it is due again next feed)."""
        return _Gate(self, busy)


class _Streams:
    """The pipelines of one worker and the request handlers that drive them."""

    def __init__(self, recognizers: Recognizers) -> None:
        self.recognizers = recognizers
        self.pipelines: dict[int, SttPipeline] = {}
        self.budget = PartialBudget(recognizers.options.partial_cpu_share)
        self.busy = False  # requests of other streams are waiting: a partial pass would delay them

    def handle(self, request: tuple[Any, ...], *, backlog: bool = False) -> list[PoolEvent]:
        kind, sid = request[0], request[1]
        if kind == "open":
            self._open(sid, *request[2:])
            return []
        pipeline = self.pipelines.get(sid)
        if pipeline is None:
            return []  # the stream already failed or was closed: drop late requests
        try:
            return self._run(kind, sid, pipeline, request[2:], backlog)
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
        self, kind: str, sid: int, pipeline: SttPipeline, args: tuple[Any, ...], backlog: bool
    ) -> list[PoolEvent]:
        if kind == "feed":
            # With more requests already waiting (a batch upload, or a worker that fell behind),
            # partial hypotheses would be stale at once: skip them; utterance ends still commit.
            if backlog:
                return list(pipeline.feed(args[0], partials=False))
            gate = self.budget.gate(busy=self.busy)
            started = time.process_time()
            fed: list[PoolEvent] = list(pipeline.feed(args[0], partials=gate))
            if gate.granted:
                self.budget.spend(time.process_time() - started)
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


def serve(requests: Connection, replies: Connection, options: SttEngineOptions | None = None) -> None:
    """Worker process entry point: serve requests until "stop" or until the parent goes away."""
    recognizers = Recognizers(options)
    # Load the default engine's models now: the first stream should not wait for a load. (Workers
    # start with the first stream, so an idle server that never transcribed holds no model.)
    recognizers.warm()
    streams = _Streams(recognizers)
    replies.send(("ready",))
    waiting: deque[tuple[Any, ...]] = deque()
    while True:
        try:
            # Take every request already sent, so that a stream's feed knows whether more of its
            # audio is waiting behind it.
            waiting.append(requests.recv())
            while requests.poll():
                waiting.append(requests.recv())
        except (EOFError, OSError):
            return  # the parent closed its end or died
        while waiting:
            request = waiting.popleft()
            if request[0] == "stop":
                return
            backlog = request[0] == "feed" and any(
                later[0] == "feed" and later[1] == request[1] for later in waiting
            )
            streams.busy = bool(waiting)  # other streams' requests wait behind this one
            try:
                events = streams.handle(request, backlog=backlog)
            except Exception as exc:  # e.g. an open that failed validation or format lookup
                streams.pipelines.pop(request[1], None)
                events = [StreamError(str(exc) or type(exc).__name__)]
            if events:
                replies.send(("events", request[1], events))
