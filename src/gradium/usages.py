"""Module-level credit helpers, as documented: ``await gradium.usages.get(client)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradium.client.core import GradiumClient


async def get(client: GradiumClient) -> Any:
    """Remaining and allocated credits of the key's organisation."""
    return await client.credits()


async def summary(client: GradiumClient) -> Any:
    """Usage statistics of the key's organisation."""
    return await client.usage_summary()
