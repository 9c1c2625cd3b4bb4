"""A pool of STT worker processes, driven from asyncio without ever blocking the event loop.

Recognition runs in processes, off the event loop: pocketsphinx holds the GIL, and a process
boundary also isolates a crashed or runaway decode from the server. Inside a worker, passes run on
``SttEngineOptions.threads`` threads that take the next request of any of its streams
(:mod:`gradium.workers.stt_worker`); Whisper (CTranslate2) and the Silero VAD release the GIL, so
by default a Whisper server runs one process with a thread per core (:func:`pool_layout`) and loads
its models once. Each worker hosts many streams. Per worker the event loop talks to two plain
threads:

* a sender thread drains a queue into the request pipe, so a busy worker (full pipe) never stalls
  the loop: ``feed`` only enqueues;
* a reader thread blocks on the reply pipe and hands each reply to the loop with
  ``call_soon_threadsafe``, which routes it into the stream's ``asyncio.Queue``.

When a worker dies, its reader sees EOF: every stream on it gets a ``StreamError`` (nothing hangs)
and a replacement worker is started, also when it died while starting (a crash or a kill at
start-up must not leave the pool empty for good): consecutive start-up failures back off
exponentially (0, 1, 2, 4 ... 30 s) so that a broken install does not spawn in a tight loop, and
:meth:`SttWorkerPool.problem` tells ``/api/health`` that STT cannot serve meanwhile.

Workers start lazily by default: a server that has not transcribed anything yet holds no worker
process (see the README for the memory of each engine's models). The first stream starts one and
waits for its interpreter and models (a few seconds for Whisper on an idle 2-core machine); once it
is ready the others start, and later streams find them running. With ``prestart=True`` they all
start with the pool, for deployments that would rather pay the memory than that first wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

from gradium import metrics
from gradium.speech.stt_engines import (
    POCKETSPHINX,
    WHISPER,
    SttEngineOptions,
    engine_for_model,
    validate_stream,
)
from gradium.speech.stt_pipeline import DEFAULT_DELAY_IN_FRAMES, Step, Word

from .stt_worker import Finished, Flushed, PoolEvent, StreamError, serve

__all__ = [
    "Finished",
    "Flushed",
    "PoolEvent",
    "StreamError",
    "SttStreamHandle",
    "SttWorkerPool",
]

log = logging.getLogger("gradium.stt")

READY_TIMEOUT_S = 120.0  # spawn + imports + one decoder load; generous for loaded CI machines
STOP_TIMEOUT_S = 5.0
MAX_RESTART_DELAY_S = 30.0
# Threads of one Whisper worker by default: its passes share one interpreter and so its GIL, held
# for a small part of each pass (2 threads on 2 cores ran 1.9x the passes of one); past this many
# cores, more processes.
MAX_DEFAULT_THREADS = 4


_START_LOCK = threading.Lock()  # workers start one at a time: _worker_environment edits os.environ


@contextlib.contextmanager
def _worker_environment(threads: str) -> Iterator[None]:
    """The environment a worker starts with: ``OMP_NUM_THREADS`` = its threads unless the user set
    it. numpy's OpenBLAS and CTranslate2's OpenMP read it when they load (a worker imports numpy
    before it runs any of our code); without it each keeps an extra thread spinning between
    operations, on the core the other worker needs: a tiny.en final pass took 0.23 s wall and
    0.33 CPU s, 0.23 CPU s with it."""
    if "OMP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OMP_NUM_THREADS"] = threads
    try:
        yield
    finally:
        os.environ.pop("OMP_NUM_THREADS", None)


def pool_layout(cores: int, engine: str, workers: int | None, threads: int | None) -> tuple[int, int]:
    """(worker processes, threads of each) for ``cores``, where the user chose neither or one.

    Whisper: one process with a thread per core (up to :data:`MAX_DEFAULT_THREADS`), so that any
    free core takes the next pass of any stream and the models are loaded once; more cores get more
    processes. pocketsphinx holds the GIL while it decodes, so it gets a process per core. With
    only the workers given, the cores are shared out among them (``--stt-workers 2`` on 2 cores:
    two processes of one thread, the layout before threads)."""
    if threads is None:
        if engine == POCKETSPHINX:
            threads = 1
        elif workers is None:
            threads = min(cores, MAX_DEFAULT_THREADS)
        else:
            threads = max(1, -(-cores // workers))
    if workers is None:
        workers = max(1, -(-cores // threads))
    return max(1, workers), max(1, threads)


def restart_delay(failures: int) -> float:
    """Seconds before replacing a worker after ``failures`` start-ups failed in a row: the first
    retry is immediate (a one-off kill), later ones back off (a broken install)."""
    return 0.0 if failures <= 1 else min(MAX_RESTART_DELAY_S, 2.0 ** (failures - 2))


class _Worker:
    """One worker process with its pipes and its two pipe threads.

    Constructing one never blocks the event loop: the sender thread starts the process (spawning an
    interpreter takes tens of milliseconds), then forwards the requests queued meanwhile.
    """

    def __init__(
        self,
        index: int,
        start_method: str,
        loop: asyncio.AbstractEventLoop,
        pool: SttWorkerPool,
        options: SttEngineOptions,
    ) -> None:
        context: Any = multiprocessing.get_context(start_method)  # typeshed's BaseContext lacks Process
        request_reader, self._requests = context.Pipe(duplex=False)
        self._replies, reply_writer = context.Pipe(duplex=False)
        self._child_ends = (request_reader, reply_writer)
        self.process = context.Process(
            target=serve,
            args=(request_reader, reply_writer, options),
            name=f"gradium-stt-{index}",
            daemon=True,
        )
        self.index = index
        self._threads_env = str(max(1, options.whisper.cpu_threads))
        self.streams: set[int] = set()
        self.alive = True
        self._started = False  # set by the sender thread once the process runs
        self.pid: int | None = None  # likewise
        self._stopped = False
        self.ready: asyncio.Future[None] = loop.create_future()
        self._outbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._loop, self._pool = loop, pool
        self._threads = [
            threading.Thread(target=self._send_loop, name=f"stt-send-{index}", daemon=True),
            threading.Thread(target=self._read_loop, name=f"stt-read-{index}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def send(self, request: tuple[Any, ...]) -> None:
        self._outbox.put(request)

    def _start_process(self) -> bool:
        try:
            with _START_LOCK, _worker_environment(self._threads_env):
                self.process.start()
            self.pid = self.process.pid
            self._started = True
        except Exception:  # reported like a worker that exited while starting
            log.exception("could not start STT worker %d", self.index)
        finally:
            # Drop our copies of the child's ends, or the reader would never see EOF when it dies.
            for end in self._child_ends:
                end.close()
        return self._started

    def _send_loop(self) -> None:
        if self._start_process():
            while (request := self._outbox.get()) is not None:
                try:
                    self._requests.send(request)
                except (OSError, ValueError):
                    return  # the worker is gone; the reader reports it
        self._requests.close()

    def _read_loop(self) -> None:
        while True:
            try:
                reply = self._replies.recv()
            except (EOFError, OSError):
                break
            self._call_loop(self._pool._on_reply, self, reply)
        self._call_loop(self._pool._on_worker_exit, self)

    def _call_loop(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        """Blocking: ask the worker to stop, then make sure it is gone (run off the loop)."""
        if self._stopped:
            return
        self._stopped = True
        self._outbox.put(("stop",))
        self._outbox.put(None)
        self._threads[0].join(STOP_TIMEOUT_S)  # the sender has started the process (or failed to)
        if self._started:
            self.process.join(STOP_TIMEOUT_S)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(STOP_TIMEOUT_S)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S)
        self._replies.close()
        if self._started:
            self.process.close()


class SttStreamHandle:
    """The event-loop side of one STT stream. Every method returns at once; results arrive in order."""

    def __init__(self, pool: SttWorkerPool, worker: _Worker | None, stream_id: int) -> None:
        self.stream_id = stream_id
        self._pool, self._worker = pool, worker
        self._queue: asyncio.Queue[list[PoolEvent]] = asyncio.Queue()
        self._ended = False  # a Finished or StreamError was delivered (or the stream was closed)
        self._buffer: list[PoolEvent] = []  # for the one-event-at-a-time iterator
        # (audio seconds processed, monotonic time): when each 80 ms step reached the recogniser,
        # so that a word's latency is measured from when its last audio did (the word latency metric).
        self._steps: deque[tuple[float, float]] = deque()

    @property
    def ended(self) -> bool:
        return self._ended

    async def feed(self, data: bytes) -> None:
        self._send("feed", bytes(data))

    async def flush(self, flush_id: int | str) -> None:
        """A ``Flushed(flush_id)`` event follows once everything fed so far is processed."""
        self._send("flush", flush_id)

    async def finish(self) -> None:
        """End of input: the remaining events follow, then ``Finished``."""
        self._send("finish")

    async def close(self) -> None:
        """Abandon the stream (its decoder goes back to the worker); safe to call at any time."""
        if not self._ended:
            self._send("close")
            self._deliver([])
            self._ended = True
        self._pool._forget(self)

    async def next_events(self) -> list[PoolEvent]:
        """The next batch of events, in order; ``[]`` once the stream has ended and all was read."""
        if self._ended and self._queue.empty():
            return []
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[PoolEvent]:
        return self

    async def __anext__(self) -> PoolEvent:
        while not self._buffer:
            batch = await self.next_events()
            if not batch:
                raise StopAsyncIteration
            self._buffer.extend(batch)
        return self._buffer.pop(0)

    def _send(self, kind: str, *args: Any) -> None:
        if not self._ended and self._worker is not None:
            self._worker.send((kind, self.stream_id, *args))

    def _deliver(self, events: list[PoolEvent]) -> None:
        if self._ended:
            return
        self._measure(events)
        if any(isinstance(event, (Finished, StreamError)) for event in events):
            self._ended = True
        self._queue.put_nowait(events)


    def _measure(self, events: list[PoolEvent]) -> None:
        now = time.monotonic()
        for event in events:
            if isinstance(event, Step):
                self._steps.append((event.total_duration_s, now))
            elif isinstance(event, Word):
                # Steps up to the word's end are no longer needed: the words come in time order.
                reached = None
                while self._steps and self._steps[0][0] < event.stop_s:
                    reached = self._steps.popleft()[1]
                if self._steps:
                    reached = self._steps[0][1]
                if reached is not None:
                    metrics.WORD_LATENCY.observe(now - reached)


class SttWorkerPool:
    """``workers`` STT processes; streams go to the least-loaded live worker.

    The workers start with the first stream, or in :meth:`start` with ``prestart``. ``options``
    choose the default engine and its models (``gradium.speech.stt_engines.SttEngineOptions``).
    """

    def __init__(
        self,
        workers: int,
        *,
        start_method: str = "spawn",
        prestart: bool = False,
        options: SttEngineOptions | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("an STT pool needs at least one worker")
        self.size = workers
        self.start_method = start_method
        self.prestart = prestart
        self.options = options or SttEngineOptions()
        self._workers: list[_Worker] = []
        self._streams: dict[int, SttStreamHandle] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._respawns: set[asyncio.Task[None]] = set()
        self._start_failures = 0  # workers in a row that exited before they were ready

    async def start(self) -> None:
        """Get ready to serve; with ``prestart``, start every worker and wait for its warm decoder."""
        self._loop = asyncio.get_running_loop()
        if self.prestart:
            self._start_workers()
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in self._workers)), READY_TIMEOUT_S)

    def _start_workers(self, count: int | None = None) -> None:
        assert self._loop is not None, "start() the pool first"
        count = self.size if count is None else count
        self._workers += [self._new_worker(i) for i in range(len(self._workers), count)]

    def _new_worker(self, index: int) -> _Worker:
        assert self._loop is not None
        return _Worker(index, self.start_method, self._loop, self, self.options)

    async def close(self) -> None:
        """Stop all workers (their streams get a StreamError) and wait until no process is left."""
        self._closing = True
        for task in list(self._respawns):
            task.cancel()
        for handle in list(self._streams.values()):
            handle._deliver([StreamError("the STT service is shutting down")])
        self._streams.clear()
        workers, self._workers = self._workers, []
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))

    def validate(
        self,
        language: str | None,
        delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES,
        temp: float = 0.0,
        model_name: object = None,
    ) -> tuple[str, str]:
        """(engine, language code) of a stream configuration, or the ValueError that says what is wrong."""
        engine = engine_for_model(model_name, self.options.engine)
        return engine, validate_stream(engine, language, delay_in_frames, temp)

    def open_stream(
        self,
        input_format: str,
        language: str | None = "en",
        delay_in_frames: int = DEFAULT_DELAY_IN_FRAMES,
        temp: float = 0.0,
        model_name: object = None,
        task: str = "transcribe",
    ) -> SttStreamHandle:
        """Open a stream; raises the ValueError of :meth:`validate` for a bad configuration.

        ``task="translate"`` gives English text for speech in another language (Whisper only).
        Format problems are found by the worker and arrive as a ``StreamError`` event.
        """
        engine, language = self.validate(language, delay_in_frames, temp, model_name)
        if task not in ("transcribe", "translate"):
            raise ValueError(f"unknown STT task {task!r}: transcribe or translate")
        if task == "translate" and engine != WHISPER:
            raise ValueError("only the Whisper engine translates")
        if not self._closing and self._loop is not None and len(self._workers) < self.size:
            if not self._workers:
                # The first stream: its requests wait in the outbox until the worker runs. The other
                # workers start once this one is ready, so that they do not slow its start-up down.
                self._start_workers(1)
            elif all(w.streams for w in self._workers):
                # More streams while the first worker is still starting (a burst at start-up):
                # start the others now. Streams never move between workers, so placing them all
                # on the first one would keep it overloaded for as long as they last (measured:
                # 6 streams opened at once all on one worker, 1.9 s behind).
                self._start_workers()
        live = [w for w in self._workers if w.alive]
        worker = min(live, key=lambda w: len(w.streams)) if live and not self._closing else None
        handle = SttStreamHandle(self, worker, next(self._ids))
        if worker is None:
            handle._deliver([StreamError("no STT worker is available")])
            return handle
        worker.streams.add(handle.stream_id)
        self._streams[handle.stream_id] = handle
        worker.send(("open", handle.stream_id, input_format, language, delay_in_frames, temp, engine, task))
        return handle

    def problem(self) -> str | None:
        """Why STT cannot serve a stream now (for readiness checks), or None when it can.

        A pool that has not started its workers yet (lazy start) can serve: the first stream
        starts one. It cannot while its workers keep dying before they are ready.
        """
        if self._closing:
            return "the STT service is shutting down"
        if self._start_failures == 0:
            return None
        if any(w.alive and w.ready.done() and w.ready.exception() is None for w in self._workers):
            return None
        return (
            f"no STT worker is ready: {self._start_failures} exited while starting in a row "
            "(restarting with back-off; see the server log)"
        )

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def worker_pids(self) -> list[int]:
        """The started workers' process ids (none before the first stream, unless ``prestart``)."""
        return [w.pid for w in self._workers if w.pid is not None]

    def _forget(self, handle: SttStreamHandle) -> None:
        self._streams.pop(handle.stream_id, None)
        if handle._worker is not None:
            handle._worker.streams.discard(handle.stream_id)

    def _on_reply(self, worker: _Worker, reply: tuple[Any, ...]) -> None:
        if reply[0] == "ready":
            self._start_failures = 0
            if not worker.ready.done():
                worker.ready.set_result(None)
            if not self._closing and len(self._workers) < self.size:
                self._start_workers()
            return
        handle = self._streams.get(reply[1])
        if handle is None:
            return
        handle._deliver(reply[2])
        if handle.ended:
            self._forget(handle)

    def _on_worker_exit(self, worker: _Worker) -> None:
        worker.alive = False
        delay = 0.0
        if not worker.ready.done():
            worker.ready.set_exception(RuntimeError(f"STT worker {worker.index} exited while starting"))
            worker.ready.exception()  # retrieved: nobody may be awaiting it (lazy start)
            self._start_failures += 1
            delay = restart_delay(self._start_failures)
            log.error(
                "STT worker %d exited while starting (%d in a row); replacing it in %.0f s",
                worker.index, self._start_failures, delay,
            )  # fmt: skip
        for stream_id in list(worker.streams):
            handle = self._streams.get(stream_id)
            if handle is not None:
                handle._deliver([StreamError("the STT worker process exited unexpectedly")])
                self._forget(handle)
        if not self._closing and worker in self._workers:
            metrics.WORKER_RESTARTS.inc()
            task = asyncio.ensure_future(self._replace(worker, delay))
            self._respawns.add(task)
            task.add_done_callback(self._respawns.discard)

    async def _replace(self, dead: _Worker, delay: float) -> None:
        # The replacement takes the dead worker's place (its requests queue until it runs), so new
        # streams have somewhere to go while the dead process is reaped; close() stops it.
        reaped = asyncio.ensure_future(asyncio.to_thread(dead.stop))
        await asyncio.sleep(delay)
        if not self._closing and dead in self._workers:
            self._workers[self._workers.index(dead)] = self._new_worker(dead.index)
        await reaped
