"""A thread pool that runs synthesis jobs earliest playback deadline first.

With many streams on one engine, a FIFO queue makes a new request's first audio wait behind the
later sentences of every request that arrived before it, although those sentences are not needed
for seconds: their listeners still have audio to play. Here every job carries the time by which
its audio is needed (for a request's first segment: now; for a later one: when the audio already
sent will have played out), and idle threads always take the job that is due first. Jobs with the
same deadline run in submission order.

It is a ``concurrent.futures.Executor``, so ``loop.run_in_executor`` works with it unchanged
(a plain ``submit`` is due now).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_Job = tuple[float, int, Future[Any], Callable[[], Any]]


class DeadlineExecutor(Executor):
    """``workers`` threads taking jobs by deadline (``time.monotonic()`` seconds)."""

    def __init__(self, workers: int, thread_name_prefix: str) -> None:
        if workers < 1:
            raise ValueError("a DeadlineExecutor needs at least one worker")
        self.workers = workers
        self._jobs: list[_Job] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}_{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def waiting(self) -> int:
        """Jobs queued and not yet started (each is one request's next segment)."""
        with self._ready:
            return len(self._jobs)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self.submit_due(time.monotonic(), fn, *args, **kwargs)

    def submit_due(
        self, deadline: float, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` to run before any job due later than ``deadline``."""
        future: Future[T] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("cannot schedule new jobs after shutdown")
            heapq.heappush(self._jobs, (deadline, next(self._order), future, lambda: fn(*args, **kwargs)))
            self._ready.notify()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._ready:
            self._closed = True
            if cancel_futures:
                for _, _, future, _ in self._jobs:
                    future.cancel()
                self._jobs.clear()
            self._ready.notify_all()
        if wait:
            for thread in self._threads:
                thread.join()

    def _next_job(self) -> _Job | None:
        with self._ready:
            while not self._jobs and not self._closed:
                self._ready.wait()
            return heapq.heappop(self._jobs) if self._jobs else None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            _, _, future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)
            else:
                future.set_result(result)
