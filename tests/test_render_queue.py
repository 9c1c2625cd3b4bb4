"""The engines' job queue: earliest deadline first, an ordinary Executor otherwise."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gradium.speech.render_queue import DeadlineExecutor


def test_jobs_run_earliest_deadline_first_then_in_submission_order() -> None:
    executor = DeadlineExecutor(1, "test")
    gate = threading.Event()
    order: list[str] = []
    blocker = executor.submit(gate.wait)  # holds the only worker while the others queue up
    futures = [
        executor.submit_due(deadline, order.append, name)
        for deadline, name in [(30.0, "late"), (10.0, "first"), (20.0, "middle"), (10.0, "second")]
    ]
    gate.set()
    assert blocker.result(timeout=10) is True
    for future in futures:
        future.result(timeout=10)
    assert order == ["first", "second", "middle", "late"]
    executor.shutdown()


def test_exceptions_reach_the_caller_and_the_worker_survives() -> None:
    executor = DeadlineExecutor(2, "test")
    with pytest.raises(ZeroDivisionError):
        executor.submit(lambda: 1 / 0).result(timeout=10)
    assert executor.submit(sum, [1, 2, 3]).result(timeout=10) == 6
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(sum, [1])


def test_works_with_run_in_executor_and_cancels_queued_jobs_on_shutdown() -> None:
    executor = DeadlineExecutor(1, "test")

    async def main() -> int:
        return await asyncio.get_running_loop().run_in_executor(executor, max, 3, 7)

    assert asyncio.run(main()) == 7
    gate, started = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait()

    running = executor.submit(hold)
    assert started.wait(10)
    queued = executor.submit(max, 1, 2)
    executor.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert running.result(timeout=10) is True
    assert queued.cancelled()


def test_an_engine_slot_refuses_requests_while_its_queue_is_full() -> None:
    from gradium.engines.espeak import EspeakEngine
    from gradium.server.runtime import EngineSlot

    executor = DeadlineExecutor(1, "test-capacity")
    slot = EngineSlot(EspeakEngine(), executor, max_waiting=2)
    release = threading.Event()
    running = executor.submit(release.wait, 30)
    queued = [executor.submit(lambda: None) for _ in range(3)]
    try:
        message = slot.capacity_error()
        assert message is not None and "at capacity" in message and 'model_name "fast"' in message
    finally:
        release.set()
    running.result(timeout=10)
    for future in queued:
        future.result(timeout=10)
    assert slot.capacity_error() is None
    executor.shutdown()


def test_an_engine_slot_refuses_requests_whose_first_audio_would_miss_the_deadline() -> None:
    import time

    from gradium.engines.espeak import EspeakEngine
    from gradium.server.runtime import EngineSlot

    executor = DeadlineExecutor(1, "test-deadline")
    slot = EngineSlot(EspeakEngine(), executor, first_audio_deadline_s=0.001)
    executor.submit(time.sleep, 0.02).result(timeout=10)  # one job run: the mean job time is known
    assert executor.expected_wait_s() == 0 and slot.capacity_error() is None
    release = threading.Event()
    running = executor.submit(release.wait, 30)
    due_now = [executor.submit(lambda: None) for _ in range(3)]
    due_later = [executor.submit_due(time.monotonic() + 600, lambda: None) for _ in range(5)]
    try:
        # The running job and the three due now are ahead of a new first segment; later ones are not.
        mean = executor.expected_wait_s() / 4
        assert mean >= 0.02
        message = slot.capacity_error()
        assert message is not None and "first audio expected in" in message
    finally:
        release.set()
    for future in [running, *due_now, *due_later]:
        future.result(timeout=10)
    assert slot.capacity_error() is None
    executor.shutdown()
