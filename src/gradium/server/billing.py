"""Charging a request's organisation as it is served, and recording its usage when it ends."""

from __future__ import annotations

import asyncio
import math
from functools import partial

from gradium import metrics
from gradium.accounts.errors import InsufficientCredits
from gradium.accounts.store import AccountStore
from gradium.server.errors import ProtocolError


class RequestMeter:
    """Credits are deducted atomically before each piece of work, so a request that runs out of
    credits is stopped with an error and pays only for what it was given.

    Each deduction is booked on the request's usage row in the same transaction
    (``gradium.accounts.ledger``): a crash can never leave credits gone without their usage.
    """

    def __init__(self, store: AccountStore, org_id: int, service: str) -> None:
        self.store = store
        self.org_id = org_id
        self.service = service
        self.credits = 0
        self.characters = 0
        self.audio_seconds = 0.0
        self.usage_id: int | None = None  # the request's usage row, created by its first charge
        # Charges of one request run one after another: the first creates the row the next update.
        self._lock = asyncio.Lock()

    async def charge(self, amount: int) -> None:
        if amount <= 0:
            return
        async with self._lock:
            try:
                self.usage_id = await asyncio.to_thread(
                    self.store.charge_usage, self.org_id, self.service, amount, self.usage_id
                )
            except InsufficientCredits as exc:
                raise ProtocolError(
                    f"insufficient credits: {amount} needed, {exc.remaining} remaining", code=1008
                ) from None
            self.credits += amount
            metrics.CREDITS_CHARGED.labels(self.service).inc(amount)

    async def refund(self, amount: int) -> None:
        """Give back credits for work the client never received (an HTTP response never sent)."""
        amount = min(amount, self.credits)
        if amount <= 0 or self.usage_id is None:
            return
        async with self._lock:
            await asyncio.to_thread(self.store.refund_usage, self.org_id, self.usage_id, amount)
            self.credits -= amount
            metrics.CREDITS_REFUNDED.labels(self.service).inc(amount)

    async def record(self) -> None:
        """The request's final counts, on its usage row (every request gets one, charged or not)."""
        async with self._lock:
            self.usage_id = await asyncio.to_thread(
                partial(
                    self.store.finish_usage,
                    self.org_id,
                    self.service,
                    self.usage_id,
                    characters=self.characters,
                    audio_seconds=round(self.audio_seconds, 3),
                )
            )


class AudioSecondsBilling:
    """Input audio (STT, speech-to-speech) billed in whole seconds as it arrives; the last partial
    second is rounded up when the input ends."""

    def __init__(self, meter: RequestMeter, credits_per_second: float) -> None:
        self.meter = meter
        self.credits_per_second = credits_per_second
        self.charged = 0  # credits this billing has taken (the meter may also hold others)

    async def until(self, seconds: float, *, final: bool = False) -> None:
        self.meter.audio_seconds = max(self.meter.audio_seconds, seconds)
        due = self.credits_per_second * self.meter.audio_seconds
        owed = math.ceil(due - 1e-9) if final else math.floor(due)
        if owed > self.charged:
            await self.meter.charge(owed - self.charged)
            self.charged = owed
