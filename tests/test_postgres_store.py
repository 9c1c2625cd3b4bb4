"""The account store on PostgreSQL: the same migrations, and several stores (replicas) at once.

Each ``AccountStore`` here stands for one replica's store: its own engine and connection pool on
the shared database. (tests/test_replicas.py does the same with whole server processes.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gradium.accounts import AccountStore, InsufficientCredits
from gradium.accounts.db import create_engine, metadata
from postgres import Postgres, postgres  # noqa: F401  (the module-scoped fixture)


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(0..count-1)`` on threads released together; results (or exceptions) in order."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # returned, so that the test can count them
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture(scope="module")
def replicas(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AccountStore]]:  # noqa: F811
    stores = [AccountStore(tmp_path_factory.mktemp(f"r{i}"), postgres.url) for i in range(3)]
    # Replicas starting together migrate one at a time (an advisory lock): none fails.
    assert at_once(3, lambda i: stores[i].migrate()) == [None, None, None]
    yield stores
    for store in stores:
        store.close()


def test_the_migrations_build_the_declared_schema_on_postgres(
    replicas: list[AccountStore], postgres: Postgres  # noqa: F811
) -> None:
    engine = create_engine(postgres.url)
    try:
        with engine.connect() as conn:
            assert conn.dialect.name == "postgresql"
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == ["0002"]
    finally:
        engine.dispose()


def test_a_first_start_on_several_replicas_bootstraps_once(replicas: list[AccountStore]) -> None:
    keys = at_once(3, lambda i: replicas[i].bootstrap(1000))
    assert sum(key is not None for key in keys) == 1, keys
    assert len(replicas[0].list_keys()) == 1
    assert [org.name for org in replicas[1].list_organisations()] == ["default"]


def test_concurrent_charges_on_three_replicas_never_spend_twice(replicas: list[AccountStore]) -> None:
    org = replicas[0].create_organisation("race", credits=1000)

    def spend(index: int) -> int:
        paid = 0
        for _ in range(25):
            try:
                replicas[index % 3].charge_usage(org.id, "tts", 7)
                paid += 7
            except InsufficientCredits:
                pass
        return paid

    paid = at_once(12, spend)  # 300 attempts of 7 credits: 142 fit in 1000
    assert sum(paid) == 142 * 7
    assert replicas[2].credits(org.id).remaining == 1000 - 142 * 7
    assert replicas[1].usage_summary(org.id)["total_credits"] == 142 * 7
    assert replicas[0].ledger_problems() == []


def test_an_organisation_name_is_taken_once_across_replicas(replicas: list[AccountStore]) -> None:
    results = at_once(3, lambda i: replicas[i].create_organisation("same-name", credits=5))
    assert sum(not isinstance(result, Exception) for result in results) == 1, results
    assert sum(org.name == "same-name" for org in replicas[0].list_organisations()) == 1


def test_voices_written_by_one_replica_are_read_by_another(replicas: list[AccountStore]) -> None:
    org = replicas[0].create_organisation("voices", credits=0)
    voice = replicas[0].create_voice(org.id, name="Ann", language="en", audio=b"RIFF....", extension="wav")
    assert replicas[1].get_voice(org.id, voice.uid).name == "Ann"
    replicas[2].update_voice(org.id, voice.uid, name="Ann B")
    assert replicas[0].get_voice(org.id, voice.uid).name == "Ann B"
