"""Charging a request's organisation as it is served, and recording its usage when it ends."""

from __future__ import annotations

import asyncio

from gradium.accounts.errors import InsufficientCredits
from gradium.accounts.store import AccountStore
from gradium.server.errors import ProtocolError


class RequestMeter:
    """Credits are deducted atomically before each piece of work, so a request that runs out of
    credits is stopped with an error and pays only for what it was given."""

    def __init__(self, store: AccountStore, org_id: int, service: str) -> None:
        self.store = store
        self.org_id = org_id
        self.service = service
        self.credits = 0
        self.characters = 0
        self.audio_seconds = 0.0

    async def charge(self, amount: int) -> None:
        if amount <= 0:
            return
        try:
            await asyncio.to_thread(self.store.charge, self.org_id, amount)
        except InsufficientCredits as exc:
            raise ProtocolError(
                f"insufficient credits: {amount} needed, {exc.remaining} remaining", code=1008
            ) from None
        self.credits += amount

    async def record(self) -> None:
        await asyncio.to_thread(
            self.store.record_usage,
            self.org_id,
            self.service,
            characters=self.characters,
            audio_seconds=round(self.audio_seconds, 3),
            credits=self.credits,
        )
