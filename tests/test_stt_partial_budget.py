"""The STT worker's budget for partial passes: interim words yield to real time under load."""

from __future__ import annotations

from gradium.workers.stt_worker import PartialBudget


def test_a_busy_worker_runs_no_partial_pass() -> None:
    budget = PartialBudget(0.5)
    assert budget.gate(busy=False)(False)
    assert not budget.gate(busy=True)(True)  # even an utterance's first waits for the queue


def test_spent_cpu_holds_later_partials_until_refilled() -> None:
    budget = PartialBudget(1.0)
    budget.spend(5.0)  # far more than the 0.5 s burst: in debt for about 4.5 s
    gate = budget.gate(busy=False)
    assert not gate(False) and not gate.granted
    assert budget.gate(busy=False)(True)  # an utterance's first partial still runs
    budget.updated -= 10.0  # as if 10 s had passed: refilled at 1 CPU second per second
    assert budget.gate(busy=False)(False)
