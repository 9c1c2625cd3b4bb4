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
        self._running = 0
        # Exponentially weighted mean of a job's run time: with the queue, it estimates how long a
        # new request's first segment would wait (admission control's first-audio deadline).
        self._mean_job_s = 0.0
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

    def expected_wait_s(self) -> float:
        """About how long a job due now would wait for a thread: the jobs due before it and those
        running, shared by the threads, each taking the mean run time so far."""
        now = time.monotonic()
        with self._ready:
            ahead = sum(1 for deadline, *_ in self._jobs if deadline <= now) + self._running
        return max(0, ahead - self.workers + 1) / self.workers * self._mean_job_s

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
            if not self._jobs:
                return None
            self._running += 1
            return heapq.heappop(self._jobs)

    def _finished(self, seconds: float | None) -> None:
        with self._ready:
            self._running -= 1
            if seconds is not None:
                mean = self._mean_job_s
                self._mean_job_s = seconds if mean == 0 else 0.8 * mean + 0.2 * seconds

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            _, _, future, call = job
            if not future.set_running_or_notify_cancel():
                self._finished(None)
                continue
            began = time.monotonic()
            # Counted as finished before the future resolves: whoever awaits it sees the queue as
            # it now is.
            try:
                result = call()
            except BaseException as exc:  # handed to whoever awaits the future
                self._finished(time.monotonic() - began)
                future.set_exception(exc)
            else:
                self._finished(time.monotonic() - began)
                future.set_result(result)
