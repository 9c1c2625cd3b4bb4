"""The body of one STT worker process: many SttPipelines keyed by stream id, fed over a pipe.

Kept apart from ``stt_pool`` so that a spawned worker imports only what it runs (no asyncio side).
Requests are tuples, handled strictly in arrival order, so each stream's replies stay in order:

    ("open", sid, input_format, language, delay_in_frames, temp)   ("feed", sid, data)
    ("flush", sid, flush_id)   ("finish", sid)   ("close", sid)   ("stop",)

Replies: ``("ready",)`` once a decoder is warm, then ``("events", sid, [event, ...])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gradium.engines.pocketsphinx import DEFAULT_SEARCH, SEARCH_MODES, PocketsphinxDecoder
from gradium.speech.stt_pipeline import SttEvent, SttPipeline

__all__ = ["DEFAULT_SEARCH", "SEARCH_MODES", "DecoderCache", "WorkerOptions", "serve"]

MAX_IDLE_DECODERS = 2  # per worker and temp; each costs ~92 MB, loading a new one ~0.25 s


@dataclass(frozen=True)
class WorkerOptions:
    """What every worker of a pool is started with."""

    search: str = DEFAULT_SEARCH  # a key of gradium.engines.pocketsphinx.SEARCH_MODES


@dataclass(frozen=True)
class Flushed:
    """Every byte fed before the flush request has been processed."""

    flush_id: int


@dataclass(frozen=True)
class Finished:
    """The stream ended normally; no events follow."""


@dataclass(frozen=True)
class StreamError:
    """The stream failed (bad audio, bad configuration, crashed worker); no events follow."""

    message: str


PoolEvent = SttEvent | Flushed | Finished | StreamError


class DecoderCache:
    """Loaded decoders waiting for a stream, by temp (which sets the LM weight at load time)."""

    def __init__(self, max_idle: int = MAX_IDLE_DECODERS, search: str = DEFAULT_SEARCH) -> None:
        self.max_idle = max_idle
        self.search = search
        self._idle: dict[float, list[PocketsphinxDecoder]] = {}

    def take(self, temp: float) -> PocketsphinxDecoder:
        idle = self._idle.get(temp)
        return idle.pop() if idle else PocketsphinxDecoder(temp, search=self.search)

    def give(self, decoder: PocketsphinxDecoder) -> None:
        idle = self._idle.setdefault(decoder.temp, [])
        if len(idle) < self.max_idle:
            decoder.reset()
            idle.append(decoder)


class _Streams:
    """The pipelines of one worker and the request handlers that drive them."""

    def __init__(self, cache: DecoderCache) -> None:
        self.cache = cache
        self.pipelines: dict[int, SttPipeline] = {}

    def handle(self, request: tuple[Any, ...]) -> list[PoolEvent]:
        kind, sid = request[0], request[1]
        if kind == "open":
            self._open(sid, *request[2:])
            return []
        pipeline = self.pipelines.get(sid)
        if pipeline is None:
            return []  # the stream already failed or was closed: drop late requests
        try:
            return self._run(kind, sid, pipeline, request[2:])
        except Exception as exc:  # any failure ends this stream only, never the worker
            self._drop(sid)
            return [StreamError(str(exc) or type(exc).__name__)]

    def _open(self, sid: int, input_format: str, language: str, delay: int, temp: float) -> None:
        decoder = self.cache.take(temp)
        try:
            self.pipelines[sid] = SttPipeline(
                input_format, language=language, delay_in_frames=delay, temp=temp, decoder=decoder
            )
        except Exception:
            self.cache.give(decoder)
            raise

    def _run(self, kind: str, sid: int, pipeline: SttPipeline, args: tuple[Any, ...]) -> list[PoolEvent]:
        if kind == "feed":
            return list(pipeline.feed(args[0]))
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
        if pipeline is not None and isinstance(pipeline.decoder, PocketsphinxDecoder):
            self.cache.give(pipeline.decoder)


def serve(requests: Connection, replies: Connection, options: WorkerOptions | None = None) -> None:
    """Worker process entry point: serve requests until "stop" or until the parent goes away."""
    options = options or WorkerOptions()
    cache = DecoderCache(search=options.search)
    # Pre-warm one decoder: the first stream should not wait for a load. (Workers start with the
    # first stream, so an idle server that never transcribed holds no decoder at all.)
    cache.give(cache.take(0.0))
    streams = _Streams(cache)
    replies.send(("ready",))
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return  # the parent closed its end or died
        if request[0] == "stop":
            return
        try:
            events = streams.handle(request)
        except Exception as exc:  # e.g. an open that failed validation or format lookup
            streams.pipelines.pop(request[1], None)
            events = [StreamError(str(exc) or type(exc).__name__)]
        if events:
            replies.send(("events", request[1], events))
