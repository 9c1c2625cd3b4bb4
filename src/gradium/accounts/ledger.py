"""Metered charges: the ledger half of :class:`gradium.accounts.AccountStore`.

Every credit taken from an organisation is booked on the usage row of the request that took it,
in the same database transaction. So after any crash (``kill -9`` in the middle of 20 streams took
13,103 credits that no usage row explained, when the two were written at different times), for
every organisation::

    allocated_credits == remaining_credits + sum(usage.credits)

:meth:`LedgerMixin.ledger_problems` checks that (``gradium orgs check``). A request's first charge
creates its usage row; later charges and refunds change that row; the request's final counts
(characters, audio seconds) are written onto it when it ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gradium.accounts.db import new_id, organisations, usage
from gradium.accounts.errors import InsufficientCredits, UnknownOrganisation


class LedgerMixin:
    _engine: Engine
    _writer: Engine

    def charge_usage(self, org_id: int, service: str, amount: int, usage_id: int | None = None) -> int:
        """Deduct ``amount`` credits and book them on the request's usage row, all or nothing.

        Returns the usage row's id: pass it to the request's later charges. InsufficientCredits
        (nothing deducted, nothing booked) when fewer than ``amount`` are left.
        """
        if amount < 0:
            raise ValueError(f"amount must not be negative, got {amount}")
        with self._writer.begin() as conn:
            charged = conn.execute(
                sa.update(organisations)
                .where(organisations.c.id == org_id, organisations.c.remaining_credits >= amount)
                .values(remaining_credits=organisations.c.remaining_credits - amount)
                .returning(organisations.c.id)
            ).first()
            if charged is None:
                remaining = conn.scalar(
                    sa.select(organisations.c.remaining_credits).where(organisations.c.id == org_id)
                )
                if remaining is None:
                    raise UnknownOrganisation(f"no organisation {org_id}")
                raise InsufficientCredits(remaining, amount)
            return _book(conn, org_id, service, usage_id, amount)

    def refund_usage(self, org_id: int, usage_id: int, amount: int) -> None:
        """Give back ``amount`` credits of a request (audio it paid for but never received)."""
        if amount <= 0:
            return
        with self._writer.begin() as conn:
            booked = conn.execute(
                sa.update(usage)
                .where(usage.c.id == usage_id, usage.c.org_id == org_id, usage.c.credits >= amount)
                .values(credits=usage.c.credits - amount)
            )
            if booked.rowcount != 1:
                raise ValueError(f"usage row {usage_id} did not book {amount} credits to refund")
            conn.execute(
                sa.update(organisations)
                .where(organisations.c.id == org_id)
                .values(remaining_credits=organisations.c.remaining_credits + amount)
            )

    def finish_usage(
        self, org_id: int, service: str, usage_id: int | None, *, characters: int, audio_seconds: float
    ) -> int:
        """Write a request's final counts on its usage row (created now if it was never charged)."""
        with self._writer.begin() as conn:
            if usage_id is None:
                usage_id = _book(conn, org_id, service, None, 0)
            conn.execute(
                sa.update(usage)
                .where(usage.c.id == usage_id, usage.c.org_id == org_id)
                .values(characters=characters, audio_seconds=float(audio_seconds))
            )
        return usage_id

    def ledger_problems(self) -> list[str]:
        """Organisations whose credits do not add up: allocated != remaining + booked usage."""
        booked = (
            sa.select(usage.c.org_id, sa.func.sum(usage.c.credits).label("spent"))
            .group_by(usage.c.org_id)
            .subquery()
        )
        query = sa.select(
            organisations.c.id,
            organisations.c.name,
            organisations.c.allocated_credits,
            organisations.c.remaining_credits,
            sa.func.coalesce(booked.c.spent, 0),
        ).outerjoin(booked, booked.c.org_id == organisations.c.id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            f"organisation {org_id} ({name}): allocated {allocated} != remaining {remaining} "
            f"+ usage {spent} (off by {allocated - remaining - spent})"
            for org_id, name, allocated, remaining, spent in rows
            if allocated != remaining + spent
        ]


def _book(conn: Connection, org_id: int, service: str, usage_id: int | None, credits: int) -> int:
    """Add ``credits`` to the request's usage row, creating the row for its first charge."""
    if usage_id is None:
        created = conn.execute(
            sa.insert(usage).values(org_id=org_id, service=service, requests=1, credits=credits)
        )
        return new_id(created)
    updated = conn.execute(
        sa.update(usage)
        .where(usage.c.id == usage_id, usage.c.org_id == org_id)
        .values(credits=usage.c.credits + credits)
    )
    if updated.rowcount != 1:
        raise ValueError(f"no usage row {usage_id} for organisation {org_id}")
    return usage_id
